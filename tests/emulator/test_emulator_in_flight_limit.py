"""
The emulator's account limit of generations in flight (``max_in_flight``): a submission above it
is answered 429 and charged nothing, as a rate-limited account is; a slot frees when a render ends.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest
import requests
from emulator_helpers import feature_body

from airflow_provider_onemin.emulator.server import EmulatorServer

if TYPE_CHECKING:
    from pathlib import Path

#: Long enough that nothing finishes rendering while a test looks at it.
LONG_RENDER = 600.0


def _post(url: str, key: str, **fields: object) -> requests.Response:
    return requests.post(
        f"{url}/api/features", json=feature_body(**fields), headers={"API-KEY": key}, timeout=30
    )


def _wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_above_the_limit_answers_429_and_charges_nothing(emu: EmulatorServer) -> None:
    emu.set_latency(LONG_RENDER)
    emu.set_max_in_flight(2)
    key = emu.api_key or ""
    accepted = [_post(emu.url, key, async_=True) for _ in range(2)]
    refused = _post(emu.url, key, async_=True)

    assert [a.status_code for a in accepted] == [200, 200]
    assert refused.status_code == 429
    assert refused.json()["errorCode"] == "RATE_LIMIT_EXCEEDED"
    assert "2 generation(s) in progress" in refused.json()["message"]
    assert "retry-after" not in refused.headers
    assert emu.charges() == 2
    assert len(emu.records) == 2
    state = emu.snapshot()
    assert state["rate_limited"]["total"] == 1
    assert state["config"]["max_in_flight"] == 2


def test_a_finished_render_frees_its_slot(emu: EmulatorServer) -> None:
    emu.set_max_in_flight(1)
    key = emu.api_key or ""
    emu.set_latency(0.3)
    first = _post(emu.url, key, async_=True).json()["aiRecord"]["uuid"]
    emu.set_latency(LONG_RENDER)
    assert _post(emu.url, key, async_=True).status_code == 429

    def finished() -> bool:
        answer = requests.get(f"{emu.url}/api/results/{first}", headers={"API-KEY": key}, timeout=10)
        return answer.json()["aiRecord"]["status"] == "SUCCESS"

    _wait_until(finished, "the first render to finish")
    assert _post(emu.url, key, async_=True).status_code == 200
    assert emu.charges() == 2


def test_a_blocking_submission_is_in_flight_while_it_renders(emu: EmulatorServer) -> None:
    emu.set_latency(2.0)
    emu.set_max_in_flight(1)
    key = emu.api_key or ""
    answers: list[requests.Response] = []
    blocking = threading.Thread(target=lambda: answers.append(_post(emu.url, key)))
    blocking.start()
    try:
        _wait_until(lambda: len(emu.records) == 1, "the blocking submission to be accepted")
        refused = _post(emu.url, key, async_=True)
    finally:
        blocking.join(30)
    assert refused.status_code == 429
    assert answers[0].status_code == 200
    assert answers[0].json()["aiRecord"]["status"] == "SUCCESS"
    assert emu.charges() == 1


def test_the_limit_is_per_account() -> None:
    with EmulatorServer(api_key=None, latency=LONG_RENDER, max_in_flight=1) as server:
        assert _post(server.url, "account-a", async_=True).status_code == 200
        assert _post(server.url, "account-a", async_=True).status_code == 429
        assert _post(server.url, "account-b", async_=True).status_code == 200
        assert server.charges("account-a") == 1
        assert server.charges("account-b") == 1


def test_no_limit_by_default_and_reset_restores_the_startup_limit(emu: EmulatorServer) -> None:
    emu.set_latency(LONG_RENDER)
    key = emu.api_key or ""
    assert all(_post(emu.url, key, async_=True).status_code == 200 for _ in range(5))
    emu.set_max_in_flight(1)
    emu.reset(config=True)
    assert emu.snapshot()["config"]["max_in_flight"] is None
    assert emu.snapshot()["rate_limited"]["total"] == 0


def test_control_endpoint_sets_and_refuses_the_limit(emu: EmulatorServer) -> None:
    answer = requests.post(f"{emu.url}/_emulator/config", json={"max_in_flight": 3}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["max_in_flight"] == 3
    for bad in (0, -1, 1.5, "2", True):
        answer = requests.post(f"{emu.url}/_emulator/config", json={"max_in_flight": bad}, timeout=10)
        assert answer.status_code == 400, bad
        assert "max_in_flight" in answer.json()["error"]
    assert requests.post(f"{emu.url}/_emulator/config", json={"max_in_flight": None}, timeout=10).ok
    assert emu.snapshot()["config"]["max_in_flight"] is None


def test_hook_gives_up_with_a_rate_limit_error_and_pays_nothing(
    onemin_conn_env: str, onemin_emulator: EmulatorServer
) -> None:
    from airflow_provider_onemin.exceptions import OneMinRateLimitError
    from airflow_provider_onemin.hooks.onemin import OneMinHook

    onemin_emulator.set_latency(LONG_RENDER)
    onemin_emulator.set_max_in_flight(1)
    hook = OneMinHook()
    hook.run_feature({**feature_body(), "async": True})
    with pytest.raises(OneMinRateLimitError) as caught:
        hook.run_feature({**feature_body(prompt="another scene"), "async": True})
    assert "429" in str(caught.value)
    assert onemin_emulator.charges() == 1
    # The submission is retried (free: a 429 is refused before processing), up to max_attempts.
    assert onemin_emulator.rate_limited() == hook.settings.max_attempts


def test_command_line_option(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_onemin.emulator",
            "--port",
            "0",
            "--latency",
            str(LONG_RENDER),
            "--max-in-flight",
            "1",
            "--url-file",
            str(url_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until(lambda: url_file.exists() or process.poll() is not None, "the emulator to start")
        url = url_file.read_text().strip()
        assert requests.get(f"{url}/_emulator/state", timeout=10).json()["config"]["max_in_flight"] == 1
        assert _post(url, "k", async_=True).status_code == 200
        assert _post(url, "k", async_=True).status_code == 429
    finally:
        process.terminate()
        process.wait(30)
    refused = subprocess.run(
        [sys.executable, "-m", "airflow_provider_onemin.emulator", "--max-in-flight", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--max-in-flight" in refused.stderr
