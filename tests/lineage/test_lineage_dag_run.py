"""
Lineage and metrics from a real DAG run: ``airflow dags test`` of tests/lineage/lineage_dags/, with the
OpenLineage provider's file transport and StatsD pointed at a UDP listener on loopback.

The scenario (see the DAG file): a generation that fails, a request whose outcome is unknown, a
paid generation of two images (deferrable: submitted by ``execute``, finished by
``execute_complete``) and the same request again, reused. Expected values come from that
scenario and from independent observations (the emulator's records, the files on disk), not from
the modules under test.

Needs the ``openlineage`` extra and the ``statsd`` package: the lineage CI leg installs both
(``ONEMIN_LINEAGE_LEG=1`` there turns a missing one into a failure rather than a skip).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.airflow_helpers import REPO

DAG_ID = "onemin_lineage_scenario"
DAGS = REPO / "tests" / "lineage" / "lineage_dags"
PHOTO = REPO / "dags" / "sample_photos" / "mug.png"
REFERENCE = REPO / "dags" / "sample_photos" / "sneaker.jpg"
#: The render time the emulator takes: the render-time metric cannot be shorter.
LATENCY_S = 0.5
PREFIX = "airflow.onemin.ideogram-3."


def _installed(module: str) -> bool:
    if os.environ.get("ONEMIN_LINEAGE_LEG"):
        return True  # the leg must have it: let the import fail loudly
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


needs_statsd = pytest.mark.skipif(
    not _installed("statsd"), reason="needs the statsd package (lineage CI leg)"
)
needs_openlineage = pytest.mark.skipif(
    not _installed("openlineage.client"), reason="needs the openlineage extra (lineage CI leg)"
)
pytestmark = pytest.mark.e2e


class StatsdListener:
    """Collects the StatsD datagrams sent to a loopback UDP port, in a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.lines.extend(data.decode("utf-8", "replace").splitlines())

    def close(self) -> list[str]:
        """Stop, take what is still queued in the socket, return every line."""
        self._stop.set()
        self._thread.join()
        self.sock.setblocking(False)
        while True:
            try:
                data, _ = self.sock.recvfrom(65535)
            except BlockingIOError:
                break
            self.lines.extend(data.decode("utf-8", "replace").splitlines())
        self.sock.close()
        return self.lines


@dataclass
class ScenarioRun:
    cli: subprocess.CompletedProcess
    events: list[dict[str, Any]]
    events_text: str
    metric_lines: list[str]
    out: Path
    api_key: str
    generations: dict[str, Any]  # prompt -> the emulator's first record of it

    def counter(self, name: str) -> int:
        total = 0
        for line in self.metric_lines:
            stat, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if stat == PREFIX + name and kind.startswith("c"):
                total += int(float(value))
        return total

    def timings(self, name: str) -> list[float]:
        values = []
        for line in self.metric_lines:
            stat, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if stat == PREFIX + name and kind.startswith("ms"):
                values.append(float(value))
        return values

    def task_events(self, task_id: str) -> dict[str, dict[str, Any]]:
        """The task's events by type (START, COMPLETE, FAIL)."""
        found = {}
        for event in self.events:
            if event["job"]["name"] == f"{DAG_ID}.{task_id}":
                found[event["eventType"]] = event
        return found


@pytest.fixture(scope="module")
def scenario(airflow_db, onemin_emulator_server, tmp_path_factory) -> ScenarioRun:
    emulator = onemin_emulator_server
    emulator.reset(config=True)
    emulator.set_latency(LATENCY_S)
    emulator.add_fault("failure", endpoint="features")  # generation_fails: 1min.ai answers FAILURE
    emulator.add_fault("status", endpoint="features", code=502)  # outcome_unknown: charged or not?
    work = tmp_path_factory.mktemp("lineage-scenario")
    out, events_file = work / "out", work / "openlineage.jsonl"
    out.mkdir()
    connection = {
        "conn_type": "onemin",
        "host": emulator.url,
        "password": emulator.api_key,
        "extra": {"backoff_initial": 0.01, "backoff_max": 0.05, "max_retry_wait": 2, "poll_interval": 0.1},
    }
    listener = StatsdListener()
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW_CONN_ONEMIN_DEFAULT": json.dumps(connection),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "lineage-test",
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(listener.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
    }
    conf = {"photo": str(PHOTO), "reference": str(REFERENCE), "out": f"file://{out}"}
    try:
        cli = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, "-c", json.dumps(conf)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=600,
        )
    finally:
        metric_lines = listener.close()
    events_text = events_file.read_text() if events_file.exists() else ""
    events = [json.loads(line) for line in events_text.splitlines() if line.strip()]
    generations: dict[str, Any] = {}
    for generation in emulator.records:
        generations.setdefault(generation.prompt, generation)
    return ScenarioRun(
        cli=cli,
        events=events,
        events_text=events_text,
        metric_lines=metric_lines,
        out=out,
        api_key=emulator.api_key,
        generations=generations,
    )


def _log(run: ScenarioRun) -> str:
    return (run.cli.stdout + run.cli.stderr)[-6000:]


# --- metrics -----------------------------------------------------------------------------------


