"""
Throughput under a real Airflow: api-server, scheduler (LocalExecutor, parallelism 4),
dag-processor and triggerer, started in their own AIRFLOW_HOME and stopped afterwards.

Two DAGs run one after the other in the same instance: 16 mapped BackgroundReplacerOperator
tasks against the emulator with a 3 s render time, one DAG blocking (the worker polls), one
deferrable (the worker submits, the triggerer polls, the worker resumes to finish). Figures:

* wall time of the DAG run (``start_date`` to ``end_date`` of the run in the metadata DB);
* worker slot-seconds: a sampler thread counts the LocalExecutor worker processes that are busy
  (their process title names a task instead of ``<idle>``) every 50 ms.

The metadata DB is SQLite: Airflow 3.3 accepts it with LocalExecutor (task processes reach the
DB only through the api-server), and one DAG run at a time is light enough for it. The API key
lives in the metadata DB (``airflow connections add``), so the triggerer reads it the way a
deployment does.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from common import BENCH_API_KEY, EmulatorProcess, Result, log, median, upload_sample_photo

TASKS = 16
RENDER_SECONDS = 3.0
PARALLELISM = 4
POLL_INTERVAL = 0.5
WORKER_TITLE = "airflow worker -- LocalExecutor:"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Airflow:
    """The Airflow components, each in its own process group, with logs under the home."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        self.env = env
        self.home = home
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def cli(self, *args: str, timeout: float = 300) -> str:
        run = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if run.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{run.stderr[-3000:]}")
        return run.stdout

    def start(self, name: str, *args: str) -> None:
        with (self.home / f"{name}.log").open("wb") as out:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited ({process.returncode}):\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.home / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    @property
    def scheduler_pid(self) -> int:
        return self.processes["scheduler"].pid


