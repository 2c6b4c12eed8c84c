"""
The submission ledger on its own: its store seam (get/set/delete only), the adapter over
Airflow's task state store, and the record it keeps around one paid request.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_onemin.exceptions import (
    OneMinRequestRejectedError,
    OneMinUnknownOutcomeError,
)
from airflow_provider_onemin.submissions.ledger import (
    STATE_KEY,
    SubmissionLedger,
    TaskStateStore,
    request_hash,
    submission_store,
)

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat

LOG = logging.getLogger("test_ledger")
PROMPT = {"prompt": "a beach", "imageUrl": "development/images/mug.png", "num_images": 1}


class RecordingTaskStateStore:
    """The surface of Airflow's ``task_state_store`` that the adapter uses, calls recorded."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.calls: list[tuple[Any, ...]] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.calls.append(("set", key, retention))
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.calls.append(("delete", key))
        self.data.pop(key, None)


class DictStore(dict):
    """The whole SubmissionStore protocol: nothing but get, set and delete."""

    def set(self, key: str, value: dict[str, Any]) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)


def test_task_state_store_adapter_keeps_records_forever():
    from airflow.sdk.execution_time import context

    if not hasattr(context, "NEVER_EXPIRE"):
        pytest.skip("the task state store (and NEVER_EXPIRE) is an Airflow 3.3 feature")
    NEVER_EXPIRE = context.NEVER_EXPIRE

    raw = RecordingTaskStateStore()
    store = TaskStateStore(raw)
    store.set(STATE_KEY, {"uuid": "u"})
    assert raw.calls == [("set", STATE_KEY, NEVER_EXPIRE)]
    assert store.get(STATE_KEY) == {"uuid": "u"}
    store.delete(STATE_KEY)
    assert store.get(STATE_KEY) is None


def test_task_state_store_adapter_reads_anything_but_a_dict_as_no_record():
    raw = RecordingTaskStateStore()
    raw.data[STATE_KEY] = "not a record"
    assert TaskStateStore(raw).get(STATE_KEY) is None


def test_submission_store_is_picked_from_the_context():
    raw = RecordingTaskStateStore()
    store = submission_store({"task_state_store": raw})
    assert isinstance(store, TaskStateStore)
    assert submission_store({}) is None


def test_request_hash_is_stable_and_order_free():
    assert request_hash("ideogram-3", PROMPT) == request_hash("ideogram-3", dict(reversed(PROMPT.items())))
    assert request_hash("ideogram-3", PROMPT) != request_hash("ideogram-3", {**PROMPT, "seed": 1})


def test_intent_then_uuid():
    store = DictStore()
    ledger = SubmissionLedger(store, request_hash("ideogram-3", PROMPT), try_number=3, log=LOG)
    sent_at = ledger.record_intent()
    assert store[STATE_KEY] == {
        "request_key": ledger.fingerprint,
        "uuid": None,
        "submitted_at": sent_at,
        "try_number": 3,
    }
    ledger.record_uuid("u-1")
    assert store[STATE_KEY]["uuid"] == "u-1"


@pytest.mark.parametrize(
    ("error", "kept"),
    [
        (OneMinUnknownOutcomeError("lost", sent_at="t0"), True),
        (OneMinRequestRejectedError("refused", status_code=400), False),
    ],
)
def test_a_failed_submission_keeps_the_intent_only_when_its_outcome_is_unknown(error, kept):
    store = DictStore()
    ledger = SubmissionLedger(store, "f", log=LOG)
    ledger.record_intent()
    ledger.submission_failed(error)
    assert (STATE_KEY in store) is kept


def test_without_a_store_nothing_is_kept_and_it_says_so(caplog):
    ledger = SubmissionLedger(None, "f", log=LOG)
    with caplog.at_level(logging.WARNING, logger="test_ledger"):
        assert ledger.earlier_generation(retry_unknown_outcome=False) is None
    assert "would submit it again" in caplog.text
    ledger.record_intent()
    ledger.record_uuid("u-1")
    # Nothing was kept: a later look finds no earlier generation (and warns again), and the
    # generation ending changes nothing it could be told apart by.
    with caplog.at_level(logging.WARNING, logger="test_ledger"):
        assert ledger.earlier_generation(retry_unknown_outcome=False) is None
    assert caplog.text.count("would submit it again") == 2
    assert ledger.may_submit_after({"uuid": "u-1", "status": "SUCCESS"}) is False


def _ledger_with(
    record: dict[str, Any] | None, fingerprint: str = "now"
) -> tuple[SubmissionLedger, DictStore]:
    """A ledger for try 2 of a task instance whose try 1 left ``record``."""
    store = DictStore({STATE_KEY: {**record, "try_number": 1}} if record else {})
    return SubmissionLedger(store, fingerprint, try_number=2, log=LOG), store


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (None, "submit"),
        ({"request_key": "now", "uuid": "u", "submitted_at": "t0"}, "poll u (same request)"),
        ({"request_key": "then", "uuid": "u", "submitted_at": "t0"}, "poll u (changed request)"),
        (
            {"request_key": "now", "uuid": "u", "submitted_at": "t0", "outcome": "succeeded"},
            "poll u (same request)",
        ),
        ({"request_key": "then", "uuid": "u", "submitted_at": "t0", "outcome": "succeeded"}, "submit"),
        ({"request_key": "now", "uuid": "u", "submitted_at": "t0", "outcome": "failed"}, "submit"),
        ({"request_key": "now", "uuid": None, "submitted_at": "t0"}, "blocked"),
        ({"request_key": "then", "uuid": None, "submitted_at": "t0"}, "blocked"),
    ],
)
def test_what_an_earlier_record_allows(record, expected):
    ledger, _ = _ledger_with(record)
    try:
        earlier = ledger.earlier_generation(retry_unknown_outcome=False)
    except OneMinUnknownOutcomeError as error:
        assert "t0" in str(error) and error.sent_at == "t0"
        decision = "blocked"
    else:
        same = "same request" if earlier and earlier.same_request else "changed request"
        decision = "submit" if earlier is None else f"poll {earlier.uuid} ({same})"
    assert decision == expected