@needs_statsd
def test_counters_after_a_failure_an_unknown_outcome_a_success_and_a_reuse(scenario):
    counts = {
        name: scenario.counter(name)
        for name in (
            "submitted",
            "failed",
            "unknown_outcome",
            "succeeded",
            "images_paid",
            "reused",
            "images_reused",
        )
    }
    assert counts == {
        "submitted": 3,  # generation_fails, outcome_unknown, paid; reused sends nothing
        "failed": 1,
        "unknown_outcome": 1,
        "succeeded": 1,
        "images_paid": 2,
        "reused": 1,
        "images_reused": 2,
    }, _log(scenario)


@needs_statsd
def test_credits_spent_are_what_the_paid_generation_cost(scenario):
    # Only "paid" succeeded: 2 images at the DEFAULT rendering speed, 6,000 credits each in the
    # emulator's price table (docs/models.md); the failure was refunded, the 502 never charged,
    # the reuse paid nothing.
    assert scenario.counter("credits_spent") == 12000, _log(scenario)
    assert scenario.counter("credits_unknown") == 0


@needs_statsd
def test_render_time_spans_the_deferral_and_storing_is_timed(scenario):
    # One success was rendered (the reuse renders nothing); it took at least the emulator's latency.
    (render_ms,) = scenario.timings("render_duration")
    assert render_ms >= LATENCY_S * 1000
    stores = scenario.timings("store_duration")
    assert len(stores) == 1 and stores[0] >= 0


@needs_statsd
def test_no_metric_names_anything_but_the_model(scenario):
    ours = [line for line in scenario.metric_lines if ".onemin." in line]
    assert ours and all(line.startswith(PREFIX) for line in ours)
    assert not [line for line in scenario.metric_lines if scenario.api_key in line]


# --- OpenLineage -------------------------------------------------------------------------------


@needs_openlineage
def test_the_paid_generation_reports_its_files_and_its_request(scenario):
    paid = scenario.task_events("paid")
    assert set(paid) == {"START", "COMPLETE"}, _log(scenario)
    complete = paid["COMPLETE"]
    # Local files: namespace "file", name the absolute path (OpenLineage naming, as Airflow's file assets).
    expected_inputs = [
        {"namespace": "file", "name": str(PHOTO)},
        {"namespace": "file", "name": str(REFERENCE)},
    ]
    assert [{k: d[k] for k in ("namespace", "name")} for d in complete["inputs"]] == expected_inputs
    stored = sorted(str(p) for p in scenario.out.rglob("*.png") if "/paid/" in str(p))
    assert len(stored) == 2
    assert sorted((d["namespace"], d["name"]) for d in complete["outputs"]) == [("file", p) for p in stored]

    generation = scenario.generations["a sunlit kitchen counter"]
    facet = complete["run"]["facets"]["oneMinGeneration"]
    assert facet["model"] == "ideogram-3"
    assert facet["prompt"] == "a sunlit kitchen counter"
    assert facet["negativePrompt"] == "people"
    assert facet["numImages"] == 2
    assert facet["seed"] == 42
    assert facet["seeds"] == [generation.seed] * 2
    assert facet["uuid"] == generation.uuid
    assert facet["reused"] is False
    assert facet["credits"] == 12000, "2 images at 6,000 credits (DEFAULT speed)"
    assert "sourceImage" not in facet  # the source is a dataset
    # What is not a dataset is in the facet; a URL without its query (a signed URL's credential).
    assert facet["styleReferenceImages"] == [
        "development/images/linen.png",
        "https://cdn.example.com/linen.png",
    ]
    assert facet["resultPaths"] == generation.result_keys
    # START knows the request and the inputs, not the generation yet.
    start = paid["START"]
    assert [d["name"] for d in start["inputs"]] == [str(PHOTO), str(REFERENCE)]
    assert "uuid" not in start["run"]["facets"]["oneMinGeneration"]
    assert "credits" not in start["run"]["facets"]["oneMinGeneration"], "nothing spent yet"


@needs_openlineage
def test_a_reused_generation_reads_the_earlier_files(scenario):
    reused = scenario.task_events("reused")["COMPLETE"]
    facet = reused["run"]["facets"]["oneMinGeneration"]
    assert facet["reused"] is True
    assert facet["credits"] == 0, "nothing paid"
    assert facet["uuid"] == scenario.generations["a sunlit kitchen counter"].uuid
    paid_files = {d["name"] for d in scenario.task_events("paid")["COMPLETE"]["outputs"]}
    assert paid_files <= {d["name"] for d in reused["inputs"]}
    own = sorted(str(p) for p in scenario.out.rglob("*.png") if "/reused/" in str(p))
    assert sorted(d["name"] for d in reused["outputs"]) == own and len(own) == 2


@needs_openlineage
def test_failed_runs_report_their_inputs_and_the_generation_they_got(scenario):
    failed = scenario.task_events("generation_fails")
    assert set(failed) == {"START", "FAIL"}, _log(scenario)
    facet = failed["FAIL"]["run"]["facets"]["oneMinGeneration"]
    assert facet["uuid"] == scenario.generations["a stormy pier"].uuid
    assert [d["name"] for d in failed["FAIL"]["inputs"]] == [str(PHOTO)]
    assert failed["FAIL"]["outputs"] == []

    unknown = scenario.task_events("outcome_unknown")["FAIL"]
    assert "uuid" not in unknown["run"]["facets"]["oneMinGeneration"]  # no answer, no uuid


@needs_openlineage
def test_no_event_carries_the_api_key(scenario):
    assert scenario.events, _log(scenario)
    assert scenario.api_key not in scenario.events_text
    assert "signed-secret" not in scenario.events_text
