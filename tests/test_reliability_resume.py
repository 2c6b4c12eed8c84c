"""
The submission ledger as the operator uses it, branch by branch: intent saved before the paid
POST, uuid after; the same request resumes, a changed one submits afresh, an intent without uuid
is an unknown outcome.

The HTTP side is real (pytest-httpserver on loopback). The store is a small dict with the
ledger's get/set/delete surface: the real task state store only exists inside a running task,
and is exercised end to end in test_reliability_dag_runs.py.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from airflow_provider_onemin.exceptions import (
    OneMinRequestRejectedError,
    OneMinUnknownOutcomeError,
)
from airflow_provider_onemin.ledger import SubmissionLedger
from airflow_provider_onemin.operators.background_replacer import (
    STATE_KEY,
    BackgroundReplacerOperator,
    request_hash,
)

UUID = "7d3f2c1e-0a9b-4c8d-8e7f-6a5b4c3d2e1f"
OTHER_UUID = "11111111-2222-4333-8444-555555555555"


class DictStore:
    """A :class:`~airflow_provider_onemin.ledger.SubmissionStore` in a dict, calls recorded."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = json.loads(json.dumps(data or {}))
        self.calls: list[tuple[str, ...]] = []

    def get(self, key: str) -> Any:
        return json.loads(json.dumps(self.data[key])) if key in self.data else None

    def set(self, key: str, value: Any) -> None:
        self.calls.append(("set", key))
        self.data[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.calls.append(("delete", key))
        self.data.pop(key, None)


def _record(uuid: str, status: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "uuid": uuid,
        "model": "ideogram-3",
        "type": "BACKGROUND_REPLACER",
        "status": status,
    }
    if status == "SUCCESS":
        record["aiRecordDetail"] = {"resultObject": ["development/images/r0.png"]}
    return {"aiRecord": record}


@pytest.fixture
def server(httpserver, monkeypatch):
    conn = {
        "conn_type": "onemin",
        "host": httpserver.url_for("").rstrip("/"),
        "password": "resume-test-key-0042",
        "extra": {"backoff_initial": 0.01, "max_retry_wait": 1, "poll_interval": 0.01},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    return httpserver


def _operator(seed: int = 7) -> BackgroundReplacerOperator:
    return BackgroundReplacerOperator(
        task_id="replace", prompt="a beach", image_url="development/images/mug.png", seed=seed
    )


def _fingerprint(op: BackgroundReplacerOperator) -> str:
    return request_hash(op.model, op.validate_request()["promptObject"])


def _ledger(op: BackgroundReplacerOperator, store: DictStore | None) -> SubmissionLedger:
    return SubmissionLedger(store, _fingerprint(op), log=op.log)


def test_intent_is_saved_before_the_post_and_the_uuid_after(server):
    op = _operator()
    store = DictStore()
    seen_at_post: list[Any] = []

    def features(request):
        from werkzeug import Response

        seen_at_post.append(store.get(STATE_KEY))
        return Response(json.dumps(_record(UUID, "PROCESSING")), content_type="application/json")

    server.expect_request("/api/features", method="POST").respond_with_handler(features)
    fingerprint = _fingerprint(op)
    record = op._submit(_ledger(op, store), op.validate_request())

    assert record["uuid"] == UUID
    (intent,) = seen_at_post
    assert intent["request_hash"] == fingerprint and intent["uuid"] is None and intent["submitted_at"]
    assert store.get(STATE_KEY) == {**intent, "uuid": UUID}
    assert json.loads(server.log[0][0].get_data())["async"] is True, "submission uses async mode"


def test_same_request_resumes_without_paying(server):
    op = _operator()
    fingerprint = _fingerprint(op)
    store = DictStore({STATE_KEY: {"request_hash": fingerprint, "uuid": UUID, "submitted_at": "t0"}})
    server.expect_request(f"/api/results/{UUID}").respond_with_json(_record(UUID, "PROCESSING"))
    record = op._resume(_ledger(op, store))
    assert record is not None and record["uuid"] == UUID
    assert [r.path for r, _ in server.log] == [f"/api/results/{UUID}"], "no POST"


def test_intent_without_uuid_is_an_unknown_outcome_and_nothing_is_sent(server):
    op = _operator()
    fingerprint = _fingerprint(op)
    store = DictStore(
        {STATE_KEY: {"request_hash": fingerprint, "uuid": None, "submitted_at": "2026-04-15T10:30:00+00:00"}}
    )
    with pytest.raises(
        OneMinUnknownOutcomeError, match=r"sent this request at 2026-04-15T10:30:00\+00:00"
    ) as caught:
        op._resume(_ledger(op, store))
    assert caught.value.sent_at == "2026-04-15T10:30:00+00:00"
    assert len(server.log) == 0
    assert store.get(STATE_KEY)["request_hash"] == fingerprint, "the intent stays for the next try"


def test_intent_without_uuid_is_resent_only_when_opted_in(server, monkeypatch):
    conn = json.loads(os.environ["AIRFLOW_CONN_ONEMIN_DEFAULT"])
    conn["extra"]["retry_unknown_outcome"] = True
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    op = _operator()
    fingerprint = _fingerprint(op)
    store = DictStore({STATE_KEY: {"request_hash": fingerprint, "uuid": None, "submitted_at": "t0"}})
    assert op._resume(_ledger(op, store)) is None, "None means: submit again"


def test_changed_request_submits_afresh(server):
    old, new = _operator(seed=1), _operator(seed=2)
    store = DictStore({STATE_KEY: {"request_hash": _fingerprint(old), "uuid": UUID, "submitted_at": "t0"}})
    assert new._resume(_ledger(new, store)) is None
    assert len(server.log) == 0, "the old generation is not even polled"
    server.expect_request("/api/features").respond_with_json(_record(OTHER_UUID, "PROCESSING"))
    new._submit(_ledger(new, store), new.validate_request())
    assert store.get(STATE_KEY)["request_hash"] == _fingerprint(new)
    assert store.get(STATE_KEY)["uuid"] == OTHER_UUID


def test_earlier_generation_that_failed_is_submitted_afresh(server):
    op = _operator()
    fingerprint = _fingerprint(op)
    store = DictStore({STATE_KEY: {"request_hash": fingerprint, "uuid": UUID, "submitted_at": "t0"}})
    server.expect_request(f"/api/results/{UUID}").respond_with_json(_record(UUID, "FAILURE"))
    assert op._resume(_ledger(op, store)) is None
    assert STATE_KEY not in store.data


def test_earlier_generation_unknown_to_the_api_is_an_unknown_outcome_naming_it(server):
    op = _operator()
    fingerprint = _fingerprint(op)
    store = DictStore({STATE_KEY: {"request_hash": fingerprint, "uuid": UUID, "submitted_at": "t0"}})
    server.expect_request(f"/api/results/{UUID}").respond_with_json({"aiRecord": None})
    with pytest.raises(OneMinUnknownOutcomeError, match=UUID) as caught:
        op._resume(_ledger(op, store))
    assert caught.value.uuid == UUID


def test_refused_submission_clears_the_intent(server):
    op = _operator()
    store = DictStore()
    server.expect_request("/api/features").respond_with_json(
        {"errorCode": "UNSUPPORTED_MODEL", "message": "no"}, status=400
    )
    with pytest.raises(OneMinRequestRejectedError):
        op._submit(_ledger(op, store), op.validate_request())
    assert STATE_KEY not in store.data, "nothing runs: a cleared task may submit afresh"


def test_unknown_outcome_keeps_the_intent(server):
    op = _operator()
    store = DictStore()
    server.expect_request("/api/features").respond_with_data(
        "<html><title>Bad gateway</title></html>", status=502
    )
    with pytest.raises(OneMinUnknownOutcomeError):
        op._submit(_ledger(op, store), op.validate_request())
    assert store.get(STATE_KEY)["uuid"] is None, "the next try must not pay again blindly"


def test_garbled_answer_naming_the_uuid_saves_it_for_resuming(server):
    op = _operator()
    store = DictStore()
    body = json.dumps(_record(UUID, "PROCESSING"))
    server.expect_request("/api/features").respond_with_data(
        body[: len(body) // 2], content_type="application/json"
    )
    record = op._submit(_ledger(op, store), op.validate_request())
    assert record == {"uuid": UUID, "status": "PROCESSING"}
    assert store.get(STATE_KEY)["uuid"] == UUID


def test_without_a_task_state_store_it_still_submits_once(server):
    op = _operator()
    assert op._resume(_ledger(op, None)) is None
    server.expect_request("/api/features").respond_with_json(_record(UUID, "PROCESSING"))
    assert op._submit(_ledger(op, None), op.validate_request())["uuid"] == UUID
    assert len(server.log) == 1
