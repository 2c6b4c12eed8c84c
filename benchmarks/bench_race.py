"""
Airflow's stale-deferral race, counted: task instances failed by Airflow per 100 deferrable tasks,
with the provider's guard (``min_defer_time``, its default) and without it (``min_defer_time=0``,
the behaviour before the guard).

The throughput benchmark's settings: 16 mapped deferrable tasks, a 3 s render, LocalExecutor with
parallelism 4, ``retries=2`` with a 1 s retry delay, ``poll_interval`` 0.5 s. Both DAGs live in one
deployment and their runs alternate, so both see the same machine. "Failed by Airflow" is what the
scheduler itself records: a ``state mismatch`` audit-log entry for a task instance whose deferring
run was reported ended after the task had been queued again (apache/airflow#72716). Also per run:
wall time, worker slot-seconds (the supervisors' own ``Workload finished`` durations), retries and
charges (which must equal the task count: a retry resumes, it never pays again).

    python benchmarks/bench_race.py --runs 7       # 7 x 16 = 112 tasks per variant
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from airflow_runs import RunOutcome, run_dag, settled_workloads  # noqa: E402
from common import (  # noqa: E402
    BENCH_API_KEY,
    EmulatorProcess,
    deployment_class,
    log,
    median,
    scratch_airflow_home,
    scratch_folder,
    upload_sample_photo,
)

TASKS = 16
RENDER_SECONDS = 3.0
PARALLELISM = 4
POLL_INTERVAL = 0.5
VARIANTS = {"without guard": "onemin_race_unguarded", "with guard": "onemin_race_guarded"}

_DAG_FILE = '''
"""Benchmark DAGs written by benchmarks/bench_race.py."""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

for dag_id, guard in (("onemin_race_unguarded", {{"min_defer_time": 0}}), ("onemin_race_guarded", {{}})):
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
             max_active_runs=1, max_active_tasks={tasks}):
        BackgroundReplacerOperator.partial(
            task_id="replace",
            image_url={image!r},
            deferrable=True,
            poll_interval={poll},
            retries=2,
            retry_delay=timedelta(seconds=1),
            **guard,
        ).expand(prompt=[f"scene number {{i}}" for i in range({tasks})])
'''


def _summary(outcomes: list[RunOutcome], slot_seconds: list[float]) -> dict[str, Any]:
    tasks = sum(len(o.task_instances) for o in outcomes)
    failed = sum(o.failed_by_airflow for o in outcomes)
    return {
        "tasks": tasks,
        "failed_by_airflow": failed,
        "failed_by_airflow_per_100": 100.0 * failed / tasks if tasks else float("nan"),
        "retried": sum(o.retried for o in outcomes),
        "failed_in_the_end": sum(o.failed for o in outcomes),
        "wall_median_s": median([o.wall for o in outcomes]),
        "slot_seconds_median": median(slot_seconds),
        "wall_s": [round(o.wall, 1) for o in outcomes],
        "slot_seconds": [round(s, 1) for s in slot_seconds],
        "failed_by_airflow_per_run": [o.failed_by_airflow for o in outcomes],
    }


def measure(
    env: dict[str, str],
    runs: int,
    *,
    render_seconds: float = RENDER_SECONDS,
    airflow_config: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Alternate ``runs`` runs of each variant in one deployment; return both summaries."""
    AirflowDeployment = deployment_class()
    outcomes: dict[str, list[RunOutcome]] = {v: [] for v in VARIANTS}
    slots: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with EmulatorProcess(env, latency=render_seconds) as emulator:
        image = upload_sample_photo(emulator.url, BENCH_API_KEY)
        with scratch_folder("onemin-bench-dags-") as dags:
            (dags / "onemin_race.py").write_text(
                _DAG_FILE.format(tasks=TASKS, image=image, poll=POLL_INTERVAL), encoding="utf-8"
            )
            conn = emulator.connection(poll_interval=POLL_INTERVAL)
            with AirflowDeployment(
                dags,
                connections={"onemin_default": conn},
                parallelism=PARALLELISM,
                config=airflow_config or {},
            ) as airflow:
                for dag_id in VARIANTS.values():
                    airflow.wait_for_dag(dag_id)
                charges_before = emulator.charges()
                for index in range(runs):
                    order = list(VARIANTS) if index % 2 == 0 else list(reversed(VARIANTS))
                    for variant in order:
                        outcome = run_dag(airflow, VARIANTS[variant])
                        done = settled_workloads({"scheduler": airflow.home / "scheduler.log"}, outcome)
                        slot_seconds = sum(w.duration for runs_ in done.values() for w in runs_)
                        outcomes[variant].append(outcome)
                        slots[variant].append(slot_seconds)
                        log(
                            f"race {variant} run {index + 1}/{runs}: {outcome.state}, wall {outcome.wall:.1f} s, "
                            f"{slot_seconds:.1f} slot-s, failed by Airflow {outcome.failed_by_airflow}, "
                            f"retried {outcome.retried}, states {dict(outcome.states)}"
                        )
                charges = emulator.charges() - charges_before
    result = {variant: _summary(outcomes[variant], slots[variant]) for variant in VARIANTS}
    expected = sum(s["tasks"] for s in result.values())
    result["charges"] = {"charged": charges, "tasks": expected}
    result["settings"] = {
        "tasks_per_run": TASKS,
        "runs_per_variant": runs,
        "render_seconds": render_seconds,
        "parallelism": PARALLELISM,
        "poll_interval": POLL_INTERVAL,
        "airflow_config": airflow_config or {},
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="runs per variant (default: %(default)s)")
    parser.add_argument("--render-seconds", type=float, default=RENDER_SECONDS)
    parser.add_argument("--airflow-config", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args(argv)
    config = dict(item.split("=", 1) for item in args.airflow_config)
    with scratch_airflow_home() as env:
        result = measure(env, args.runs, render_seconds=args.render_seconds, airflow_config=config)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
