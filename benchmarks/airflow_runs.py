"""
Running benchmark DAGs in a real deployment (``tests/support/deployment.py``) and reading what happened.

* :func:`run_dag`: trigger a run, wait for it, and collect its wall time, the final state and try
  number of each task instance, and how many of them Airflow itself failed with a
  ``state mismatch`` (the executor reported the end of a run after the task had been queued
  again: the stale-deferral race).
* :func:`workloads`: the supervisors' own account of every task run (``Workload finished``
  lines: duration, final state, which worker), the basis of worker slot-seconds and of "which
  worker resumed the task".
* :class:`ComponentSampler`: CPU seconds of each component's process tree, the triggerer's
  memory and the number of deferred tasks, sampled while a run goes on.

Everything goes through the api-server or the components' own logs, so it works the same with
SQLite or PostgreSQL, LocalExecutor or Celery.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from tests.support.deployment import AirflowDeployment

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FIELDS = re.compile(r"(\w+)=('[^']*'|\"[^\"]*\"|\S+)")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class RunOutcome:
    """What one DAG run did."""

    dag_id: str
    run_id: str
    state: str
    wall: float
    task_instances: list[dict[str, Any]]
    failed_by_airflow: int

    @property
    def states(self) -> Counter[str]:
        return Counter(ti["state"] for ti in self.task_instances)

    @property
    def retried(self) -> int:
        """Task instances that needed more than one try."""
        return sum(1 for ti in self.task_instances if (ti.get("try_number") or 0) > 1)

    @property
    def failed(self) -> int:
        return self.states.get("failed", 0)

    @property
    def ids(self) -> set[str]:
        return {str(ti["id"]).replace("-", "") for ti in self.task_instances}


def run_dag(deployment: AirflowDeployment, dag_id: str, *, timeout: float = 1800) -> RunOutcome:
    """Trigger ``dag_id``, wait until the run ends and return what it did."""
    run_id = deployment.trigger(dag_id)
    run = deployment.wait_for_run(dag_id, run_id, timeout=timeout)
    tis = all_task_instances(deployment, dag_id, run_id)
    return RunOutcome(
        dag_id=dag_id,
        run_id=run_id,
        state=run["state"],
        wall=(parse_time(run["end_date"]) - parse_time(run["start_date"])).total_seconds(),
        task_instances=tis,
        failed_by_airflow=state_mismatches(deployment, dag_id, run_id),
    )


def all_task_instances(deployment: AirflowDeployment, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every task instance of the run, page by page: the api-server caps a page at 100 entries."""
    path = f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances"
    found: list[dict[str, Any]] = []
    while True:
        page = deployment.api("GET", path, params={"limit": 100, "offset": len(found)}).json()
        found.extend(page["task_instances"])
        if not page["task_instances"] or len(found) >= page["total_entries"]:
            return found


def state_mismatches(deployment: AirflowDeployment, dag_id: str, run_id: str) -> int:
    """Task instances of the run that Airflow failed because the executor reported a stale end."""
    answer = deployment.api(
        "GET",
        "/api/v2/eventLogs",
        params={"event": "state mismatch", "dag_id": dag_id, "run_id": run_id, "limit": 1000},
    ).json()
    return len({(e.get("task_id"), e.get("map_index"), e.get("try_number")) for e in answer["event_logs"]})


@dataclass
class Workload:
    """One task run as its supervisor reported it."""

    ti_id: str
    duration: float
    final_state: str
    worker: str


def workloads(logs: Mapping[str, Path], ti_ids: Iterable[str] | None = None) -> dict[str, list[Workload]]:
    """
    Every ``Workload finished`` line of the given component logs, by task instance id (32 hex
    digits), in log order. ``logs`` maps a worker's name to its log file.
    """
    wanted = {i.replace("-", "") for i in ti_ids} if ti_ids is not None else None
    found: dict[str, list[Workload]] = {}
    for worker, path in logs.items():
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if "Workload finished" not in line:
                continue
            fields = {k: v.strip("'\"") for k, v in _FIELDS.findall(_ANSI.sub("", line))}
            ti_id = fields.get("workload_id", "").replace("-", "")
            if not ti_id or (wanted is not None and ti_id not in wanted):
                continue
            try:
                duration = float(fields["duration"])
            except (KeyError, ValueError):
                continue
            found.setdefault(ti_id, []).append(
                Workload(ti_id, duration, fields.get("final_state", "?"), worker)
            )
    return found