@pytest.mark.parametrize(
    ("status", "request_then", "may_submit", "outcome"),
    [
        ("SUCCESS", "now", False, "succeeded"),
        ("SUCCESS", "then", True, "succeeded"),
        ("FAILURE", "now", True, "failed"),
        ("ERROR", "then", True, "failed"),
    ],
)
def test_after_an_earlier_generation_ended(status, request_then, may_submit, outcome):
    ledger, store = _ledger_with({"request_key": request_then, "uuid": "u", "submitted_at": "t0"})
    assert ledger.may_submit_after({"uuid": "u", "status": status}) is may_submit
    assert store[STATE_KEY]["outcome"] == outcome


def test_a_status_not_known_to_end_records_nothing():
    ledger, store = _ledger_with({"request_key": "now", "uuid": "u", "submitted_at": "t0"})
    ledger.record_outcome({"uuid": "u", "status": "MODERATION_HOLD"})
    assert "outcome" not in store[STATE_KEY]


def test_this_tries_own_generation_is_never_paid_for_again_whatever_the_render():
    """A deferred task re-renders its templates when it resumes: a new seed is not a new request."""
    store = DictStore()
    ledger = SubmissionLedger(store, "render-1", try_number=1, log=LOG)
    ledger.record_intent()
    ledger.record_uuid("u")
    resumed = SubmissionLedger(store, "render-2", try_number=1, log=LOG)
    assert resumed.may_submit_after({"uuid": "u", "status": "SUCCESS"}) is False
    assert resumed.may_submit_after({"uuid": "u", "status": "FAILURE"}) is False


# --- records written by the previous version (``request_hash``: image paths, not content) --------

#: A record as the previous version wrote it for PROMPT (its ``request_hash``, copied from a record
#: that version wrote; not computed here): an upgrade must still resume its generation.
OLD_RECORD = {
    "request_hash": "e5d607f31bc388d175485ac971d4c0d47acc1f9b12e642851c85798a15c58dfa",
    "uuid": "u-old",
    "submitted_at": "t0",
    "try_number": 1,
}


def test_a_record_of_the_previous_version_still_resumes_its_generation():
    store = DictStore({STATE_KEY: OLD_RECORD})
    ledger = SubmissionLedger(
        store, "content-key", try_number=2, log=LOG, legacy_fingerprint=request_hash("ideogram-3", PROMPT)
    )
    earlier = ledger.earlier_generation(retry_unknown_outcome=False)
    assert earlier is not None and earlier.uuid == "u-old" and earlier.same_request
    assert ledger.may_submit_after({"uuid": "u-old", "status": "SUCCESS"}) is False, "resumed, not paid"
    assert ledger.paid_identity("u-old") is None, "the old record cannot say which content was paid for"


def test_a_record_of_the_previous_version_for_another_request_is_not_resumed():
    other = request_hash("ideogram-3", {**PROMPT, "seed": 1})
    ledger, _ = _ledger_with({k: v for k, v in OLD_RECORD.items() if k != "try_number"}, "content-key")
    ledger.legacy_fingerprint = other
    earlier = ledger.earlier_generation(retry_unknown_outcome=False)
    assert earlier is not None and not earlier.same_request


def test_the_record_keeps_the_identity_it_paid_for():
    store = DictStore()
    ledger = SubmissionLedger(store, "key-of-photo-v1", try_number=1, log=LOG)
    ledger.record_intent()
    ledger.record_uuid("g1")
    later = SubmissionLedger(store, "key-of-photo-v2", try_number=2, log=LOG)
    assert later.paid_identity("g1") == "key-of-photo-v1"
    earlier = later.earlier_generation(retry_unknown_outcome=False)
    assert earlier is not None and not earlier.same_request, "another photo at the same path"


# --- a record is judged by its uuid ------------------------------------------------------------------


@pytest.mark.parametrize("status", ["FAILURE", "SUCCESS"])
@pytest.mark.parametrize("request_then", ["now", "then"])
def test_an_answer_about_another_generation_never_permits_paying(status, request_then):
    """Failed before the fix: a stale event's FAILURE (or a success for a changed request) approved a
    payment while the recorded generation could still be running."""
    ledger, store = _ledger_with({"request_key": request_then, "uuid": "recorded", "submitted_at": "t0"})
    assert ledger.may_submit_after({"uuid": "stale", "status": status}) is False
    assert "outcome" not in store[STATE_KEY], "the recorded generation's outcome is still unknown"
