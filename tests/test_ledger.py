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
from airflow_provider_onemin.ledger import (
    STATE_KEY,
    SubmissionLedger,
    TaskStateStore,
    request_hash,
    submission_store,
)

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
    from airflow.sdk.execution_time.context import NEVER_EXPIRE

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
    ledger = SubmissionLedger(store, request_hash("ideogram-3", PROMPT), log=LOG)
    sent_at = ledger.record_intent()
    assert store[STATE_KEY] == {"request_hash": ledger.fingerprint, "uuid": None, "submitted_at": sent_at}
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
        assert ledger.resumable_uuid(retry_unknown_outcome=False) is None
    assert "would submit it again" in caplog.text
    ledger.record_intent()
    ledger.record_uuid("u-1")
