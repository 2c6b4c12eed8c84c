"""
The real-deployment harness (tests/support/deployment.py) itself, on the session's shared deployment
(tests/support/shared_deployment.py): the four components run, a DAG written after start is parsed within
seconds, a deferrable task runs through the separate triggerer, its log and XCom are readable
through the REST API, and stopping a component leaves no process (the whole deployment's stop
is checked when the last deployment test ends).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.airflow_helpers import REPO
from tests.support.deployment import DeploymentError, descendants, free_port

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


def test_a_deployment_runs_a_deferrable_task_refuses_strangers_and_stops_a_component_whole(
    onemin_emulator, shared_deployment
):
    airflow = shared_deployment.airflow
    # Written after start: the short refresh interval must pick it up.
    shared_deployment.write_dag(
        "probe.py", _DAG.format(image=str(REPO / "dags" / "sample_photos" / "mug.png"))
    )

    # While it is parsed: a component that dies is reported with its name.
    airflow.start_component("broken", "no-such-command")
    with pytest.raises(DeploymentError, match="airflow broken exited"):
        airflow.wait_until("never", lambda: False, timeout=120)
    airflow.processes.pop("broken")
    airflow._failed = False  # the deliberate failure above: remove the home as usual
    # A second triggerer (Airflow runs several side by side), on a log server port of its own; it
    # starts its trigger runner as a child process, which its stop must stop too (below).
    extra = airflow.start_component(
        "triggerer-2", "triggerer", env={"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
    )

    # The generation renders until the scheduler has processed the deferral: a trigger event
    # before that makes the scheduler fail the task (apache/airflow#71580).
    onemin_emulator.set_latency(3600)
    run_id = airflow.trigger("harness_probe")
    airflow.wait_for_executor_report("harness_probe", run_id, "replace")
    assert onemin_emulator.finish_rendering() == 1
    run = airflow.wait_for_run("harness_probe", run_id, timeout=300)
    assert run["state"] == "success", airflow.logs()
    assert airflow.xcom("harness_probe", run_id, "replace", "seeds") == [11]
    log = airflow.task_log("harness_probe", run_id, "replace")
    assert "Deferring" in log and "1 result(s)" in log
    # A triggerer, a process of its own, polled the generation (its lines join the task log).
    assert "Polling generation" in log
    assert onemin_emulator.charges() == 1

    # Refusals.
    assert airflow.api("GET", "/api/v2/dags", user=None, expect=None).status_code == 401
    wrong = requests.post(
        f"{airflow.url}/auth/token", json={"username": "admin", "password": "not-it"}, timeout=30
    )
    assert wrong.status_code == 401

    # Stopping a component stops what it started too. (Stopping the whole deployment is checked
    # the same way when the session's last deployment test ends: tests/support/shared_deployment.py.)
    children = airflow.wait_until(
        "the second triggerer's runner", lambda: descendants(extra.pid), timeout=120
    )
    airflow.stop_component("triggerer-2")
    airflow.processes.pop("triggerer-2")
    assert not [pid for pid in [extra.pid, *children] if _alive(pid)]
