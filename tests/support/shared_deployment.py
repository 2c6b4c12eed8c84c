"""
One real deployment (tests/support/deployment.py) for every test that needs one, started once per test
session on the worker that runs them (they form one pytest-xdist group: tests/conftest.py).

Starting a deployment (database migration, api-server, scheduler, dag-processor, triggerer) costs
more than most tests it serves, and each idle component keeps a core busy part of the time; so one
is started at the first test that asks for it and stopped right after the last one in a row.

What it is: this repository's ``dags/`` folder as the ``dags-folder`` bundle, results stored
under :attr:`SharedDeployment.out`, the session's emulator as 1min.ai (``onemin_default``),
connections encrypted with a Fernet key (as in production, so a test may read the raw database),
the viewer's users and, from Airflow 3.2 on, its teams (tests/support/viewer_support.py), and a ``scratch``
bundle (of no team): a folder where a test writes DAG files of its own, parsed within seconds
(``team_scratch``: the same, owned by the viewer's team from Airflow 3.2 on).

Stopping it is checked: no process it started (or their descendants) may outlive it, and its home
is removed. A failure there fails the last test that used it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.airflow_helpers import REPO
from tests.support.deployment import AirflowDeployment, descendants
from tests.support.viewer_support import (
    ADMIN,
    OTHER_TEAM,
    OUTSIDER,
    REVIEWER,
    TEAM,
    airflow_minor,
    shared_folder,
)

#: The marker of the tests that use a deployment (tests/conftest.py groups them).
MARKER = "deployment"


@dataclass
class SharedDeployment:
    """The running deployment and the folders a test uses with it."""

    airflow: AirflowDeployment
    #: ``ONEMIN_OUTPUT_PATH`` of every component: where the example DAGs store their results.
    out: Path
    #: The ``scratch`` bundle's folder: a DAG file written here is parsed within seconds.
    scratch: Path
    #: The ``team-scratch`` bundle's: the same, for DAGs of the viewer's team (Airflow 3.2+), whose
    #: stored files the viewer reads under ``out`` (tests/support/viewer_support.py).
    team_scratch: Path

    def write_dag(self, name: str, source: str, *, team: bool = False) -> Path:
        """
        Write a DAG file into the scratch bundle; its DAG ids must be unique in the session.

        :param team: into the ``team-scratch`` bundle instead (a DAG of the viewer's team).
        """
        path = (self.team_scratch if team else self.scratch) / name
        path.write_text(source)
        return path


class _Holder:
    """The session's shared deployment, started on demand and stopped after its last test."""

    def __init__(self) -> None:
        self.current: SharedDeployment | None = None

    def get(self, emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> SharedDeployment:
        if self.current is None:
            self.current = _start(emulator, tmp_path_factory)
        return self.current

    def stop(self) -> None:
        """Stop it; raise when a process outlives it or its home stays behind."""
        shared, self.current = self.current, None
        if shared is None:
            return
        airflow = shared.airflow
        pids = {process.pid for process in airflow.processes.values()}
        pids |= {child for pid in list(pids) for child in descendants(pid)}
        failed = airflow._failed
        airflow.stop()
        alive = [pid for pid in pids if _alive(pid)]
        assert not alive, f"processes outlived the shared deployment: {alive}"
        if not failed:
            assert not airflow.home.exists(), f"the shared deployment's home {airflow.home} was left behind"


_HOLDER = _Holder()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> SharedDeployment:
    from cryptography.fernet import Fernet

    from airflow_provider_onemin.emulator.pytest_plugin import FAST_TEST_EXTRA, TEST_API_KEY

    out = tmp_path_factory.mktemp("shared-deployment-out")
    scratch = tmp_path_factory.mktemp("shared-deployment-dags")
    team_scratch = tmp_path_factory.mktemp("shared-deployment-team-dags")
    connection = {
        "conn_type": "onemin",
        "host": emulator.url,
        "password": TEST_API_KEY,  # the emulator's key between tests (a test may change it)
        "extra": {**FAST_TEST_EXTRA, "poll_interval": 0.2},
    }
    multi_team = airflow_minor() >= (3, 2)  # before 3.2 the viewer's tests skip: no teams needed
    team = {"team_name": TEAM} if multi_team else {}
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local, "kwargs": {"path": str(REPO / "dags")}, **team},
        # No team: in multi-team mode a team's deferred tasks wait for a triggerer of that team,
        # and the deployment's one triggerer serves the tasks of no team.
        {"name": "scratch", "classpath": local, "kwargs": {"path": str(scratch)}},
        {"name": "team-scratch", "classpath": local, "kwargs": {"path": str(team_scratch)}, **team},
    ]
    config: dict[str, Any] = {
        "dag_processor.dag_bundle_config_list": json.dumps(bundles),
        "core.test_connection": "Enabled",
        # Connections are stored encrypted, as in any production deployment.
        "core.fernet_key": Fernet.generate_key().decode(),
        # A review that timed out fails within a second or so, not up to 15 (Airflow's default).
        "scheduler.trigger_timeout_check_interval": 1,
    }
    if multi_team:
        users = {ADMIN: "admin", REVIEWER: f"user:{TEAM}", OUTSIDER: f"user:{OTHER_TEAM}"}
        config["core.multi_team"] = True
    else:
        users = {ADMIN: "admin", REVIEWER: "user", OUTSIDER: "user"}
    airflow = AirflowDeployment(
        REPO / "dags",
        connections={"onemin_default": connection},
        users=users,
        teams=(TEAM, OTHER_TEAM) if multi_team else (),
        config=config,
        env={
            "ONEMIN_OUTPUT_PATH": str(out),
            # The viewer's allowed locations, as tests/support/viewer_support.py sets them.
            f"AIRFLOW__{TEAM.upper()}___ONEMIN__VIEWER_LOCATIONS": str(out),
            # Before 3.2 there are no teams: the deployment-wide setting is the one read.
            "AIRFLOW__ONEMIN__VIEWER_LOCATIONS": f"file://{shared_folder(out) if multi_team else out}",
        },
    )
    airflow.start()
    return SharedDeployment(airflow=airflow, out=out, scratch=scratch, team_scratch=team_scratch)


@pytest.fixture(scope="module")
def shared_deployment(
    onemin_emulator_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> SharedDeployment:
    """
    The session's deployment (started at the first test that asks for it). Tests using it carry
    the ``deployment`` marker: after the last of them in a row it is stopped.
    """
    return _HOLDER.get(onemin_emulator_server, tmp_path_factory)


def stop_shared_deployment_after(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """From ``pytest_runtest_teardown``: stop the deployment once the next test is no deployment test."""
    if item.get_closest_marker(MARKER) and (nextitem is None or not nextitem.get_closest_marker(MARKER)):
        _HOLDER.stop()


def stop_shared_deployment() -> None:
    """At the session's end, in case a test without the marker used it."""
    _HOLDER.stop()


__all__ = [
    "MARKER",
    "SharedDeployment",
    "shared_deployment",
    "stop_shared_deployment",
    "stop_shared_deployment_after",
]
