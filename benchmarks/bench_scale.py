"""
Hundreds at once: N mapped deferrable generations against an account that allows C generations
in flight (the emulator answers 429 above that, as a rate-limited account does), each rendering R
seconds, in a real deployment.

Two ways to run the same fan-out:

* **pool**: the recipe of docs/pipeline.md, an Airflow pool of C slots created with
  ``--include-deferred`` (a deferred task keeps its slot while its generation renders);
* **no pool**: the default pool only; whatever the workers submit above C is refused with 429,
  retried by the hook with backoff, then by Airflow.

Reported per run: charges (must be exactly N), 429 answers, tasks failed in the end, tasks failed
by Airflow itself (the stale-deferral race) and tasks retried; wall time against the ideal
N / C x R; worker slot-seconds per generation (the supervisors' own ``Workload finished``
durations, submit and resume runs apart); the triggerer's memory against the number of deferred
tasks; CPU seconds of each component (api-server, scheduler, workers, triggerer, dag-processor,
emulator), which is where the time goes on a small machine.

With ``--executor celery`` the deployment runs the CeleryExecutor with two workers (Redis from
the system's ``redis-server`` as broker and result backend, started and stopped here), the source
image and the results on a local S3 API (``moto_server``), and each worker with its own log folder
and temp folder, so nothing one worker wrote on its disk can be read by the other. Reported
besides: how many tasks resumed on another worker than the one that submitted them, and the
objects found in the output bucket.

    python benchmarks/bench_scale.py --tasks 50,200 --limit 10 --render-seconds 30
    python benchmarks/bench_scale.py --executor celery --tasks 50 --variants pool
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from airflow_runs import (  # noqa: E402
    ComponentSampler,
    local_executor_workers,
    own_cpu_seconds,
    run_dag,
    settled_workloads,
    tree_cpu_seconds,
)
from common import (  # noqa: E402
    BENCH_API_KEY,
    REPO,
    EmulatorProcess,
    deployment_class,
    log,
    scratch_airflow_home,
    scratch_folder,
    upload_sample_photo,
)
from services import count_objects, redis_server, s3_client, s3_server  # noqa: E402

if TYPE_CHECKING:
    pass

POOL = "onemin"
POLL_INTERVAL = 2.0
#: LocalExecutor slots, and Celery slots in all (two workers of half as many each).
PARALLELISM = 8
RETRIES = 2
RETRY_DELAY_SECONDS = 10
BUCKET_IN = "onemin-bench-in"
BUCKET_OUT = "onemin-bench-out"

_DAG_FILE = '''
"""Benchmark DAGs written by benchmarks/bench_scale.py: {tasks} mapped deferrable generations."""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

for variant, pool in (("pool", {pool!r}), ("nopool", None)):
    with DAG(
        dag_id=f"onemin_scale_{{variant}}_{tasks}",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        max_active_tasks={tasks},
    ):
        BackgroundReplacerOperator.partial(
            task_id="replace",
            image_url={image!r},
            deferrable=True,
            poll_interval={poll},
            output_path={output!r},
            retries={retries},
            retry_delay=timedelta(seconds={retry_delay}),
            **({{"pool": pool}} if pool else {{}}),
        ).expand(prompt=[f"product shot number {{i}}" for i in range({tasks})])
'''


def _generations_per_run(outcome_ids: set[str], found: dict[str, list[Any]]) -> dict[str, Any]:
    """Slot-seconds by kind of run, and where each task's resume ran compared with its submit."""
    submit = resume = other = 0.0
    moved = stayed = 0
    for ti_id in outcome_ids:
        runs = found.get(ti_id, [])
        for run in runs:
            if run.final_state == "deferred":
                submit += run.duration
            elif run.final_state == "success":
                resume += run.duration
            else:
                other += run.duration
        deferring = [r for r in runs if r.final_state == "deferred"]
        finishing = [r for r in runs if r.final_state == "success"]
        if deferring and finishing:
            if finishing[-1].worker == deferring[-1].worker:
                stayed += 1
            else:
                moved += 1
    return {
        "slot_seconds_submit": submit,
        "slot_seconds_resume": resume,
        "slot_seconds_other": other,
        "resumed_on_another_worker": moved,
        "resumed_on_the_same_worker": stayed,
    }


