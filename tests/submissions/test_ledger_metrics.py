"""
The metrics the submission ledger emits at its decisions: each submission, each generation's
end counted once however many tries or processes see it, the render time from the recorded
submission time (a deferred task finishes in another process than the one that submitted), and
an unknown outcome counted once per submission. Real DAG runs with StatsD:
tests/lineage/test_lineage_dag_run.py.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_onemin.exceptions import (
    OneMinRecordMissingError,
    OneMinRequestRejectedError,
    OneMinUnknownOutcomeError,
)
from airflow_provider_onemin.lineage import metrics
from airflow_provider_onemin.submissions.ledger import STATE_KEY, SubmissionLedger

LOG = logging.getLogger("test_ledger_metrics")
MODEL = "ideogram-3"


class RecordingStats:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.timings: list[tuple[str, timedelta]] = []

    def incr(self, stat: str, count: int = 1) -> None:
        self.counters[stat] = self.counters.get(stat, 0) + count

    def timing(self, stat: str, dt: timedelta) -> None:
        self.timings.append((stat, dt))

    def count(self, event: str) -> int:
        return self.counters.get(f"onemin.{MODEL}.{event}", 0)


class DictStore(dict):
    def set(self, key: str, value: dict[str, Any]) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)


@pytest.fixture
def stats(monkeypatch) -> RecordingStats:
    recorder = RecordingStats()
    monkeypatch.setattr(metrics, "_stats", lambda: recorder)
    return recorder


def _ledger(store: DictStore | None, try_number: int = 1, fingerprint: str = "f") -> SubmissionLedger:
    return SubmissionLedger(store, fingerprint, try_number=try_number, log=LOG, model=MODEL)


def _succeeded(uuid: str, images: int) -> dict[str, Any]:
    keys = [f"development/images/{uuid}_{i}.png" for i in range(images)]
    return {"uuid": uuid, "status": "SUCCESS", "aiRecordDetail": {"resultObject": keys}}


def test_each_paid_request_sent_is_counted(stats):
    store = DictStore()
    _ledger(store).record_intent()
    _ledger(store, try_number=2).record_intent()
    assert stats.count("submitted") == 2


def test_a_success_seen_by_two_processes_counts_once_with_its_render_time_from_the_record(stats):
    store = DictStore()
    submitting = _ledger(store)
    submitting.record_intent()
    submitting.record_uuid("u-1")
    # The submission is an hour old: the render time comes from the record, not from this process.
    store[STATE_KEY]["submitted_at"] = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    resumed = _ledger(store)  # execute_complete: a new process, a new ledger, the same record
    resumed.record_outcome(_succeeded("u-1", images=3))
    _ledger(store, try_number=2).record_outcome(_succeeded("u-1", images=3))  # a later try sees it again
    assert (stats.count("succeeded"), stats.count("images_paid")) == (1, 3)
    ((name, elapsed),) = stats.timings
    assert name == f"onemin.{MODEL}.render_duration"
    assert timedelta(hours=1) <= elapsed < timedelta(hours=2)


def test_a_failed_generation_counts_once(stats):
    store = DictStore()
    ledger = _ledger(store)
    ledger.record_intent()
    ledger.record_uuid("u-1")
    ledger.record_outcome({"uuid": "u-1", "status": "FAILURE"})
    ledger.record_outcome({"uuid": "u-1", "status": "FAILURE"})
    assert (stats.count("failed"), stats.count("succeeded"), stats.timings) == (1, 0, [])


def test_a_pending_record_counts_nothing(stats):
    store = DictStore()
    ledger = _ledger(store)
    ledger.record_intent()
    ledger.record_uuid("u-1")
    ledger.record_outcome({"uuid": "u-1", "status": "PROCESSING"})
    assert stats.count("succeeded") == stats.count("failed") == 0


def test_a_refused_request_counts_as_failed(stats):
    ledger = _ledger(DictStore())
    ledger.record_intent()
    ledger.submission_failed(OneMinRequestRejectedError("refused", status_code=400))
    assert (stats.count("submitted"), stats.count("failed"), stats.count("unknown_outcome")) == (1, 1, 0)


def test_an_unknown_outcome_counts_once_even_when_a_later_try_is_blocked_by_it(stats):
    store = DictStore()
    ledger = _ledger(store)
    ledger.record_intent()
    ledger.submission_failed(OneMinUnknownOutcomeError("502 after the POST", sent_at="t0"))
    with pytest.raises(OneMinUnknownOutcomeError):
        _ledger(store, try_number=2).earlier_generation(retry_unknown_outcome=False)
    assert stats.count("unknown_outcome") == 1


def test_a_try_that_died_before_the_answer_is_counted_by_the_try_that_finds_it(stats):
    store = DictStore()
    _ledger(store).record_intent()  # then the worker was killed: no answer, nothing counted
    assert stats.count("unknown_outcome") == 0
    for try_number in (2, 3):
        with pytest.raises(OneMinUnknownOutcomeError):
            _ledger(store, try_number=try_number).earlier_generation(retry_unknown_outcome=False)
    assert stats.count("unknown_outcome") == 1


def test_a_vanished_generation_is_an_unknown_outcome_and_if_found_later_a_success(stats):
    store = DictStore()
    first = _ledger(store)
    first.record_intent()
    first.record_uuid("u-1")
    with pytest.raises(OneMinUnknownOutcomeError):
        _ledger(store, try_number=2).generation_missing(OneMinRecordMissingError("gone", uuid="u-1"))
    assert stats.count("unknown_outcome") == 1
    _ledger(store, try_number=3).record_outcome(_succeeded("u-1", images=1))
    assert (stats.count("succeeded"), stats.count("images_paid")) == (1, 1)


def test_without_a_store_the_outcome_is_still_counted(stats):
    ledger = _ledger(None)
    ledger.record_intent()
    ledger.record_uuid("u-1")
    ledger.record_outcome(_succeeded("u-1", images=2))
    assert (stats.count("submitted"), stats.count("succeeded"), stats.count("images_paid")) == (1, 1, 2)
    assert len(stats.timings) == 1


def test_the_recorded_submission_time_is_precise_enough_to_time_a_render():
    store = DictStore()
    _ledger(store).record_intent()
    submitted_at = store[STATE_KEY]["submitted_at"]
    # Whole seconds would add up to a second to every render time.
    assert datetime.fromisoformat(submitted_at).tzinfo is not None
    assert "." in submitted_at.partition("T")[2], submitted_at
