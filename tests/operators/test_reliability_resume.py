"""
The rule for paying again, through ``execute`` with the real submission ledger, case by case:

* an intent without a uuid blocks, whatever this try's request is (unknown outcome);
* an earlier generation not known to have ended is polled to its end first (with the same
  patience as any poll); only then, and only if it failed or the request changed, is the new
  request paid for;
* an unknown status is "still running": it never clears the record nor pays again.

The HTTP side is real (pytest-httpserver on loopback, answers scripted per call). The task state
store is a dict with the ``get``/``set(retention=)``/``delete`` surface of Airflow's (it only
exists inside a running task; the real one runs in test_reliability_dag_runs.py).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from pytest_httpserver.httpserver import URIPattern
from werkzeug import Request, Response

from airflow_provider_onemin.exceptions import (
    OneMinRequestRejectedError,
    OneMinSubmissionStoreError,
    OneMinTimeoutError,
    OneMinUnknownOutcomeError,
)
from airflow_provider_onemin.operators.background_replacer import (
    STATE_KEY,
    BackgroundReplacerOperator,
    request_hash,
)
from airflow_provider_onemin.submissions.ledger import SubmissionLedger
from airflow_provider_onemin.submissions.stores import TaskStateStore

UUID = "7d3f2c1e-0a9b-4c8d-8e7f-6a5b4c3d2e1f"
NEW_UUID = "11111111-2222-4333-8444-555555555555"
SENT_AT = "2026-04-15T10:30:00+00:00"


class FakeTaskStateStore:
    """The surface of ``context["task_state_store"]``: JSON values by key."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = json.loads(json.dumps(data or {}))

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.data[key])) if key in self.data else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.data[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


class FakeTI:
    dag_id, run_id, task_id, map_index, try_number = "d", "r", "replace", -1, 2

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def _answer(uuid: str, status: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "uuid": uuid,
        "model": "ideogram-3",
        "type": "BACKGROUND_REPLACER",
        "status": status,
    }
    if status == "SUCCESS":
        record["aiRecordDetail"] = {"resultObject": [f"development/images/{uuid}.png"]}
    return {"aiRecord": record}


class AnyURI(URIPattern):
    def match(self, uri: str) -> bool:
        return True


class Script:
    """Scripted answers per call, in order (the last one repeats); every call is logged."""

    def __init__(self, server) -> None:
        self.answers: dict[str, list[Any]] = {}
        self.calls: list[str] = []
        self.before: Any = None
        server.expect_request(AnyURI()).respond_with_handler(self)

    def on(self, method: str, path: str, *answers: Any) -> None:
        self.answers[f"{method} {path}"] = list(answers)

    def __call__(self, request: Request) -> Response:
        key = f"{request.method} {request.path}"
        self.calls.append(key)
        if self.before is not None:
            self.before(request)
        queue = self.answers.get(key) or [({"error": "unscripted"}, 500)]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        body, status = answer if isinstance(answer, tuple) else (answer, 200)
        if isinstance(body, str):
            return Response(body, status=status, content_type="text/html")
        return Response(json.dumps(body), status=status, content_type="application/json")


@pytest.fixture
def api(httpserver, monkeypatch):
    conn = {
        "conn_type": "onemin",
        "host": httpserver.url_for("").rstrip("/"),
        "password": "resume-test-key-0042",
        "extra": {"backoff_initial": 0.01, "max_retry_wait": 1, "poll_interval": 0.01, "poll_timeout": 2},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    return Script(httpserver)


def _operator(seed: int = 7, **kwargs: Any) -> BackgroundReplacerOperator:
    return BackgroundReplacerOperator(
        task_id="replace", prompt="a beach", image_url="development/images/mug.png", seed=seed, **kwargs
    )


def _hash(op: BackgroundReplacerOperator) -> str:
    return request_hash(op.model, op.validate_request()["promptObject"])


def _execute(op: BackgroundReplacerOperator, store: FakeTaskStateStore) -> tuple[list[str], FakeTI]:
    ti = FakeTI()
    return op.execute({"task_state_store": store, "ti": ti}), ti  # type: ignore[arg-type]


def _earlier(op: BackgroundReplacerOperator, uuid: str | None, **more: Any) -> FakeTaskStateStore:
    record = {"request_hash": _hash(op), "uuid": uuid, "submitted_at": SENT_AT, "try_number": 1, **more}
    return FakeTaskStateStore({STATE_KEY: record})


POLL_OLD, POLL_NEW, POST = f"GET /api/results/{UUID}", f"GET /api/results/{NEW_UUID}", "POST /api/features"


# --- an intent without a uuid --------------------------------------------------------------------


@pytest.mark.parametrize("seed_now", [7, 8], ids=["same request", "request rendered differently"])
def test_intent_without_uuid_blocks_whatever_the_request(api, seed_now):
    """Failed before the fix for a changed request (a random seed): it was submitted again."""
    store = _earlier(_operator(seed=7), None)
    with pytest.raises(OneMinUnknownOutcomeError) as caught:
        _execute(_operator(seed=seed_now), store)
    message = str(caught.value)
    assert f"sent a paid request at {SENT_AT}" in message
    assert "state-store/onemin_submission" in message and "retry_unknown_outcome" in message
    assert caught.value.sent_at == SENT_AT
    assert api.calls == [], "nothing is sent"
    assert store.data[STATE_KEY]["uuid"] is None, "the intent stays for the next try"


def test_intent_without_uuid_is_sent_again_only_when_opted_in(api, monkeypatch):
    conn = json.loads(os.environ["AIRFLOW_CONN_ONEMIN_DEFAULT"])
    conn["extra"]["retry_unknown_outcome"] = True
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    store = _earlier(_operator(seed=7), None)
    api.on("POST", "/api/features", _answer(NEW_UUID, "SUCCESS"))
    results, _ = _execute(_operator(seed=8), store)
    assert results == [f"development/images/{NEW_UUID}.png"]
    assert api.calls == [POST]


# --- an earlier generation not known to have ended -------------------------------------------------


def test_same_request_resumes_the_earlier_generation_without_paying(api):
    op = _operator()
    api.on("GET", f"/api/results/{UUID}", _answer(UUID, "PROCESSING"), _answer(UUID, "SUCCESS"))
    results, ti = _execute(op, _earlier(op, UUID))
    assert results == [f"development/images/{UUID}.png"] and ti.xcom["ai_record_uuid"] == UUID
    assert POST not in api.calls


def _log(capfd) -> str:
    out, err = capfd.readouterr()
    return out + err


def test_changed_request_waits_for_the_pending_earlier_generation_then_pays(api, capfd):
    """Failed before the fix: the new request was paid for while the earlier one still ran."""
    store = _earlier(_operator(seed=7), UUID)
    api.on("GET", f"/api/results/{UUID}", _answer(UUID, "PROCESSING"), _answer(UUID, "SUCCESS"))
    api.on("POST", "/api/features", _answer(NEW_UUID, "PROCESSING"))
    api.on("GET", f"/api/results/{NEW_UUID}", _answer(NEW_UUID, "SUCCESS"))
    results, _ = _execute(_operator(seed=8), store)
    assert api.calls == [POLL_OLD, POLL_OLD, POST, POLL_NEW]
    assert results == [f"development/images/{NEW_UUID}.png"]
    assert f"The request changed since generation {UUID} was submitted at {SENT_AT}" in _log(capfd)
    assert store.data[STATE_KEY]["uuid"] == NEW_UUID


def test_earlier_generation_that_failed_lets_the_request_be_paid_again(api):
    op = _operator()
    api.on("GET", f"/api/results/{UUID}", _answer(UUID, "FAILED"))
    api.on("POST", "/api/features", _answer(NEW_UUID, "SUCCESS"))
    results, _ = _execute(op, _earlier(op, UUID))
    assert api.calls == [POLL_OLD, POST]
    assert results == [f"development/images/{NEW_UUID}.png"]


def test_recorded_outcome_spares_the_poll(api):
    """After this task saw its generation succeed, a changed request is paid for at once."""
    store = _earlier(_operator(seed=7), UUID, outcome="succeeded")
    api.on("POST", "/api/features", _answer(NEW_UUID, "SUCCESS"))
    _execute(_operator(seed=8), store)
    assert api.calls == [POST]
    assert store.data[STATE_KEY] == {**store.data[STATE_KEY], "uuid": NEW_UUID, "outcome": "succeeded"}


def test_a_success_is_recorded_so_a_clear_with_the_same_request_reuses_it(api):
    op = _operator()
    store = FakeTaskStateStore()
    api.on("POST", "/api/features", _answer(UUID, "PROCESSING"))
    api.on("GET", f"/api/results/{UUID}", _answer(UUID, "SUCCESS"))
    first, _ = _execute(op, store)
    assert store.data[STATE_KEY]["outcome"] == "succeeded"
    again, _ = _execute(_operator(), store)
    assert again == first
    assert api.calls.count(POST) == 1


# --- only known words end a generation -----------------------------------------------------------


@pytest.mark.parametrize("seed_now", [7, 8], ids=["same request", "changed request"])
def test_unknown_status_is_still_running_never_a_reason_to_pay_again(api, capfd, seed_now):
    """Failed before the fix: an unknown status was a failure, which cleared the record and paid again."""
    store = _earlier(_operator(seed=7), UUID)
    api.on("GET", f"/api/results/{UUID}", _answer(UUID, "MODERATION_HOLD"))
    with pytest.raises(OneMinTimeoutError):
        _execute(_operator(seed=seed_now, poll_timeout=0.3), store)
    assert POST not in api.calls
    assert store.data[STATE_KEY]["uuid"] == UUID and "outcome" not in store.data[STATE_KEY]
    assert _log(capfd).count("unknown status 'MODERATION_HOLD'") == 1, "logged once"


# --- resuming is as patient as polling ----------------------------------------------------------


def test_resumed_try_rides_out_a_stale_null_and_a_5xx_like_any_poll(api):
    """Failed before the fix: the first aiRecord: null of a resumed try ended it (unknown outcome)."""
    op = _operator()
    api.on(
        "GET",
        f"/api/results/{UUID}",
        {"aiRecord": None},
        ("<html><title>502 Bad Gateway</title></html>", 502),
        _answer(UUID, "PROCESSING"),
        _answer(UUID, "SUCCESS"),
    )
    results, _ = _execute(op, _earlier(op, UUID))
    assert results == [f"development/images/{UUID}.png"]
    assert POST not in api.calls


def test_earlier_generation_that_vanished_is_an_unknown_outcome_naming_it(api):
    op = _operator()
    store = _earlier(op, UUID)
    api.on("GET", f"/api/results/{UUID}", {"aiRecord": None})
    with pytest.raises(OneMinUnknownOutcomeError, match=UUID) as caught:
        _execute(op, store)
    assert caught.value.uuid == UUID
    assert POST not in api.calls
    assert store.data[STATE_KEY]["uuid"] == UUID


# --- around the paid request --------------------------------------------------------------------


def _ledger(op: BackgroundReplacerOperator, store: FakeTaskStateStore | None) -> SubmissionLedger:
    return SubmissionLedger(None if store is None else TaskStateStore(store), _hash(op), log=op.log)


def test_intent_is_saved_before_the_post_and_the_uuid_after(api, httpserver):
    op = _operator()
    store = FakeTaskStateStore()
    seen_at_post: list[Any] = []
    api.before = lambda request: seen_at_post.append(store.get(STATE_KEY))
    api.on("POST", "/api/features", _answer(UUID, "PROCESSING"))
    record = op._submit(_ledger(op, store), op.validate_request())
    assert record["uuid"] == UUID
    (intent,) = seen_at_post
    assert intent["request_key"] == _hash(op) and intent["uuid"] is None and intent["submitted_at"]
    assert store.get(STATE_KEY) == {**intent, "uuid": UUID}
    assert json.loads(httpserver.log[0][0].get_data())["async"] is True, "submission uses async mode"


def test_refused_submission_clears_the_intent(api):
    op = _operator()
    store = FakeTaskStateStore()
    api.on("POST", "/api/features", ({"errorCode": "UNSUPPORTED_MODEL", "message": "no"}, 400))
    with pytest.raises(OneMinRequestRejectedError):
        _execute(op, store)
    assert STATE_KEY not in store.data, "nothing runs: a cleared task may submit afresh"


def test_unknown_outcome_keeps_the_intent(api):
    op = _operator()
    store = FakeTaskStateStore()
    api.on("POST", "/api/features", ("<html><title>Bad gateway</title></html>", 502))
    with pytest.raises(OneMinUnknownOutcomeError):
        _execute(op, store)
    assert store.data[STATE_KEY]["uuid"] is None, "the next try must not pay again blindly"


def test_garbled_answer_naming_the_uuid_saves_it_for_resuming(api):
    op = _operator()
    store = FakeTaskStateStore()
    body = json.dumps(_answer(UUID, "PROCESSING"))
    api.on("POST", "/api/features", (body[: len(body) // 2], 200))
    record = op._submit(_ledger(op, store), op.validate_request())
    assert record == {"uuid": UUID, "status": "PROCESSING"}
    assert store.data[STATE_KEY]["uuid"] == UUID


def test_without_a_task_state_store_or_variables_nothing_is_paid(api):
    """
    Without a task state store (Airflow < 3.3) the record goes to an Airflow Variable; where even
    that cannot be written (here: no Airflow task around the operator), nothing is sent.
    """
    op = _operator()
    api.on("POST", "/api/features", _answer(UUID, "SUCCESS"))
    with pytest.raises(OneMinSubmissionStoreError, match="Could not save the Airflow Variable"):
        op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert api.calls == [], "no paid request without a saved intent"