def settled_workloads(
    logs: Mapping[str, Path], outcome: RunOutcome, timeout: float = 120
) -> dict[str, list[Workload]]:
    """
    :func:`workloads` of a run once every succeeded task's last run has been reported: a
    supervisor logs its run a while after the task itself reported success (the slot tail).
    """
    wanted = {str(ti["id"]).replace("-", "") for ti in outcome.task_instances if ti["state"] == "success"}
    deadline = time.monotonic() + timeout
    while True:
        found = workloads(logs, outcome.ids)
        if all(any(w.final_state == "success" for w in found.get(i, [])) for i in wanted):
            return found
        if time.monotonic() > deadline:
            return found
        time.sleep(1.0)


@dataclass
class Samples:
    """What :class:`ComponentSampler` saw."""

    cpu_seconds: dict[str, float] = field(default_factory=dict)
    #: (deferred task instances, triggerer tree PSS in bytes), every sample.
    triggerer_memory: list[tuple[int, int]] = field(default_factory=list)

    def triggerer_summary(self) -> dict[str, float]:
        """
        Triggerer memory (PSS): at the first sample, at its peak, and per deferred task: the
        least-squares slope over the samples taken once a trigger had run (the first one imports
        the provider's client stack, a one-off cost).
        """
        if not self.triggerer_memory:
            return {}
        counts = [c for c, _ in self.triggerer_memory]
        sizes = [m for _, m in self.triggerer_memory]
        result: dict[str, float] = {
            "first_mib": sizes[0] / 2**20,
            "peak_mib": max(sizes) / 2**20,
            "peak_deferred": max(counts),
        }
        first_busy = next((i for i, c in enumerate(counts) if c > 0), None)
        warm = self.triggerer_memory[first_busy + 1 :] if first_busy is not None else []
        if len({c for c, _ in warm}) > 2:
            slope, _ = statistics.linear_regression([c for c, _ in warm], [m for _, m in warm])
            result["per_deferred_kib"] = slope / 1024
            result["samples"] = len(warm)
        return result


def _tree(pid: int) -> list[Any]:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_seconds(pid: int) -> float:
    """
    CPU seconds used so far by a process and all its descendants: live processes count their
    own time, exited ones are in their parent's ``children_*`` once reaped.
    """
    import psutil

    total = 0.0
    for process in _tree(pid):
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def own_cpu_seconds(pid: int) -> float:
    """CPU seconds of one process, without its children (e.g. the scheduler without its workers)."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def local_executor_workers(scheduler_pid: int) -> list[int]:
    """The LocalExecutor's worker processes (children of the scheduler)."""
    import psutil

    workers = []
    for child in _safe_children_of(scheduler_pid):
        try:
            if "LocalExecutor" in " ".join(child.cmdline()):
                workers.append(child.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return workers


def _safe_children_of(pid: int) -> list[Any]:
    import psutil

    try:
        return psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []


def tree_pss(pid: int) -> int:
    """
    Memory of a process tree in bytes: the sum of proportional set sizes, so pages the processes
    share after a fork count once (RSS would count them in every process).
    """
    import psutil

    total = 0
    for process in _tree(pid):
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
        total += getattr(info, "pss", info.rss)
    return total


class ComponentSampler(threading.Thread):
    """
    Samples the deployment while a run goes on: CPU seconds per component (the difference between
    start and stop), and the triggerer's RSS against the number of deferred task instances.

    :param components: ``{name: function returning that component's CPU seconds so far}``.
    :param deferred: returns how many task instances are deferred now.
    :param triggerer_pid: the triggerer's pid (its tree includes the trigger runner).
    """

    def __init__(
        self,
        components: Mapping[str, Callable[[], float]],
        deferred: Callable[[], int],
        triggerer_pid: int | None,
        interval: float = 1.0,
    ) -> None:
        super().__init__(daemon=True)
        self.components = dict(components)
        self.deferred = deferred
        self.triggerer_pid = triggerer_pid
        self.interval = interval
        self.samples = Samples()
        self._start_cpu = self._cpu()
        self._stop_event = threading.Event()

    def _cpu(self) -> dict[str, float]:
        return {name: measure() for name, measure in self.components.items()}

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            if self.triggerer_pid is None:
                continue
            try:
                count = int(self.deferred())
            except Exception:  # the api-server is busy: skip this sample
                continue
            self.samples.triggerer_memory.append((count, tree_pss(self.triggerer_pid)))

    def stop(self) -> Samples:
        self._stop_event.set()
        self.join()
        end = self._cpu()
        self.samples.cpu_seconds = {name: end[name] - self._start_cpu.get(name, 0.0) for name in end}
        return self.samples


def deferred_count(deployment: AirflowDeployment, dag_id: str) -> int:
    """Task instances of ``dag_id`` deferred now, across runs."""
    answer = deployment.api(
        "GET",
        f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances",
        params={"state": "deferred", "limit": 1},
    ).json()
    return int(answer["total_entries"])
