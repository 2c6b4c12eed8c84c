"""
The API key stays secret when the task and the trigger run in separate processes, as they do in
production: a real deployment (the session's shared one, tests/support/shared_deployment.py: api-server,
scheduler, dag-processor, triggerer, LocalExecutor), the connection in the metadata database
(encrypted, added through the REST API), and an emulator that echoes the key it is sent into its
answers (error messages and records).

Each generation renders until the test ends it (or refuses its poll), after the scheduler has
processed the task's deferral: a trigger event that resumes the task before that makes the
scheduler fail it (Airflow's stale-deferral race, apache/airflow#71580), which is not what this
test is about and failed it on a loaded CI machine.

Two deferrable runs: one succeeds (its records, echoing the key, travel from the triggerer to the
worker in the trigger event), one is refused while the triggerer polls (a final 400 whose message
echoes the key: the event's error is raised by a worker process that never loaded the connection,
so Airflow's masker there does not know the key). Then every byte the deployment left behind is
searched for the key and its random part: the metadata database (trigger rows, next_kwargs, XCom,
task instances), every log file under AIRFLOW_HOME, and the task logs served by the api-server.
The deployment is shared, so the scan also covers whatever the other deployment tests left there.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.support.airflow_helpers import REPO

pytestmark = [pytest.mark.deployment, pytest.mark.e2e]

_DAGS = """
from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

for dag_id in ("key_split_success", "key_split_refused_poll"):
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="split: " + dag_id,
            image_url={image!r},
            onemin_conn_id="onemin_key_split",
            deferrable=True,
            poll_interval=0.2,
            min_defer_time=0,
        )
"""


def test_key_never_leaves_the_connection_with_task_and_trigger_in_separate_processes(
    onemin_emulator, shared_deployment
):
    from airflow_provider_onemin.emulator.pytest_plugin import FAST_TEST_EXTRA

    random_part = secrets.token_hex(12)
    key = f"sk-SPLIT-{random_part}"
    onemin_emulator.set_api_key(key)
    onemin_emulator.set_echo_key(True)
    # Held: rendering until the test ends it, once the task has deferred and the scheduler has
    # processed that (the module docstring says why).
    onemin_emulator.set_latency(3600)
    airflow = shared_deployment.airflow
    # Stored as a user stores one, through the REST API: encrypted with the deployment's Fernet key.
    connection = {
        "connection_id": "onemin_key_split",
        "conn_type": "onemin",
        "host": onemin_emulator.url,
        "password": key,
        "extra": json.dumps(FAST_TEST_EXTRA),
    }
    airflow.api("POST", "/api/v2/connections", json=connection, expect=201)
    shared_deployment.write_dag(
        "key_split.py", _DAGS.format(image=str(REPO / "dags" / "sample_photos" / "mug.png"))
    )

    ok = airflow.trigger("key_split_success")
    airflow.wait_for_executor_report("key_split_success", ok, "replace")
    assert onemin_emulator.finish_rendering() == 1
    assert airflow.wait_for_run("key_split_success", ok, timeout=300)["state"] == "success", airflow.logs()
    # The triggerer's next poll of the second run is refused with a 400 that repeats the key.
    refused = airflow.trigger("key_split_refused_poll")
    airflow.wait_for_executor_report("key_split_refused_poll", refused, "replace")
    onemin_emulator.add_fault("bad_request", endpoint="results", message="Bad poll")
    assert airflow.wait_for_run("key_split_refused_poll", refused, timeout=300)["state"] == "failed"

    logs = {
        f"task log of {dag_id}": airflow.task_log(dag_id, run_id, "replace")
        for dag_id, run_id in (("key_split_success", ok), ("key_split_refused_poll", refused))
    }
    # Positive controls: the scan looks where the echoes went.
    assert "Polling generation" in logs["task log of key_split_success"], "the triggerer polled"
    assert "Bad poll (API-KEY ***)" in logs["task log of key_split_refused_poll"], logs
    assert onemin_emulator.charges(key) == 2
    places: dict[str, bytes] = {name: text.encode() for name, text in logs.items()}
    home = Path(airflow.home)
    for path in home.rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_bytes()
    assert any(path.endswith("airflow.db") for path in places), "the raw metadata database is scanned"
    for name, data in places.items():
        for needle in (key, random_part):
            assert needle.encode() not in data, f"the API key leaked into {name}"
