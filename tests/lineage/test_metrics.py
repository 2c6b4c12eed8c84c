"""
The metrics module on its own: names, the render time from a stored submission time, and that a
broken metrics backend never fails a task. What reaches a real StatsD from real DAG runs is
tested in tests/lineage/test_lineage_dag_run.py.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_onemin.lineage import metrics


class RecordingStats:
    """Stands in for Airflow's Stats: the real client's wire format is checked in the DAG-run test."""

    def __init__(self) -> None:
        self.counters: list[tuple[str, int]] = []
        self.timings: list[tuple[str, timedelta]] = []

    def incr(self, stat: str, count: int = 1) -> None:
        self.counters.append((stat, count))

    def timing(self, stat: str, dt: timedelta) -> None:
        self.timings.append((stat, dt))


@pytest.fixture
def stats(monkeypatch):
    recorder = RecordingStats()
    monkeypatch.setattr(metrics, "_stats", lambda: recorder)
    return recorder


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("ideogram-3", "onemin.ideogram-3.submitted"),
        ("gpt-image-1-mini", "onemin.gpt-image-1-mini.submitted"),
        # A dot would add a level to the StatsD hierarchy; other characters are not allowed.
        ("vendor.model v2", "onemin.vendor_model_v2.submitted"),
        ("", "onemin._.submitted"),
    ],
)
def test_the_model_is_one_level_of_the_name(model, expected):
    assert metrics.metric_name(model, "submitted") == expected


def test_each_decision_counts_what_it_says(stats):
    metrics.generation_submitted("ideogram-3")
    metrics.generation_succeeded("ideogram-3", images=4)
    metrics.generation_failed("ideogram-3")
    metrics.generation_unknown_outcome("ideogram-3")
    metrics.generation_reused("ideogram-3", images=3)
    assert stats.counters == [
        ("onemin.ideogram-3.submitted", 1),
        ("onemin.ideogram-3.succeeded", 1),
        ("onemin.ideogram-3.images_paid", 4),
        ("onemin.ideogram-3.failed", 1),
        ("onemin.ideogram-3.unknown_outcome", 1),
        ("onemin.ideogram-3.reused", 1),
        ("onemin.ideogram-3.images_reused", 3),
    ]


def test_a_success_without_images_counts_no_image(stats):
    metrics.generation_succeeded("ideogram-3", images=0)
    assert stats.counters == [("onemin.ideogram-3.succeeded", 1)]


def test_render_time_runs_from_the_recorded_submission_time(stats):
    seen = datetime(2026, 4, 15, 10, 31, 30, tzinfo=timezone.utc)
    metrics.render_time("ideogram-3", "2026-04-15T10:30:00+00:00", now=seen)
    # A record without an offset is UTC (the ledger writes UTC).
    metrics.render_time("ideogram-3", "2026-04-15T10:31:00", now=seen)
    assert stats.timings == [
        ("onemin.ideogram-3.render_duration", timedelta(seconds=90)),
        ("onemin.ideogram-3.render_duration", timedelta(seconds=30)),
    ]


def test_no_render_time_without_a_readable_submission_time(stats):
    metrics.render_time("ideogram-3", None)
    metrics.render_time("ideogram-3", "yesterday-ish")
    assert stats.timings == []


def test_store_time_accepts_seconds(stats):
    metrics.store_time("ideogram-3", 1.5)
    assert stats.timings == [("onemin.ideogram-3.store_duration", timedelta(seconds=1.5))]


def test_a_failing_metrics_backend_never_fails_the_caller(monkeypatch, caplog):
    class Broken:
        def incr(self, *args, **kwargs):
            raise OSError("statsd host unreachable")

        timing = incr

    monkeypatch.setattr(metrics, "_stats", lambda: Broken())
    metrics.generation_succeeded("ideogram-3", images=2)
    metrics.store_time("ideogram-3", 1.0)
    assert "Could not emit metric onemin.ideogram-3.succeeded" in caplog.text


def test_airflows_metrics_client_is_found():
    # On Airflow 3.0 and 3.1 it comes from airflow.stats (the matrix runs this test there); from 3.2
    # on from the task SDK, without the deprecation warning of the old location.
    code = (
        "import warnings; warnings.filterwarnings('error', message='.*airflow.stats.*')\n"
        "from airflow_provider_onemin.lineage import metrics\n"
        "stats = metrics._stats()\n"
        "print(callable(stats.incr) and callable(stats.timing))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_storing_is_timed_only_when_it_succeeds(stats):
    with metrics.storing("ideogram-3"):
        pass
    with pytest.raises(OSError), metrics.storing("ideogram-3"):
        raise OSError("disk full")
    assert [name for name, _ in stats.timings] == ["onemin.ideogram-3.store_duration"]
