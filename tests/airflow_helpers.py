"""Helpers that run DAGs with a real Airflow: in process (``dag.test()``) or through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The repository's top folder.
REPO = Path(__file__).resolve().parent.parent


@dataclass
class TaskResult:
    """What a finished task instance left behind."""

    state: str | None
    try_number: int
    xcom: dict[str, Any] = field(default_factory=dict)


@dataclass
class DagRunResult:
    state: str
    run_id: str
    tasks: dict[tuple[str, int], TaskResult]

    def task(self, task_id: str, map_index: int = -1) -> TaskResult:
        return self.tasks[(task_id, map_index)]


def run_dag(dag: Any, *, run_conf: dict[str, Any] | None = None) -> DagRunResult:
    """Serialize ``dag`` into the metadata DB, run it with ``dag.test()`` and collect the results."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=os.devnull)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    dag_run = dag.test(run_conf=run_conf)
    tasks: dict[tuple[str, int], TaskResult] = {}
    with create_session() as session:
        for ti in session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id):
            rows = session.query(XComModel).filter_by(
                dag_id=dag.dag_id, run_id=dag_run.run_id, task_id=ti.task_id, map_index=ti.map_index
            )
            xcom = {row.key: XComModel.deserialize_value(row) for row in rows}
            tasks[(ti.task_id, ti.map_index)] = TaskResult(
                state=str(getattr(ti.state, "value", ti.state)), try_number=ti.try_number, xcom=xcom
            )
    state = dag_run.state.value if hasattr(dag_run.state, "value") else str(dag_run.state)
    return DagRunResult(state=state, run_id=dag_run.run_id, tasks=tasks)


def airflow_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``airflow <args>`` in a subprocess with the test environment (plus ``env``)."""
    full_env = os.environ.copy()
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