class SlotSampler(threading.Thread):
    """Integrates the number of busy LocalExecutor workers over time."""

    def __init__(self, root_pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.slot_seconds = 0.0
        self.max_busy = 0
        self._stop_event = threading.Event()

    def busy_workers(self) -> int:
        import psutil

        try:
            processes = psutil.Process(self.root_pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return 0
        titles: dict[int, str] = {}
        parents: dict[int, int] = {}
        for process in processes:
            try:
                # setproctitle pads the title with spaces (it reuses the argv area).
                titles[process.pid] = " ".join(process.cmdline()).strip()
                parents[process.pid] = process.ppid()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        busy = 0
        for pid, title in titles.items():
            # A worker's task child may inherit its title: count only the outermost one.
            if title.startswith(WORKER_TITLE) and not titles.get(parents[pid], "").startswith(WORKER_TITLE):
                busy += not title.endswith("<idle>")
        return busy

    def run(self) -> None:
        last = time.monotonic()
        while not self._stop_event.is_set():
            busy = self.busy_workers()
            now = time.monotonic()
            self.slot_seconds += busy * (now - last)
            self.max_busy = max(self.max_busy, busy)
            last = now
            self._stop_event.wait(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.slot_seconds


def _db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=30)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _wait_for(what: str, condition, airflow: Airflow, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        airflow.check_alive()
        try:
            if condition():
                return
        except (sqlite3.Error, OSError):
            pass
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n} ---\n{airflow.tail(n)}" for n in airflow.processes)
            raise RuntimeError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.5)


_WORKLOAD_FINISHED = re.compile(r"Workload finished.*?duration=([0-9.]+).*?workload_id=([0-9a-f-]{36})")


def _workload_seconds(airflow: Airflow, home: Path, dag_id: str, run_id: str) -> float | None:
    """The supervisors' own account: the sum of this run's workload durations in the scheduler log."""
    with _db(home) as db:
        # SQLite keeps the uuid as 32 hex digits; the log prints it with dashes.
        ids = {
            str(r[0]).replace("-", "")
            for r in db.execute(
                "SELECT id FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
            ).fetchall()
        }
    text = (home / "scheduler.log").read_text(errors="replace")
    durations = [
        float(d) for d, workload in _WORKLOAD_FINISHED.findall(text) if workload.replace("-", "") in ids
    ]
    return sum(durations) if durations else None


def _run_dag(airflow: Airflow, home: Path, dag_id: str) -> dict[str, Any]:
    """Trigger one run and wait for it; return its wall time, slot-seconds and task outcomes."""
    run_id = f"bench__{secrets.token_hex(4)}"
    sampler = SlotSampler(airflow.scheduler_pid)
    sampler.start()
    airflow.cli("dags", "trigger", dag_id, "--run-id", run_id)

    def finished() -> bool:
        with _db(home) as db:
            row = db.execute(
                "SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
            ).fetchone()
        return row is not None and row[0] in ("success", "failed")

    try:
        _wait_for(f"the run of {dag_id}", finished, airflow, timeout=900)
        # Let the last worker go back to <idle> before the sampler stops.
        deadline = time.monotonic() + 10
        while sampler.busy_workers() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        slot_seconds = sampler.stop()
    with _db(home) as db:
        state, start, end = db.execute(
            "SELECT state, start_date, end_date FROM dag_run WHERE dag_id = ? AND run_id = ?",
            (dag_id, run_id),
        ).fetchone()
        states = dict(
            db.execute(
                "SELECT state, COUNT(*) FROM task_instance WHERE dag_id = ? AND run_id = ? GROUP BY state",
                (dag_id, run_id),
            ).fetchall()
        )
        retried = db.execute(
            "SELECT COUNT(*) FROM task_instance WHERE dag_id = ? AND run_id = ? AND try_number > 1",
            (dag_id, run_id),
        ).fetchone()[0]
    if state != "success":
        raise RuntimeError(f"{dag_id} run {run_id} ended {state}: {states}\n{airflow.tail('scheduler')}")
    return {
        "wall": (_parse_time(end) - _parse_time(start)).total_seconds(),
        "slot_seconds": slot_seconds,
        "workload_seconds": _workload_seconds(airflow, home, dag_id, run_id),
        "max_busy": sampler.max_busy,
        "states": states,
        "retried": retried,
    }


def _environment(base: dict[str, str], home: Path, dags: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        }
    )
    return env


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
    home = Path(tempfile.mkdtemp(prefix="onemin-bench-throughput-"))
    dags = home / "dags"
    dags.mkdir()
    port = _free_port()
    airflow_env = _environment(env, home, dags, port)
    for name, value in (airflow_config or {}).items():
        section, _, key = name.partition(".")
        airflow_env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = value
    walls: dict[str, list[float]] = {"blocking": [], "deferrable": []}
    slots: dict[str, list[float]] = {"blocking": [], "deferrable": []}
    workloads: dict[str, list[float]] = {"blocking": [], "deferrable": []}
    retried = {"blocking": 0, "deferrable": 0}
    notes: list[str] = []
    with EmulatorProcess(env, latency=render_seconds) as emulator:
        image = upload_sample_photo(emulator.url, BENCH_API_KEY)
        (dags / "onemin_bench.py").write_text(
            _DAG_FILE.format(tasks=TASKS, image=image, poll=POLL_INTERVAL), encoding="utf-8"
        )
        airflow = Airflow(airflow_env, home)
        began = time.monotonic()
        airflow.cli("db", "migrate")
        conn = emulator.connection(poll_interval=POLL_INTERVAL)
        airflow.cli("connections", "add", "onemin_default", "--conn-json", json.dumps(conn))
        try:
            airflow.start("api-server", "api-server", "--port", str(port))
            airflow.start("scheduler", "scheduler")
            airflow.start("dag-processor", "dag-processor")
            airflow.start("triggerer", "triggerer")
            _wait_for("the api-server", lambda: _healthy(port), airflow, timeout=180)

            def parsed() -> bool:
                with _db(home) as db:
                    found = {r[0] for r in db.execute("SELECT dag_id FROM serialized_dag").fetchall()}
                return set(DAG_IDS.values()) <= found

            _wait_for("the benchmark DAGs to be parsed", parsed, airflow, timeout=180)
            log(f"throughput: Airflow up in {time.monotonic() - began:.0f} s (home {home})")
            charges_before = emulator.charges()
            for index in range(repetitions):
                order = ["blocking", "deferrable"] if index % 2 == 0 else ["deferrable", "blocking"]
                for variant in order:
                    run = _run_dag(airflow, home, DAG_IDS[variant])
                    walls[variant].append(run["wall"])
                    slots[variant].append(run["slot_seconds"])
                    workloads[variant].append(run["workload_seconds"] or float("nan"))
                    retried[variant] += run["retried"]
                    log(
                        f"throughput {variant}: wall {run['wall']:.1f} s, {run['slot_seconds']:.1f} slot-s "
                        f"(supervisors' sum {run['workload_seconds'] or float('nan'):.1f} s), up to "
                        f"{run['max_busy']} busy workers, tasks {run['states']}, {run['retried']} retried"
                    )
            charges = emulator.charges() - charges_before
        finally:
            airflow.stop()
    expected = TASKS * 2 * repetitions
    if charges != expected:
        notes.append(f"{charges} charges for {expected} tasks")
    else:
        notes.append(f"one charge per task ({charges})")
    if any(retried.values()):
        notes.append(
            f"tasks retried after Airflow's stale-deferral-event race: {retried['deferrable']} deferrable, "
            f"{retried['blocking']} blocking"
        )
    notes.append(
        "supervisors' own workload sum: deferrable "
        f"{median(workloads['deferrable']):.0f} s vs blocking {median(workloads['blocking']):.0f} s"
    )
    shutil.rmtree(home, ignore_errors=True)  # kept when something failed, for its logs
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
            samples={
                "deferrable": slots["deferrable"],
                "blocking": slots["blocking"],
                "deferrable_supervisor_sum": workloads["deferrable"],
                "blocking_supervisor_sum": workloads["blocking"],
            },
        ),
    ]


def _healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as answer:
        return answer.status == 200
