"""
Throughput under a real Airflow: api-server, scheduler (LocalExecutor, parallelism 4),
dag-processor and triggerer (``tests/support/deployment.py``), started in their own AIRFLOW_HOME and
stopped afterwards.

Two DAGs run one after the other in the same deployment: 16 mapped BackgroundReplacerOperator
tasks against the emulator with a 3 s render time, one DAG blocking (the worker polls), one
deferrable (the worker submits, the triggerer polls, the worker resumes to finish). Figures:

* wall time of the DAG run (its ``start_date`` to ``end_date``);
* worker slot-seconds: the supervisors' own account, the sum of the ``Workload finished``
  durations of the run's task instances (a LocalExecutor slot is busy exactly that long).

The API key lives in the metadata DB (a connection), so the triggerer reads it the way a
deployment does.
"""

from __future__ import annotations

from airflow_runs import run_dag, settled_workloads
from common import (
    BENCH_API_KEY,
    EmulatorProcess,
    Result,
    deployment_class,
    log,
    median,
    scratch_folder,
    upload_sample_photo,
)

TASKS = 16
RENDER_SECONDS = 3.0
PARALLELISM = 4
POLL_INTERVAL = 0.5
DAG_IDS = {"blocking": "onemin_bench_blocking", "deferrable": "onemin_bench_deferrable"}

_DAG_FILE = '''
"""Benchmark DAGs written by benchmarks/bench_throughput.py."""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

for deferrable in (False, True):
    with DAG(
        dag_id="onemin_bench_deferrable" if deferrable else "onemin_bench_blocking",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        max_active_tasks={tasks},
    ):
        BackgroundReplacerOperator.partial(
            task_id="replace",
            image_url={image!r},
            deferrable=deferrable,
            poll_interval={poll},
            # Airflow 3.3 can fail a deferred task when the trigger fires before the executor has
            # reported the deferral (apache/airflow#72716); a retry resumes it without paying.
            retries=2,
            retry_delay=timedelta(seconds=1),
        ).expand(prompt=[f"scene number {{i}}" for i in range({tasks})])
'''


def measure(
    env: dict[str, str],
    repetitions: int,
    airflow_config: dict[str, str] | None = None,
    render_seconds: float = RENDER_SECONDS,
) -> list[Result]:
    """
    :param render_seconds: the emulated render time of one generation.
    :param airflow_config: extra Airflow settings for this instance, ``{"section.key": "value"}``
        (e.g. ``{"workers.min_heartbeat_interval": "1"}``).
    """
    AirflowDeployment = deployment_class()
    walls: dict[str, list[float]] = {"blocking": [], "deferrable": []}
    slots: dict[str, list[float]] = {"blocking": [], "deferrable": []}
    retried = {"blocking": 0, "deferrable": 0}
    failed_by_airflow = 0
    notes: list[str] = []
    with (
        EmulatorProcess(env, latency=render_seconds) as emulator,
        scratch_folder("onemin-bench-dags-") as dags,
    ):
        image = upload_sample_photo(emulator.url, BENCH_API_KEY)
        (dags / "onemin_bench.py").write_text(
            _DAG_FILE.format(tasks=TASKS, image=image, poll=POLL_INTERVAL), encoding="utf-8"
        )
        with AirflowDeployment(
            dags,
            connections={"onemin_default": emulator.connection(poll_interval=POLL_INTERVAL)},
            parallelism=PARALLELISM,
            config=airflow_config or {},
        ) as airflow:
            for dag_id in DAG_IDS.values():
                airflow.wait_for_dag(dag_id)
            charges_before = emulator.charges()
            for index in range(repetitions):
                order = ["blocking", "deferrable"] if index % 2 == 0 else ["deferrable", "blocking"]
                for variant in order:
                    run = run_dag(airflow, DAG_IDS[variant])
                    if run.state != "success":
                        raise RuntimeError(
                            f"{run.dag_id} run {run.run_id} ended {run.state}: {dict(run.states)}"
                        )
                    done = settled_workloads({"scheduler": airflow.home / "scheduler.log"}, run)
                    slot_seconds = sum(w.duration for runs in done.values() for w in runs)
                    walls[variant].append(run.wall)
                    slots[variant].append(slot_seconds)
                    retried[variant] += run.retried
                    failed_by_airflow += run.failed_by_airflow
                    log(
                        f"throughput {variant}: wall {run.wall:.1f} s, {slot_seconds:.1f} slot-s, tasks "
                        f"{dict(run.states)}, {run.retried} retried, {run.failed_by_airflow} failed by Airflow"
                    )
            charges = emulator.charges() - charges_before
    expected = TASKS * 2 * repetitions
    if charges != expected:
        notes.append(f"{charges} charges for {expected} tasks")
    else:
        notes.append(f"one charge per task ({charges})")
    if any(retried.values()):
        notes.append(
            f"tasks retried: {retried['deferrable']} deferrable ({failed_by_airflow} failed by Airflow's "
            f"stale-deferral race), {retried['blocking']} blocking"
        )
    settings = "".join(f", {k}={v}" for k, v in (airflow_config or {}).items())
    detail = (
        f"{TASKS} mapped tasks, {render_seconds:g} s render, parallelism {PARALLELISM}{settings}, "
        f"{repetitions} run(s) each; " + "; ".join(notes)
    )
    return [
        Result(
            name="wall time, deferrable (vs blocking)",
            value=median(walls["deferrable"]),
            baseline=median(walls["blocking"]),
            unit="s",
            goal=0.5,
            detail=detail,
            samples={"deferrable_s": walls["deferrable"], "blocking_s": walls["blocking"]},
        ),
        Result(
            name="worker slot-seconds, deferrable (vs blocking)",
            value=median(slots["deferrable"]),
            baseline=median(slots["blocking"]),
            unit="slot-s",
            goal=0.2,
            samples={"deferrable": slots["deferrable"], "blocking": slots["blocking"]},
        ),
    ]
