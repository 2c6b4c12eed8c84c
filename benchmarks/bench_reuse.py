"""
A fully reused run of the marketing pipeline against one that pays for everything.

Each repetition uses a fresh output folder: the shipped pipeline
(``dags/marketing_asset_pipeline.py``, 3 products x 2 scenes, ``reuse=True``) runs once with
nothing generated yet (every line uploads its photo, pays, polls, downloads and stores), then once
more with nothing changed (every line is found in the index, checked and copied). Each run is a
``dag.test()`` in a fresh process, timed from the call to the end of the run, Airflow's own
per-task cost included (and the first task's start-up, the same for both), so the figure is what
a user waits for. The emulator renders each generation in ``render_seconds``; ``dag.test()`` runs the mapped
lines one after the other, so the paying run waits for that once per line.

The emulator's charge counter checks each run did what it says: 6 paid calls, then 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from common import REPO, EmulatorProcess, Result, log, median, run_python

LINES = 6  # the shipped catalogue (3 products) x the shipped scenes (2)

_CODE = r"""
import importlib.util, json, sys, time, urllib.request

from tests.support.airflow_helpers import run_dag

emulator_url = sys.argv[1]

def charges():
    with urllib.request.urlopen(f"{emulator_url}/_emulator/state", timeout=10) as answer:
        return json.loads(answer.read())["charges"]["total"]

spec = importlib.util.spec_from_file_location("marketing_asset_pipeline_bench", "dags/marketing_asset_pipeline.py")
pipeline = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pipeline)
before = charges()
started = time.perf_counter()
result = run_dag(pipeline.dag, mark_success_pattern="review|publish")  # a review waits for a person
seconds = time.perf_counter() - started
if result.state != "success":
    raise SystemExit(f"the run ended {result.state}")

from airflow.models import TaskInstance
from airflow.utils.session import create_session

with create_session() as session:
    lines = session.query(TaskInstance).filter_by(run_id=result.run_id, task_id="replace_background").all()
    line_seconds = sum((ti.end_date - ti.start_date).total_seconds() for ti in lines)
print(json.dumps({"seconds": seconds, "line_seconds": line_seconds, "charges": charges() - before}))
"""


def measure(env: dict[str, str], repetitions: int, render_seconds: float) -> list[Result]:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    paid: list[float] = []
    reused: list[float] = []
    paid_lines: list[float] = []
    reused_lines: list[float] = []
    with EmulatorProcess(env, latency=render_seconds) as emulator:
        for _ in range(repetitions):
            with tempfile.TemporaryDirectory(prefix="onemin-bench-reuse-") as out_dir:
                child_env = {
                    **env,
                    "AIRFLOW_CONN_ONEMIN_DEFAULT": json.dumps(emulator.connection(poll_interval=0.2)),
                    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                    "ONEMIN_OUTPUT_PATH": out_dir,
                }
                # Each run in a fresh process, so both carry the same start-up cost.
                first = run_python(_CODE, child_env, args=[emulator.url], timeout=900)
                second = run_python(_CODE, child_env, args=[emulator.url], timeout=900)
            if (first["charges"], second["charges"]) != (LINES, 0):
                raise RuntimeError(f"expected {LINES} paid calls then 0, got {first} then {second}")
            paid.append(first["seconds"])
            reused.append(second["seconds"])
            paid_lines.append(first["line_seconds"])
            reused_lines.append(second["line_seconds"])
    log(f"reuse ({render_seconds:g} s render): runs paid {_rounded(paid)} s, reused {_rounded(reused)} s")
    log(
        f"reuse ({render_seconds:g} s render): lines paid {_rounded(paid_lines)} s, reused {_rounded(reused_lines)} s"
    )
    return [
        Result(
            name=f"pipeline run fully reused, {render_seconds:g} s render (vs paying for all {LINES} lines)",
            value=median(reused),
            baseline=median(paid),
            unit="s",
            goal=0.5,
            detail=f"{repetitions} repetition(s), each run a dag.test() of the shipped pipeline in a fresh process; "
            f"{LINES} then 0 paid calls",
            samples={"paid_s": paid, "reused_s": reused},
        ),
        Result(
            name=f"the {LINES} replace_background tasks fully reused, {render_seconds:g} s render (vs paying)",
            value=median(reused_lines),
            baseline=median(paid_lines),
            unit="s",
            goal=0.5,
            detail="sum of the mapped task instances' durations (start to end) in the same runs",
            samples={"paid_s": paid_lines, "reused_s": reused_lines},
        ),
    ]


def _rounded(values: list[float]) -> list[float]:
    return [round(value, 1) for value in values]
