"""
OneMinResultTrigger on its own: what it serialises, every event it can send and how the worker
reads each one back, and the deferred wait against the emulator, including a triggerer restart
in the middle of a poll (re-polls, never re-submits: the charge counter stays at 1).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest

from airflow_provider_onemin.exceptions import (
    OneMinAuthenticationError,
    OneMinConfigurationError,
    OneMinError,
    OneMinGenerationFailedError,
    OneMinMalformedResponseError,
    OneMinOutOfCreditsError,
    OneMinRequestRejectedError,
    OneMinTimeoutError,
    OneMinUnsafeContentError,
)
from airflow_provider_onemin.triggers.background_replacer import OneMinResultTrigger, record_from_event

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat

CLASSPATH = "airflow_provider_onemin.triggers.background_replacer.OneMinResultTrigger"
UUID = "0b7e4a8e-2f4c-4a55-9d1e-6f1f3c9f0a11"
BODY = {
    "type": "BACKGROUND_REPLACER",
    "model": "ideogram-3",
    "async": True,
    "promptObject": {"prompt": "a beach at dawn", "imageUrl": "development/images/mug.png", "num_images": 1},
}


def _rebuild(trigger: OneMinResultTrigger) -> OneMinResultTrigger:
    """What the triggerer does after a restart: import the class path, call it with the kwargs."""
    import importlib

    from tests.support.airflow_helpers import serde

    serialize, deserialize = serde()
    classpath, kwargs = trigger.serialize()
    # The trigger row stores the kwargs through serde; go through it as the triggerer does.
    kwargs = deserialize(serialize(kwargs))
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


async def _first_event(trigger: OneMinResultTrigger, timeout: float = 30) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(first(), timeout)


def _run(trigger: OneMinResultTrigger, timeout: float = 30) -> dict[str, Any]:
    payload = asyncio.run(_first_event(trigger, timeout))
    # The payload goes through the trigger table / next_kwargs: it must be plain JSON.
    assert json.loads(json.dumps(payload)) == payload
    return payload


def _submit() -> str:
    """A paid async submission to the emulator (one charge); return its uuid."""
    from airflow_provider_onemin.hooks.onemin import OneMinHook

    return OneMinHook().run_feature(dict(BODY))["uuid"]


# --- serialisation ------------------------------------------------------------------------------


def test_serialize_round_trip_keeps_only_uuid_conn_and_poll_settings():
    trigger = OneMinResultTrigger(UUID, onemin_conn_id="onemin_prod", poll_interval=2, timeout=90)
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert set(kwargs) == {
        "uuid",
        "onemin_conn_id",
        "poll_interval",
        "timeout",
        "deadline",
        "min_defer_time",
        "not_before",
    }
    assert json.loads(json.dumps(kwargs)) == kwargs

    again = _rebuild(trigger)
    assert again.serialize() == (classpath, kwargs)
    # The deadline is absolute: rebuilding (a triggerer restart) does not extend the wait.
    assert again.deadline == trigger.deadline
    assert trigger.deadline == pytest.approx(time.time() + 90, abs=5)


def test_serialized_trigger_carries_no_api_key(onemin_conn_env, onemin_emulator):
    trigger = OneMinResultTrigger(UUID)
    assert onemin_emulator.api_key not in json.dumps(trigger.serialize())


# --- events -> the worker ------------------------------------------------------------------------


def _record(status: str) -> dict[str, Any]:
    return {"uuid": UUID, "status": status, "aiRecordDetail": {"resultObject": ["development/images/r.png"]}}


def test_success_event_gives_the_record():
    record = _record("SUCCESS")
    assert record_from_event({"status": "success", "uuid": UUID, "record": record}) == record


@pytest.mark.parametrize("status", ["FAILURE", "FAILED", "ERROR"])
def test_failure_event_raises_final_generation_failed(status):
    with pytest.raises(OneMinGenerationFailedError, match=UUID) as caught:
        record_from_event({"status": "failure", "uuid": UUID, "record": _record(status)})
    assert caught.value.final


def test_timeout_event_raises_a_retryable_timeout():
    with pytest.raises(OneMinTimeoutError, match="without paying again") as caught:
        record_from_event({"status": "timeout", "uuid": UUID, "message": "did not finish within 5 s."})
    assert not caught.value.final
    assert caught.value.uuid == UUID


@pytest.mark.parametrize(
    ("name", "expected", "final"),
    [
        ("OneMinAuthenticationError", OneMinAuthenticationError, True),
        ("OneMinConfigurationError", OneMinConfigurationError, True),
        ("OneMinRequestRejectedError", OneMinRequestRejectedError, True),
        ("OneMinUnsafeContentError", OneMinUnsafeContentError, True),
        ("OneMinOutOfCreditsError", OneMinOutOfCreditsError, True),
        ("OneMinMalformedResponseError", OneMinMalformedResponseError, False),
        ("OneMinError", OneMinError, False),
        ("SomethingFromANewerVersion", OneMinError, False),
    ],
)
def test_error_event_raises_the_named_class(name, expected, final):
    event = {"status": "error", "uuid": UUID, "error": name, "message": "why", "status_code": 401}
    with pytest.raises(OneMinError, match="why") as caught:
        record_from_event(event)
    assert type(caught.value) is expected
    assert caught.value.final is final


@pytest.mark.parametrize("event", [{}, {"status": "success"}, {"status": "banana", "uuid": UUID}])
def test_unexpected_event_raises_a_retryable_error(event):
    with pytest.raises(OneMinMalformedResponseError) as caught:
        record_from_event(event)
    assert not caught.value.final


# --- the wait, against the emulator --------------------------------------------------------------


def test_polls_until_success(onemin_conn_env, onemin_emulator):
    onemin_emulator.set_latency(0.5)
    uuid = _submit()
    event = _run(OneMinResultTrigger(uuid, poll_interval=0.1, timeout=30))
    assert event["status"] == "success"
    assert event["record"]["uuid"] == uuid
    assert event["record"]["aiRecordDetail"]["resultObject"]
    assert record_from_event(event) == event["record"]
    assert onemin_emulator.charges() == 1


def test_failed_generation_gives_failure_event(onemin_conn_env, onemin_emulator):
    uuid = _submit()
    onemin_emulator.add_fault("failure", endpoint="results")
    event = _run(OneMinResultTrigger(uuid, poll_interval=0.05))
    assert event["status"] == "failure"
    with pytest.raises(OneMinGenerationFailedError, match="FAILURE"):
        record_from_event(event)


def _set_extra(monkeypatch, **extra: Any) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_ONEMIN_DEFAULT"])
    conn["extra"].update(extra)
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))


def _queue_five_transient_poll_failures(emulator) -> None:
    emulator.add_fault("status", count=2, endpoint="results", code=503)
    emulator.add_fault("status", endpoint="results", code=429, retry_after=0)
    emulator.add_fault("truncated_json", endpoint="results")
    emulator.add_fault("reset_before_charge", endpoint="results")


def test_transient_errors_are_retried_within_max_attempts(onemin_conn_env, onemin_emulator, monkeypatch):
    """Five failures of one poll in a row, then an answer: the sixth attempt is allowed."""
    _set_extra(monkeypatch, max_attempts=6)
    uuid = _submit()
    _queue_five_transient_poll_failures(onemin_emulator)
    event = _run(OneMinResultTrigger(uuid, poll_interval=0.05))
    assert event["status"] == "success"
    assert onemin_emulator.faults == []
    assert onemin_emulator.charges() == 1


def test_a_poll_that_uses_up_max_attempts_ends_with_a_retryable_error(
    onemin_conn_env, onemin_emulator, monkeypatch
):
    """The same policy as the worker's: max_attempts bounds one poll; an Airflow retry resumes."""
    _set_extra(monkeypatch, max_attempts=5)
    uuid = _submit()
    _queue_five_transient_poll_failures(onemin_emulator)
    event = _run(OneMinResultTrigger(uuid, poll_interval=0.05))
    assert event["status"] == "error"
    assert "gave up after 5 attempts" in event["message"]
    with pytest.raises(OneMinError) as caught:
        record_from_event(event)
    assert not caught.value.final
    assert onemin_emulator.charges() == 1


