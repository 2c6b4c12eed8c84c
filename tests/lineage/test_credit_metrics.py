"""
The credit metrics on their own: ``credits_spent`` counts what 1min.ai reported, per model; a cost
that was not reported counts ``credits_unknown`` and adds nothing (never 0) to the spend; the
submission ledger counts a generation's credits once, however many tries see it end.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from airflow_provider_onemin.lineage import metrics
from airflow_provider_onemin.submissions.ledger import SubmissionLedger


class RecordingStats:
    def __init__(self) -> None:
        self.counters: list[tuple[str, int]] = []

    def incr(self, stat: str, count: int = 1) -> None:
        self.counters.append((stat, count))

    def timing(self, stat: str, dt: timedelta) -> None:
        pass


@pytest.fixture
def stats(monkeypatch) -> RecordingStats:
    recorder = RecordingStats()
    monkeypatch.setattr(metrics, "_stats", lambda: recorder)
    return recorder


def test_credits_are_counted_per_model_and_unknown_is_not_zero(stats):
    metrics.credits_spent("gpt-image-1", 250000)
    metrics.credits_spent("ideogram-3", 52.6)
    metrics.credits_spent("ideogram-3", None)
    metrics.credits_spent("ideogram-3", 0)
    assert stats.counters == [
        ("onemin.gpt-image-1.credits_spent", 250000),
        ("onemin.ideogram-3.credits_spent", 53),
        ("onemin.ideogram-3.credits_unknown", 1),
    ], "a reported 0 adds nothing; an unreported cost is counted apart"


class DictStore(dict):
    def set(self, key, value):
        self[key] = value

    def delete(self, key):
        self.pop(key, None)


def test_the_ledger_counts_a_generations_credits_once(stats):
    store = DictStore()
    success = {
        "uuid": "u-1",
        "status": "SUCCESS",
        "metadata": {"credit": 6000},
        "aiRecordDetail": {"resultObject": ["k"]},
    }
    for try_number in (1, 2):
        ledger = SubmissionLedger(
            store, "f", try_number=try_number, log=logging.getLogger("t"), model="ideogram-3"
        )
        if try_number == 1:
            ledger.record_intent()
            ledger.record_uuid("u-1")
        ledger.record_outcome(success)
    spent = [count for name, count in stats.counters if name == "onemin.ideogram-3.credits_spent"]
    assert spent == [6000], "a retry that sees the same generation end pays, and counts, nothing more"
