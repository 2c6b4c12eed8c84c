"""
Deferrable mode end to end: real DAG runs (``dag.test()`` and ``airflow dags test``, which run
the trigger inline) against the emulator with a render latency. The worker submits once and
defers; the trigger polls; the task resumes to push XCom and store files. One charge per task,
also when the wait times out and an Airflow retry resumes the same generation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from airflow.sdk import DAG, task

from airflow_provider_onemin.hooks.onemin import OneMinHook
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import SHIPPED_DAGS, airflow_cli, airflow_version, run_dag

#: Tests marked compat also run on every older Airflow minor (.ci/airflow-matrix.sh).

START = datetime(2026, 1, 1)


@pytest.fixture
def no_blocking_wait(monkeypatch):
    """Deferrable tasks must never wait on the worker."""

    def refuse(*args, **kwargs):
        raise AssertionError("a deferrable task polled on the worker instead of deferring")

    monkeypatch.setattr(OneMinHook, "wait_for_result", refuse)


@pytest.mark.compat
def test_mapped_deferrable_tasks_store_results_with_one_charge_each(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, no_blocking_wait
):
    onemin_emulator.set_latency(1.5)
    seen: dict = {}
    with DAG(dag_id="deferrable_mapped", schedule=None, start_date=START) as dag:
        replace = BackgroundReplacerOperator.partial(
            task_id="replace",
            image_url="development/images/mug.png",
            num_images=2,
            deferrable=True,
            poll_interval=0.2,
            output_path=str(output_dir),
        ).expand(prompt=["a beach at dawn", "a snowy forest"])

        @task
        def collect(paths) -> None:
            seen["paths"] = [list(p) for p in paths]

        collect(replace.output)

    result = run_dag(dag)

    assert result.state == "success"
    assert onemin_emulator.charges() == 2
    assert all(record.is_async for record in onemin_emulator.records)
    for index in (0, 1):
        ti = result.task("replace", index)
        assert ti.state == "success" and ti.try_number == 1
        assert len(ti.xcom["return_value"]) == 2
        assert ti.xcom["ai_record_uuid"] in {r.uuid for r in onemin_emulator.records}
        for stored in ti.xcom["stored_paths"]:
            path = stored.removeprefix("file://")
            assert os.path.getsize(path) > 0
    assert sorted(map(len, seen["paths"])) == [2, 2]


@pytest.mark.compat
def test_timeout_is_retried_and_resumes_the_same_generation(
    airflow_db, onemin_emulator, onemin_conn_env, no_blocking_wait
):
    """The wait times out: the try fails as retryable; the next try resumes it, paying nothing."""
    # The render ends only when the first try has failed (its retry callback runs in this process
    # under dag.test()), so the first wait times out however slow the machine is.
    onemin_emulator.set_latency(3600)

    def end_the_render(context) -> None:
        for record in onemin_emulator.records:
            record.ready_at = 0.0

    with DAG(dag_id="deferrable_timeout_retry", schedule=None, start_date=START) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="a beach at dawn",
            image_url="development/images/mug.png",
            deferrable=True,
            poll_interval=0.1,
            poll_timeout=0.3,
            retries=3,
            retry_delay=timedelta(0),
            on_retry_callback=end_the_render,
        )

    result = run_dag(dag)

    ti = result.task("replace")
    assert result.state == "success"
    assert ti.try_number == 2, "the first wait timed out, the retry resumed the generation"
    assert onemin_emulator.charges() == 1
    assert len(onemin_emulator.records) == 1
    assert ti.xcom["ai_record_uuid"] == onemin_emulator.records[0].uuid


@pytest.mark.compat
def test_trigger_reads_a_connection_stored_in_the_metadata_db(
    airflow_db, onemin_emulator, monkeypatch, no_blocking_wait
):
    """No AIRFLOW_CONN_* variable: the inline trigger gets the connection through the execution API."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    monkeypatch.delenv("AIRFLOW_CONN_ONEMIN_DEFAULT", raising=False)
    conn_id = "onemin_in_db"
    with create_session() as session:
        session.query(Connection).filter_by(conn_id=conn_id).delete()
        session.add(
            Connection(
                conn_id=conn_id,
                conn_type="onemin",
                host=onemin_emulator.url,
                password=onemin_emulator.api_key,
                extra=json.dumps({"poll_interval": 0.2}),
            )
        )
    try:
        onemin_emulator.set_latency(1.0)
        with DAG(dag_id="deferrable_db_connection", schedule=None, start_date=START) as dag:
            BackgroundReplacerOperator(
                task_id="replace",
                prompt="a beach at dawn",
                image_url="development/images/mug.png",
                onemin_conn_id=conn_id,
                deferrable=True,
            )
        result = run_dag(dag)
    finally:
        with create_session() as session:
            session.query(Connection).filter_by(conn_id=conn_id).delete()

    assert result.state == "success"
    assert result.task("replace").xcom["return_value"]
    assert onemin_emulator.charges() == 1


@pytest.mark.compat
def test_default_deferrable_comes_from_the_operators_section():
    """An operator built without ``deferrable`` follows ``[operators] default_deferrable``."""
    code = (
        "from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator as O\n"
        "arguments = dict(prompt='a beach', image_url='development/images/mug.png')\n"
        "print(O(task_id='default', **arguments).deferrable, O(task_id='off', deferrable=False, **arguments).deferrable)\n"
    )
    for setting, expected in (("True", "True False"), ("False", "False False")):
        env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": setting}
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
        )
        assert run.stdout.strip().splitlines()[-1:] == [expected], run.stderr


@pytest.mark.e2e
def test_airflow_dags_test_cli_defers_with_one_charge(airflow_db, onemin_emulator, tmp_path):
    """The example DAG through ``airflow dags test`` with default_deferrable on and the key in the DB."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    onemin_emulator.set_latency(1.5)
    # Written straight into the metadata database the CLI reads (`airflow connections add` would
    # cost a process start): the key is nowhere in the CLI's environment.
    with create_session() as session:
        session.query(Connection).filter_by(conn_id="onemin_default").delete()
        session.add(
            Connection(
                conn_id="onemin_default",
                conn_type="onemin",
                host=onemin_emulator.url,
                password=onemin_emulator.api_key,
                extra=json.dumps({"poll_interval": 0.2}),
            )
        )
    if airflow_version() < (3, 1):  # 3.0's `dags test` does not parse the DAG (and its asset) first
        reserialized = airflow_cli(
            "dags", "reserialize", env={**SHIPPED_DAGS, "ONEMIN_OUTPUT_PATH": str(tmp_path / "out")}
        )
        assert reserialized.returncode == 0, reserialized.stderr
    try:
        run = airflow_cli(
            "dags",
            "test",
            "onemin_background_replacer_example",
            env={
                **SHIPPED_DAGS,
                "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
                "ONEMIN_OUTPUT_PATH": str(tmp_path / "out"),
            },
            timeout=240,
        )
    finally:
        with create_session() as session:
            session.query(Connection).filter_by(conn_id="onemin_default").delete()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "Deferring" in output
    assert "running trigger in line" in output
    assert "state=success" in output
    assert onemin_emulator.charges() == 1
    assert len(list((tmp_path / "out").rglob("*.png"))) == 2
