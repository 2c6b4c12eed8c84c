"""
The API key never shows up anywhere a run leaves traces, including failing runs.

A DAG runs through ``airflow dags test`` (a separate process, as in production) with a
recognisable key ``sk-SCAN-<random>``: one task succeeds (templated fields, XCom, stored files),
one is refused with 401 under a second scan key, one gets a 500 (unknown outcome). The emulator
echoes the key it was sent back in every answer (error messages and records, as a careless server
might), so the key reaches the provider and only the provider's own redaction keeps it out (with
that redaction removed, this test fails: the key shows up in the logs and XCom). Then every byte
the run left behind is searched for either key and for their random parts: the CLI's output (the
task logs and the raised messages), every file under AIRFLOW_HOME (task log files and the
metadata database with its XCom, rendered template fields, task state store and task instance
rows) and the output folder. Positive controls prove the scan looked at the right places.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import textwrap
from pathlib import Path

import pytest

from tests.support.airflow_helpers import airflow_cli

DAG_ID = "onemin_key_scan"

DAG_FILE = textwrap.dedent(
    """
    from __future__ import annotations

    import os
    from datetime import datetime

    from airflow.sdk import DAG

    from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

    with DAG(dag_id="onemin_key_scan", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        succeeds = BackgroundReplacerOperator(
            task_id="succeeds",
            prompt="{{ 'scan: a quiet lake at ' ~ 'dawn' }}",
            image_url="development/images/mug.png",
            num_images="{{ 1 + 1 }}",
            output_path=os.environ["SCAN_OUTPUT"],
        )
        refused_key = BackgroundReplacerOperator(
            task_id="refused_key",
            prompt="scan: a red barn",
            image_url="development/images/mug.png",
            onemin_conn_id="onemin_scan_wrong_key",
            retries=2,
            trigger_rule="all_done",
        )
        server_error = BackgroundReplacerOperator(
            task_id="server_error",
            prompt="scan: an old bridge",
            image_url="development/images/mug.png",
            retries=2,
            trigger_rule="all_done",
        )
        succeeds >> refused_key >> server_error
    """
)


def _conn(url: str, key: str) -> str:
    extra = {"backoff_initial": 0.01, "backoff_max": 0.05, "max_retry_wait": 2, "poll_interval": 0.05}
    return json.dumps({"conn_type": "onemin", "host": url, "password": key, "extra": extra})


def _files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


@pytest.mark.e2e
def test_scan_keys_absent_from_logs_xcom_rendered_fields_db_and_errors(airflow_db, onemin_emulator, tmp_path):
    good_random, bad_random = secrets.token_hex(12), secrets.token_hex(12)
    good_key, bad_key = f"sk-SCAN-{good_random}", f"sk-SCAN-{bad_random}"
    needles = [good_key, bad_key, good_random, bad_random]
    onemin_emulator.set_api_key(good_key)
    onemin_emulator.set_echo_key(True)
    # Call 1 (succeeds) passes untouched, the 401 is answered before any fault is used, and
    # server_error's POST gets the 500.
    onemin_emulator.add_fault("delay", seconds=0)
    onemin_emulator.add_fault("status", code=500)

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "onemin_key_scan.py").write_text(DAG_FILE)
    output = tmp_path / "out"
    run = airflow_cli(
        "dags",
        "test",
        DAG_ID,
        env={
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW_CONN_ONEMIN_DEFAULT": _conn(onemin_emulator.url, good_key),
            "AIRFLOW_CONN_ONEMIN_SCAN_WRONG_KEY": _conn(onemin_emulator.url, bad_key),
            "SCAN_OUTPUT": str(output),
        },
        timeout=240,
    )
    cli_output = run.stdout + run.stderr

    # Positive controls: the run did what the scan relies on.
    assert f"Submitting the paid generation to {onemin_emulator.url}" in cli_output, cli_output[-3000:]
    assert "OneMinAuthenticationError" in cli_output
    assert "HTTP 401" in cli_output
    assert "OneMinUnknownOutcomeError" in cli_output and "HTTP 500" in cli_output
    assert onemin_emulator.charges(good_key) == 1
    stored = sorted(output.rglob("*.png"))
    assert len(stored) == 2
    home = Path(airflow_db)
    db_file = home / "airflow.db"
    with sqlite3.connect(db_file) as db:
        xcom_rows = db.execute("SELECT value FROM xcom WHERE dag_id = ?", (DAG_ID,)).fetchall()
        rendered = db.execute(
            "SELECT rendered_fields FROM rendered_task_instance_fields WHERE dag_id = ?", (DAG_ID,)
        ).fetchall()
    assert xcom_rows, "the successful task pushed XCom"
    assert any("scan: a quiet lake at dawn" in str(row) for row in rendered), "rendered fields were stored"

    # The scan: CLI output, every file under AIRFLOW_HOME (logs, metadata DB) and the outputs.
    places: dict[str, bytes] = {"airflow dags test output": cli_output.encode()}
    for path in _files_under(home, output):
        places[str(path)] = path.read_bytes()
    assert any(b"scan: a quiet lake at dawn" in data for name, data in places.items() if "airflow.db" in name)
    for name, data in places.items():
        for needle in needles:
            assert needle.encode() not in data, f"the API key (or its random part) leaked into {name}"
    for row in [*xcom_rows, *rendered]:
        for needle in needles:
            assert needle not in str(row)
