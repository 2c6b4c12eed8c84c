"""
The submission-record store of Airflow minors without the task state store (3.0-3.2): Airflow
Variables, written and read by real tasks (``dag.test()``) through the real Task SDK and execution
API, on whichever Airflow this venv has. The metadata database is the judge of what was stored.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG, task

from airflow_provider_onemin.exceptions import OneMinSubmissionStoreError
from airflow_provider_onemin.submissions.stores import submission_store
from airflow_provider_onemin.submissions.variable_store import VariableSubmissionStore
from tests.support.airflow_helpers import airflow_version, run_dag

pytestmark = pytest.mark.compat

START = datetime(2026, 1, 1)
RECORD = {"request_hash": "ab" * 32, "uuid": None, "submitted_at": "2026-04-15T10:30:00+00:00"}
#: Every id Airflow allows may be long, and run ids may carry "/": neither may reach the key.
HOSTILE = {
    "dag_id": "d" * 250,
    "task_id": "group." + "t" * 240,
    "run_id": "manual__2026-01-01T00:00:00+00:00/partner/ünïcode run",
    "map_index": 7,
}


def _variables() -> dict[str, tuple[Any, str | None]]:
    """Every Variable in the metadata database: key -> (JSON value, description)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        return {v.key: (json.loads(v.val), v.description) for v in session.query(Variable)}


def _clear_variables() -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).delete()


@pytest.fixture
def no_variables(airflow_db):
    _clear_variables()
    yield
    _clear_variables()


def test_round_trip_in_a_real_task_with_a_hostile_identity(no_variables):
    with DAG(dag_id="variable_store_round_trip", schedule=None, start_date=START) as dag:

        @task
        def write_read_delete() -> dict[str, Any]:
            store = VariableSubmissionStore(**HOSTILE)
            assert store.get("onemin_submission") is None
            store.set("onemin_submission", RECORD)
            seen = store.get("onemin_submission")
            store.set("onemin_submission", {**RECORD, "uuid": "u-1"})
            updated = store.get("onemin_submission")
            other_run = VariableSubmissionStore(**{**HOSTILE, "run_id": HOSTILE["run_id"] + "2"})
            return {
                "seen": seen,
                "updated": updated,
                # a bool: Airflow 3.0's execution API refuses a None inside an XCom value
                "other_run_is_empty": other_run.get("onemin_submission") is None,
                "key": store.variable_key("onemin_submission"),
            }

        write_read_delete()

    result = run_dag(dag)

    out = result.task("write_read_delete").xcom["return_value"]
    assert result.state == "success"
    assert out["seen"] == RECORD and out["updated"] == {**RECORD, "uuid": "u-1"}
    assert out["other_run_is_empty"] is True, "another DAG run of the same task has its own record"
    stored = _variables()
    assert list(stored) == [out["key"]], "one Variable, under the key the store names"
    key = out["key"]
    assert len(key) <= 250 and re.fullmatch(r"[A-Za-z0-9_.-]+", key), key
    value, description = stored[key]
    assert value == {**RECORD, "uuid": "u-1"}
    for part in ("d" * 250, "group." + "t" * 240, HOSTILE["run_id"], "map_index=7"):
        assert part in description, "a person can tell whose record it is"


def test_retries_share_the_record_and_task_instances_do_not(no_variables):
    """Try 2 reads what try 1 wrote; two mapped instances get separate records."""
    with DAG(dag_id="variable_store_scope", schedule=None, start_date=START) as dag:

        @task(retries=1, retry_delay=timedelta(0))
        def remember(index: int, **context: Any) -> dict[str, Any]:
            store = submission_store(context)
            ti = context["ti"]
            if ti.try_number == 1:
                store.set("onemin_submission", {**RECORD, "uuid": f"uuid-{index}"})
                raise RuntimeError("staged crash after saving")
            return {"store": type(store).__name__, "seen": store.get("onemin_submission")}

        remember.expand(index=[0, 1])

    run = run_dag(dag)

    for index in (0, 1):
        ti = run.task("remember", index)
        assert (ti.state, ti.try_number) == ("success", 2)
        out = ti.xcom["return_value"]
        assert out["seen"] == {**RECORD, "uuid": f"uuid-{index}"}
    uses_task_state_store = airflow_version() >= (3, 3)
    assert out["store"] == ("TaskStateStore" if uses_task_state_store else "VariableSubmissionStore")
    assert len(_variables()) == (0 if uses_task_state_store else 2), "one Variable per map index"


def test_delete_removes_the_variable_and_tolerates_a_missing_one(no_variables):
    with DAG(dag_id="variable_store_delete", schedule=None, start_date=START) as dag:

        @task
        def set_then_delete() -> bool:
            store = VariableSubmissionStore(**HOSTILE)
            store.set("onemin_submission", RECORD)
            store.delete("onemin_submission")
            store.delete("onemin_submission")
            return store.get("onemin_submission") is None

        set_then_delete()

    result = run_dag(dag)
    assert result.task("set_then_delete").xcom["return_value"] is True
    assert _variables() == {}


def test_a_write_that_does_not_stick_raises_before_anything_else(no_variables, monkeypatch):
    """
    A secrets backend defining the same key wins over the database on read: Airflow writes the
    Variable, logs a warning and reads the other value back. The store must notice and raise.
    """
    key = VariableSubmissionStore(**HOSTILE).variable_key("onemin_submission")
    monkeypatch.setenv(f"AIRFLOW_VAR_{key.upper()}", json.dumps({"someone": "else"}))
    with DAG(dag_id="variable_store_shadowed", schedule=None, start_date=START) as dag:

        @task
        def write() -> str:
            try:
                VariableSubmissionStore(**HOSTILE).set("onemin_submission", RECORD)
            except OneMinSubmissionStoreError as error:
                return str(error)
            return "no error"

        write()

    result = run_dag(dag)
    message = result.task("write").xcom["return_value"]
    assert "did not stick" in message and key in message, message


@pytest.mark.skipif(
    airflow_version()[:2] != (3, 0), reason="only Airflow 3.0's execution API refuses '/' in a Variable key"
)
def test_a_refused_write_that_airflow_only_logs_is_caught_by_reading_back(no_variables):
    """
    Airflow 3.0 answers 404 to a key with '/'. Under a real supervisor ``Variable.set`` only logs
    that (the read-back catches it); in ``dag.test()`` the error surfaces. Either way: an error.
    """

    class SlashKeys(VariableSubmissionStore):
        def variable_key(self, key: str) -> str:
            return "onemin/" + super().variable_key(key)

    with DAG(dag_id="variable_store_refused", schedule=None, start_date=START) as dag:

        @task
        def write() -> str:
            try:
                SlashKeys(**HOSTILE).set("onemin_submission", RECORD)
            except OneMinSubmissionStoreError as error:
                return str(error)
            return "no error"

        write()

    result = run_dag(dag)
    message = result.task("write").xcom["return_value"]
    assert "did not stick" in message or "Could not save" in message, message
    assert _variables() == {}


def test_a_succeeded_task_leaves_no_record_variable_behind(no_variables, onemin_emulator, onemin_conn_env):
    """Records must not pile up: once Airflow recorded the success, the Variable goes (3.0-3.2)."""
    from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

    with DAG(dag_id="variable_store_bounded", schedule=None, start_date=START) as dag:
        BackgroundReplacerOperator(
            task_id="replace", prompt="bounded: a lighthouse at noon", image_url="development/images/mug.png"
        )

    result = run_dag(dag)

    assert result.task("replace").state == "success"
    assert onemin_emulator.charges() == 1
    assert _variables() == {}, "no record is left once the task succeeded"