def test_refused_key_ends_with_final_authentication_error(onemin_conn_env, onemin_emulator):
    uuid = _submit()
    sent_key = onemin_emulator.api_key  # what the connection holds and the trigger sends
    onemin_emulator.set_api_key("another-key")
    onemin_emulator.set_echo_key(True)  # the 401's message repeats the key it was sent
    event = _run(OneMinResultTrigger(uuid, poll_interval=0.05))
    assert event["status"] == "error"
    assert event["error"] == "OneMinAuthenticationError"
    assert event["status_code"] == 401
    assert "Invalid API key (API-KEY ***)" in event["message"], "the echo reached the message, blanked"
    assert sent_key not in json.dumps(event)
    with pytest.raises(OneMinAuthenticationError) as caught:
        record_from_event(event)
    assert caught.value.final


def test_a_record_that_echoes_the_key_reaches_the_event_blanked(onemin_conn_env, onemin_emulator):
    """Failed before: the trigger put the record in the event as 1min.ai sent it."""
    uuid = _submit()
    onemin_emulator.set_echo_key(True)
    event = _run(OneMinResultTrigger(uuid, poll_interval=0.05))
    assert event["status"] == "success"
    assert event["record"]["teamUser"] == {"apiKey": "***"}
    assert onemin_emulator.api_key not in json.dumps(event)


