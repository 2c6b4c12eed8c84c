"""
A real deployment for the viewer's tests (HTTP and browser): this repository's ``dags/`` folder,
results stored under a temporary folder, the emulator as 1min.ai, and three users:

* ``admin`` (admin);
* ``reviewer``, a user of the ``marketing`` team, which owns the DAG bundle (may answer reviews);
* ``outsider``, a user of the ``finance`` team: logged in, but not allowed to see these DAGs.

Teams are Airflow's own multi-team mode (3.2+), so "forbidden" is decided by the api-server's
auth manager exactly as for the rest of the UI.

What the api-server may read is configured as a deployment would (``[onemin] viewer_locations``):
the ``marketing`` team's setting names the output folder; the deployment-wide setting names only
:func:`shared_folder` (a sibling of it), which the team's DAGs must therefore not be served from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.airflow_helpers import REPO
from tests.support.deployment import AirflowDeployment

ADMIN, REVIEWER, OUTSIDER = "admin", "reviewer", "outsider"
TEAM, OTHER_TEAM = "marketing", "finance"


def airflow_minor() -> tuple[int, int]:
    from airflow import __version__
    from packaging.version import Version

    version = Version(__version__)
    return version.major, version.minor


def shared_folder(out: Path) -> Path:
    """A folder beside ``out`` (same name and a suffix) that only the deployment-wide setting names."""
    return out.with_name(out.name + "-shared")


def wait_until_listed(airflow: Any, dag_id: str, timeout: float = 300) -> None:
    """
    Wait until the dag-processor has parsed a new DAG, through the DAG list only.

    Asking for a DAG by id before it exists (``GET /api/v2/dags/<id>``, what ``trigger`` waits
    with) makes the api-server cache "no team" for that id for ``[core] team_name_cache_ttl``
    (30 s; ``DagModel.get_team_name``): meanwhile every user may read a team's new DAG, and the
    viewer applies the deployment-wide locations to it. Seen here as a team DAG readable by
    another team's user right after its run.
    """
    airflow.wait_until(
        f"DAG {dag_id} to be listed",
        lambda: airflow.api("GET", "/api/v2/dags", params={"dag_id_pattern": dag_id}).json()["total_entries"],
        timeout=timeout,
    )


def viewer_deployment(
    out: Path, emulator: Any, *, dags_folder: Path = REPO / "dags", team_dags: Path | None = None
) -> AirflowDeployment:
    """
    The deployment (not started): use it as a context manager.

    :param team_dags: a second folder of DAGs of the team (a test's own DAG files).
    """
    from airflow_provider_onemin.emulator.pytest_plugin import FAST_TEST_EXTRA

    connection = {
        "conn_type": "onemin",
        "host": emulator.url,
        "password": emulator.api_key,
        "extra": {**FAST_TEST_EXTRA, "poll_interval": 0.2},
    }
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local, "kwargs": {"path": str(dags_folder)}, "team_name": TEAM}
    ]
    if team_dags is not None:
        bundles.append(
            {"name": "team-dags", "classpath": local, "kwargs": {"path": str(team_dags)}, "team_name": TEAM}
        )
    return AirflowDeployment(
        dags_folder,
        connections={"onemin_default": connection},
        users={ADMIN: "admin", REVIEWER: f"user:{TEAM}", OUTSIDER: f"user:{OTHER_TEAM}"},
        teams=(TEAM, OTHER_TEAM),
        config={
            "core.multi_team": True,
            "dag_processor.dag_bundle_config_list": json.dumps(bundles),
            "core.test_connection": "Enabled",
        },
        env={
            "ONEMIN_OUTPUT_PATH": str(out),
            f"AIRFLOW__{TEAM.upper()}___ONEMIN__VIEWER_LOCATIONS": str(out),
            "AIRFLOW__ONEMIN__VIEWER_LOCATIONS": f"file://{shared_folder(out)}",
        },
    )
