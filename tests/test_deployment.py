"""
The real-deployment harness (tests/deployment.py) itself: it starts the four components, a DAG
written after start is parsed within seconds, a deferrable task runs through the separate
triggerer, its log and XCom are readable through the REST API, and stopping leaves no process.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.airflow_helpers import REPO
from tests.deployment import AirflowDeployment, DeploymentError, descendants

pytestmark = pytest.mark.deployment

_DAG = """
from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

with DAG(dag_id="harness_probe", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    BackgroundReplacerOperator(
        task_id="replace",
        prompt="a quiet harbour at dawn",
        image_url={image!r},
        seed=11,
        deferrable=True,
        poll_interval=0.2,
    )
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_deployment_runs_a_deferrable_task_refuses_strangers_and_leaves_no_process(
    onemin_emulator, tmp_path
):
    from airflow_provider_onemin.emulator.pytest_plugin import FAST_TEST_EXTRA

    dags = tmp_path / "dags"
    dags.mkdir()
    conn = {
        "conn_type": "onemin",
        "host": onemin_emulator.url,
        "password": onemin_emulator.api_key,
        "extra": FAST_TEST_EXTRA,
    }
    deployment = AirflowDeployment(dags, connections={"onemin_default": conn}, users={"admin": "admin"})
    with deployment as airflow:
        # Written after start: the short refresh interval must pick it up.
        (dags / "probe.py").write_text(_DAG.format(image=str(REPO / "dags" / "sample_photos" / "mug.png")))
        run_id = airflow.trigger("harness_probe")
        run = airflow.wait_for_run("harness_probe", run_id, timeout=300)
        assert run["state"] == "success", airflow.logs()
        assert airflow.xcom("harness_probe", run_id, "replace", "seeds") == [11]
        log = airflow.task_log("harness_probe", run_id, "replace")
        assert "Deferring" in log and "1 result(s)" in log
        # The triggerer, a process of its own, polled the generation (its lines join the task log).
        assert "Polling generation" in log

        # Refusals, and a component that dies is reported with its name.
        assert airflow.api("GET", "/api/v2/dags", user=None, expect=None).status_code == 401
        wrong = requests.post(
            f"{airflow.url}/auth/token", json={"username": "admin", "password": "not-it"}, timeout=30
        )
        assert wrong.status_code == 401
        airflow.start_component("broken", "no-such-command")
        with pytest.raises(DeploymentError, match="airflow broken exited"):
            airflow.wait_until("never", lambda: False, timeout=120)
        airflow.processes.pop("broken")
        airflow._failed = False  # the deliberate failure above: remove the home as usual

        pids = {p.pid for p in airflow.processes.values()}
        pids |= {child for pid in list(pids) for child in descendants(pid)}
        home = airflow.home
    assert not [pid for pid in pids if _alive(pid)]
    assert not home.exists()
    assert onemin_emulator.charges() == 1
