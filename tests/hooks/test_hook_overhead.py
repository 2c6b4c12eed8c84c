"""
The hook's own cost per call: a request that succeeds at once goes through neither tenacity's
retry loop nor jsonschema's interpreter (together most of what the hook cost over a bare
``requests`` pair, see benchmarks/README.md). A request that fails first is retried exactly as
before: the attempt already made counts as the first, and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_provider_onemin.exceptions import OneMinServerError
from airflow_provider_onemin.hooks.onemin import OneMinAsyncHook, OneMinHook

BODY = {
    "type": "BACKGROUND_REPLACER",
    "model": "ideogram-3",
    "async": True,
    "promptObject": {"prompt": "a beach at dawn", "imageUrl": "development/images/mug.png", "num_images": 1},
}


@pytest.fixture
def no_retry_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request that succeeded at once went through tenacity")

    monkeypatch.setattr("tenacity.Retrying", refuse)
    monkeypatch.setattr("tenacity.AsyncRetrying", refuse)


def test_a_request_that_succeeds_at_once_skips_the_retry_loop(
    onemin_conn_env, onemin_emulator, no_retry_loop
):
    hook = OneMinHook()
    record = hook.run_feature(dict(BODY))
    assert hook.get_result(record["uuid"])["status"] == "SUCCESS"

    async def poll() -> dict:
        async with OneMinAsyncHook() as async_hook:
            return await async_hook.get_result(record["uuid"])

    assert asyncio.run(poll())["status"] == "SUCCESS"
    assert onemin_emulator.charges() == 1


def _use_max_attempts(monkeypatch: pytest.MonkeyPatch, url: str, key: str, attempts: int) -> None:
    extra = {"backoff_initial": 0.01, "backoff_max": 0.02, "max_retry_wait": 2, "max_attempts": attempts}
    connection = {"conn_type": "onemin", "host": url, "password": key, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(connection))


def test_the_first_failure_counts_as_attempt_one(onemin_emulator, monkeypatch, capsys):
    _use_max_attempts(monkeypatch, onemin_emulator.url, onemin_emulator.api_key, 5)
    uuid = OneMinHook().run_feature(dict(BODY))["uuid"]
    onemin_emulator.add_fault("status", count=1, endpoint="results", code=503)
    assert OneMinHook().get_result(uuid)["status"] == "SUCCESS"
    assert onemin_emulator.faults == []
    # Airflow's task logger writes to stdout, where Airflow sends it.
    assert "attempt 1 of 5 failed" in capsys.readouterr().out


@pytest.mark.parametrize("face", ["sync", "async"])
def test_no_attempt_is_sent_twice_or_left_out(onemin_emulator, monkeypatch, face):
    # Two 503s and max_attempts=2: exactly two requests are sent, and the call gives up after the
    # second. A replayed first attempt that sent again would have met the success behind them.
    _use_max_attempts(monkeypatch, onemin_emulator.url, onemin_emulator.api_key, 2)
    uuid = OneMinHook().run_feature(dict(BODY))["uuid"]
    onemin_emulator.add_fault("status", count=2, endpoint="results", code=503)

    def sync_poll() -> None:
        OneMinHook().get_result(uuid)

    async def async_poll() -> None:
        async with OneMinAsyncHook() as hook:
            await hook.get_result(uuid)

    with pytest.raises(OneMinServerError, match="gave up after 2 attempts"):
        sync_poll() if face == "sync" else asyncio.run(async_poll())
    assert onemin_emulator.faults == []
