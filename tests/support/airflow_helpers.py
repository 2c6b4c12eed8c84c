"""Helpers that run DAGs with a real Airflow: in process (``dag.test()``) or through the CLI."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The repository's top folder.
REPO = Path(__file__).resolve().parents[2]
#: The environment of a CLI call that finds the shipped DAGs (dags/) by their ids, as a user's
#: deployment would: the test processes' own DAGs folder is empty (tests/conftest.py says why).
SHIPPED_DAGS = {"AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags")}


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


def airflow_version() -> tuple[int, int, int]:
    """The installed Airflow's (major, minor, micro): for tests that say which minor they expect."""
    from airflow import __version__
    from packaging.version import Version

    version = Version(__version__)
    return version.major, version.minor, version.micro


def dagbag_class() -> type:
    """Airflow's DagBag: ``airflow.dag_processing.dagbag`` from 3.2, ``airflow.models.dagbag`` before."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag
    return DagBag


def serde() -> tuple[Any, Any]:
    """Airflow's ``(serialize, deserialize)`` for trigger kwargs: ``airflow.sdk.serde`` from 3.2."""
    try:
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:
        from airflow.serialization.serde import deserialize, serialize
    return serialize, deserialize


def register_dags(*dags: Any) -> None:
    """Serialize DAGs into the metadata DB under the ``dags-folder`` bundle, as the DAG processor would."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    bag = dagbag_class()(dag_folder=os.devnull)
    for dag in dags:
        if getattr(dag, "relative_fileloc", "") is None:  # Airflow 3.0 leaves it to the parser
            dag.relative_fileloc = dag.fileloc
        bag.bag_dag(dag)
    try:
        from airflow.dag_processing.dagbag import sync_bag_to_db
    except ImportError:
        try:
            from airflow.models.dagbag import sync_bag_to_db  # Airflow 3.1
        except ImportError:  # Airflow 3.0
            bag.sync_to_db("dags-folder", None)
            return
    sync_bag_to_db(bag, "dags-folder", None)


def run_dag(
    dag: Any,
    *,
    run_conf: dict[str, Any] | None = None,
    mark_success_pattern: str | None = None,
    logical_date: Any = None,
) -> DagRunResult:
    """
    Serialize ``dag`` into the metadata DB, run it with ``dag.test()`` and collect the results.

    :param mark_success_pattern: tasks whose id matches are marked successful without running
        (a human-in-the-loop step would wait for an answer that ``dag.test()`` cannot give).
    :param logical_date: the run's logical date (default: now). ``dag.test()`` with the date of an
        existing run clears that run's task instances and runs them again: what a user's clear does.
    """
    from airflow.models import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    register_dags(dag)
    dated: dict[str, Any] = {} if logical_date is None else {"logical_date": logical_date}
    if logical_date is not None and "run_after" in inspect.signature(dag.test).parameters:
        dated["run_after"] = logical_date  # from Airflow 3.1 the run id is made of run_after
    dag_run = dag.test(run_conf=run_conf, mark_success_pattern=mark_success_pattern, **dated)
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


def airflow_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
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


#: Runs several ``airflow`` commands in one process, as ``airflow``'s own entry point runs each (its
#: parser, then the command's function), printing :data:`CLI_BATCH_MARK` and the command's index
#: before each one's output. Each process start costs seconds of CPU importing Airflow.
CLI_BATCH_MARK = "@@ onemin cli batch @@"
CLI_BATCH = f"""
import json, sys
from airflow import configuration  # first, as airflow.__main__ does (import cycles)
from airflow.cli import cli_parser
try:
    from airflow.configuration import write_default_airflow_configuration_if_needed
except ImportError:  # Airflow 3.0 writes it when the configuration is loaded
    pass
else:
    write_default_airflow_configuration_if_needed()
parser = cli_parser.get_parser()
for index, argv in enumerate(json.loads(sys.argv[1])):
    print("{CLI_BATCH_MARK}", index, flush=True)
    args = parser.parse_args(argv)
    args.func(args)
    sys.stdout.flush()
"""


def airflow_cli_batch(
    *commands: Sequence[str], env: Mapping[str, str | None] | None = None, timeout: float = 300
) -> list[str]:
    """
    Run several ``airflow`` commands one after the other in one subprocess (see :data:`CLI_BATCH`)
    with the test environment (plus ``env``; a ``None`` value removes a variable) and return each
    command's standard output. Raise with the output when one fails (the rest do not run).
    """
    full_env = os.environ.copy()
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    run = subprocess.run(
        [sys.executable, "-c", CLI_BATCH, json.dumps([list(command) for command in commands])],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    if run.returncode != 0:
        raise AssertionError(f"airflow CLI batch {commands} failed ({run.returncode}):\n{run.stderr[-3000:]}")
    pieces = run.stdout.split(f"{CLI_BATCH_MARK} ")[1:]
    assert len(pieces) == len(commands), run.stdout[-3000:]
    return [piece.split("\n", 1)[1] if "\n" in piece else "" for piece in pieces]