def test_missing_connection_ends_with_configuration_error(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_ONEMIN_NOWHERE", raising=False)
    event = _run(OneMinResultTrigger(UUID, onemin_conn_id="onemin_nowhere"))
    assert event["status"] == "error"
    assert event["error"] == "OneMinConfigurationError"
    assert "onemin_nowhere" in event["message"]


def test_vanished_record_ends_with_retryable_malformed_error(onemin_conn_env, onemin_emulator):
    event = _run(OneMinResultTrigger(UUID, poll_interval=0.01))
    assert event["status"] == "error"
    assert event["error"] == "OneMinRecordMissingError"
    with pytest.raises(OneMinMalformedResponseError, match="no record") as caught:
        record_from_event(event)
    assert not caught.value.final and caught.value.uuid == UUID


def test_deadline_gives_timeout_event(onemin_conn_env, onemin_emulator):
    onemin_emulator.set_latency(30)
    uuid = _submit()
    started = time.monotonic()
    event = _run(OneMinResultTrigger(uuid, poll_interval=0.1, timeout=0.5))
    assert time.monotonic() - started < 5
    assert event["status"] == "timeout"
    with pytest.raises(OneMinTimeoutError):
        record_from_event(event)


def test_restart_mid_poll_re_polls_and_never_re_submits(onemin_conn_env, onemin_emulator):
    """Cancel the trigger in the middle of a poll, rebuild it from serialize() and run it again."""
    onemin_emulator.set_latency(1.5)
    uuid = _submit()
    assert onemin_emulator.charges() == 1
    # The first poll hangs in the emulator, so the cancellation lands in the middle of a request.
    onemin_emulator.add_fault("delay", endpoint="results", seconds=5)
    trigger = OneMinResultTrigger(uuid, poll_interval=0.1, timeout=60)

    async def run_then_cancel() -> None:
        task = asyncio.ensure_future(_first_event(trigger))
        await asyncio.sleep(0.5)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_then_cancel())
    assert onemin_emulator.faults == []  # the cancelled poll had taken it
    restarted = _rebuild(trigger)
    assert restarted.deadline == trigger.deadline
    event = _run(restarted)
    assert event["status"] == "success"
    assert event["record"]["uuid"] == uuid
    assert onemin_emulator.charges() == 1
    assert len(onemin_emulator.records) == 1


def test_tls_context_is_built_once_per_setting_and_honours_it():
    """Every trigger starting in the triggerer shares one context instead of loading CAs again."""
    import ssl

    import certifi

    from airflow_provider_onemin.hooks.base import tls_context as _tls_context

    assert _tls_context(None, True, True) is _tls_context(None, True, True)
    assert _tls_context(None, True, True).verify_mode == ssl.CERT_REQUIRED
    assert _tls_context(None, False, True).verify_mode == ssl.CERT_NONE
    custom = _tls_context(certifi.where(), True, False)
    assert custom.verify_mode == ssl.CERT_REQUIRED and custom is not _tls_context(None, True, False)


def test_unknown_status_keeps_the_trigger_polling(httpserver, monkeypatch):
    """Failed before the fix: an unknown status was a failure event (and the record was cleared)."""
    conn = {"conn_type": "onemin", "host": httpserver.url_for("").rstrip("/"), "password": "k-unknown-status"}
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    for status in ("QUEUED_FOR_MODERATION", "QUEUED_FOR_MODERATION", "SUCCESS"):
        record = {**_record(status), "model": "ideogram-3", "type": "BACKGROUND_REPLACER"}
        httpserver.expect_ordered_request(f"/api/results/{UUID}").respond_with_json({"aiRecord": record})
    event = _run(OneMinResultTrigger(UUID, poll_interval=0.01))
    assert event["status"] == "success"
    httpserver.check_assertions()