def measure(
    env: dict[str, str],
    *,
    tasks: list[int],
    variants: list[str],
    limit: int,
    render_seconds: float,
    executor: str = "local",
    airflow_config: dict[str, str] | None = None,
    burst: int = 0,
    burst_render_seconds: float = 180.0,
) -> dict[str, Any]:
    """
    Run each (N, variant) once in one deployment; return one record per run.

    :param burst: then, with the account limit lifted and a render of ``burst_render_seconds``,
        run ``burst`` tasks without a pool, so that about that many triggers run at once: the
        triggerer's memory per running trigger is read from that run (0: skip it).
    """
    AirflowDeployment = deployment_class()
    records: list[dict[str, Any]] = []
    with ExitStack() as stack:
        emulator = stack.enter_context(EmulatorProcess(env, latency=render_seconds, max_in_flight=limit))
        dags = stack.enter_context(scratch_folder("onemin-bench-scale-dags-"))
        connections: dict[str, Any] = {"onemin_default": emulator.connection(poll_interval=POLL_INTERVAL)}
        config: dict[str, Any] = {"core.parallelism": PARALLELISM}
        celery = executor == "celery"
        if celery:
            endpoint = stack.enter_context(s3_server())
            client = s3_client(endpoint)
            for bucket in (BUCKET_IN, BUCKET_OUT):
                client.create_bucket(Bucket=bucket)
            client.put_object(
                Bucket=BUCKET_IN,
                Key="photos/mug.png",
                Body=(REPO / "dags/sample_photos/mug.png").read_bytes(),
            )
            image = f"s3://aws_default@{BUCKET_IN}/photos/mug.png"
            output = f"s3://aws_default@{BUCKET_OUT}/results"
            connections["aws_default"] = {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            }
            broker = stack.enter_context(redis_server())
            config.update(
                {
                    "core.executor": "CeleryExecutor",
                    "celery.broker_url": f"{broker}/0",
                    "celery.result_backend": f"{broker}/1",
                    "celery.worker_concurrency": PARALLELISM // 2,
                }
            )
        else:
            image = upload_sample_photo(emulator.url, BENCH_API_KEY)
            output = None
        config.update(airflow_config or {})
        for n in sorted(set(tasks) | ({burst} if burst else set())):
            (dags / f"onemin_scale_{n}.py").write_text(
                _DAG_FILE.format(
                    tasks=n,
                    pool=POOL,
                    image=image,
                    poll=POLL_INTERVAL,
                    output=output,
                    retries=RETRIES,
                    retry_delay=RETRY_DELAY_SECONDS,
                ),
                encoding="utf-8",
            )
        began = time.monotonic()
        airflow = stack.enter_context(AirflowDeployment(dags, connections=connections, config=config))
        worker_logs: dict[str, Path] = {"scheduler": airflow.home / "scheduler.log"}
        if celery:
            worker_logs = {}
            for name in ("worker-a", "worker-b"):
                private = airflow.home / name
                (private / "logs").mkdir(parents=True)
                (private / "tmp").mkdir()
                airflow.start_component(
                    name,
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"{name}@%h",
                    "--concurrency",
                    str(PARALLELISM // 2),
                    env={
                        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(private / "logs"),
                        "TMPDIR": str(private / "tmp"),
                    },
                )
                worker_logs[name] = airflow.home / f"{name}.log"
        airflow.cli("pools", "set", POOL, str(limit), "1min.ai generations in flight", "--include-deferred")
        for n in tasks:
            for variant in variants:
                airflow.wait_for_dag(f"onemin_scale_{variant}_{n}")
        log(f"scale: deployment up in {time.monotonic() - began:.0f} s (home {airflow.home})")
        emulator_pid = emulator.process.pid if emulator.process else None
        for n in tasks:
            for variant in variants:
                records.append(
                    _one_run(
                        airflow,
                        emulator,
                        emulator_pid,
                        worker_logs,
                        n,
                        variant,
                        limit,
                        render_seconds,
                        celery,
                    )
                )
                if celery:
                    records[-1]["objects_in_output_bucket"] = count_objects(endpoint, BUCKET_OUT)
        if burst:
            airflow.wait_for_dag(f"onemin_scale_nopool_{burst}")
            emulator.configure(max_in_flight=None, latency=burst_render_seconds)
            record = _one_run(
                airflow,
                emulator,
                emulator_pid,
                worker_logs,
                burst,
                "nopool",
                burst,
                burst_render_seconds,
                celery,
            )
            record["variant"] = "burst (no account limit)"
            records.append(record)
    return {
        "settings": {
            "executor": executor,
            "limit_in_flight": limit,
            "render_seconds": render_seconds,
            "parallelism": PARALLELISM,
            "poll_interval": POLL_INTERVAL,
            "retries": RETRIES,
            "retry_delay_s": RETRY_DELAY_SECONDS,
            "airflow_config": airflow_config or {},
        },
        "runs": records,
    }


def _one_run(
    airflow: Any,
    emulator: EmulatorProcess,
    emulator_pid: int | None,
    worker_logs: dict[str, Path],
    n: int,
    variant: str,
    limit: int,
    render_seconds: float,
    celery: bool,
) -> dict[str, Any]:
    dag_id = f"onemin_scale_{variant}_{n}"
    scheduler_pid = airflow.processes["scheduler"].pid
    components: dict[str, Any] = {
        "api-server": lambda: tree_cpu_seconds(airflow.processes["api-server"].pid),
        "scheduler": lambda: own_cpu_seconds(scheduler_pid),
        "triggerer": lambda: tree_cpu_seconds(airflow.processes["triggerer"].pid),
        "dag-processor": lambda: tree_cpu_seconds(airflow.processes["dag-processor"].pid),
    }
    if celery:
        for name in worker_logs:
            components[name] = lambda name=name: tree_cpu_seconds(airflow.processes[name].pid)
    else:
        components["workers"] = lambda: sum(
            tree_cpu_seconds(p) for p in local_executor_workers(scheduler_pid)
        )
    if emulator_pid is not None:
        components["emulator"] = lambda: tree_cpu_seconds(emulator_pid)

    def deferred() -> int:
        answer = airflow.api(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances", params={"state": "deferred", "limit": 1}
        )
        return int(answer.json()["total_entries"])

    before = emulator.state()
    sampler = ComponentSampler(components, deferred, airflow.processes["triggerer"].pid, interval=2.0)
    sampler.start()
    try:
        outcome = run_dag(airflow, dag_id, timeout=3 * 3600)
    finally:
        samples = sampler.stop()
    after = emulator.state()
    charges = after["charges"]["total"] - before["charges"]["total"]
    refused = after["rate_limited"]["total"] - before["rate_limited"]["total"]
    found = settled_workloads(worker_logs, outcome)
    split = _generations_per_run(outcome.ids, found)
    slot_seconds = split["slot_seconds_submit"] + split["slot_seconds_resume"] + split["slot_seconds_other"]
    ideal = n / limit * render_seconds
    record = {
        "tasks": n,
        "variant": variant,
        "run_state": outcome.state,
        "charges": charges,
        "answers_429": refused,
        "failed_in_the_end": outcome.failed,
        "failed_by_airflow": outcome.failed_by_airflow,
        "retried": outcome.retried,
        "states": dict(outcome.states),
        "wall_s": outcome.wall,
        "ideal_wall_s": ideal,
        "wall_vs_ideal": outcome.wall / ideal,
        "slot_seconds": slot_seconds,
        "slot_seconds_per_generation": slot_seconds / n,
        "runs_per_task": sum(len(found.get(i, [])) for i in outcome.ids) / n,
        **{k: v for k, v in split.items()},
        "triggerer": samples.triggerer_summary(),
        "cpu_seconds": {k: round(v, 1) for k, v in samples.cpu_seconds.items()},
    }
    if variant == "pool":
        # Each task holds a pool slot from queued to done: the mean hold says where wall time goes.
        record["mean_pool_slot_hold_s"] = limit * outcome.wall / n
    log(
        f"scale {executor_name(celery)} N={n} {variant}: {outcome.state}, wall {outcome.wall:.0f} s "
        f"(ideal {ideal:.0f} s), charges {charges}, 429s {refused}, failed {outcome.failed}, "
        f"failed by Airflow {outcome.failed_by_airflow}, retried {outcome.retried}, "
        f"{slot_seconds / n:.1f} slot-s/generation, cpu {record['cpu_seconds']}"
    )
    return record


def executor_name(celery: bool) -> str:
    return "celery" if celery else "local"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", default="50,200", help="comma-separated N (default: %(default)s)")
    parser.add_argument(
        "--variants", default="pool,nopool", help="pool, nopool or both (default: %(default)s)"
    )
    parser.add_argument(
        "--limit", type=int, default=10, help="generations in flight allowed (default: %(default)s)"
    )
    parser.add_argument(
        "--render-seconds", type=float, default=30.0, help="render time R (default: %(default)s)"
    )
    parser.add_argument("--executor", choices=["local", "celery"], default="local")
    parser.add_argument("--airflow-config", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument(
        "--burst",
        type=int,
        default=0,
        metavar="M",
        help="then M tasks with no account limit and a long render, for the triggerer's memory "
        "per running trigger (default: skip)",
    )
    parser.add_argument("--burst-render-seconds", type=float, default=180.0)
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",")]
    if set(variants) - {"pool", "nopool"}:
        parser.error("--variants takes pool and/or nopool")
    with scratch_airflow_home() as env:
        result = measure(
            env,
            tasks=[int(n) for n in args.tasks.split(",")],
            variants=variants,
            limit=args.limit,
            render_seconds=args.render_seconds,
            executor=args.executor,
            airflow_config=dict(item.split("=", 1) for item in args.airflow_config),
            burst=args.burst,
            burst_render_seconds=args.burst_render_seconds,
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
