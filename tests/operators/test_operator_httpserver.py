"""
The operator against a scripted loopback server (pytest-httpserver): exact request body and
headers, XCom results for a downstream task, and no request at all for invalid input.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from airflow.sdk import DAG, task

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import run_dag

API_KEY = "scripted-test-key-7f3a"
UUID = "e40dd9ef-0944-4ce5-bc90-1edd2548619a"


def _record(status: str, results: list[str] | None = None) -> dict:
    record = {"uuid": UUID, "model": "ideogram-3", "type": "BACKGROUND_REPLACER", "status": status}
    if results is not None:
        record["aiRecordDetail"] = {
            "promptObject": {},
            "resultObject": results,
            "responseObject": {
                "created": "2026-04-15T10:30:00Z",
                "data": [
                    {"url": f"https://upstream.example/{i}.png", "seed": 100 + i, "resolution": "1024x1024"}
                    for i in range(len(results))
                ],
            },
        }
    return {"aiRecord": record}


@pytest.fixture
def scripted_conn(httpserver, monkeypatch):
    conn = {
        "conn_type": "onemin",
        "host": httpserver.url_for("/").rstrip("/"),
        "password": API_KEY,
        "extra": {"poll_interval": 0.05, "backoff_initial": 0.01, "max_retry_wait": 2},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    return httpserver


def test_dag_sends_exact_body_and_downstream_gets_paths(airflow_db, scripted_conn):
    server = scripted_conn
    results = [
        "development/images/r0.png",
        "development/images/r1.png",
        "development/images/r2.png",
        "development/images/r3.png",
    ]
    server.expect_ordered_request(
        "/api/features",
        method="POST",
        headers={"API-KEY": API_KEY},
        json={
            "type": "BACKGROUND_REPLACER",
            "model": "ideogram-3",
            "async": True,
            "promptObject": {
                "prompt": "a sunlit kitchen counter, morning light",
                "imageUrl": "development/images/mug.png",
                "num_images": 4,
                "seed": 42,
            },
        },
    ).respond_with_json(_record("PROCESSING"))
    server.expect_ordered_request(
        f"/api/results/{UUID}", method="GET", headers={"API-KEY": API_KEY}
    ).respond_with_json(_record("SUCCESS", results))

    seen: dict = {}
    with DAG(dag_id="scripted_exact_body", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        replace = BackgroundReplacerOperator(
            task_id="replace",
            prompt="a sunlit kitchen counter, morning light",
            image_url="development/images/mug.png",
            num_images="{{ 2 + 2 }}",
            seed="42",
        )

        @task
        def consume(paths: list[str]) -> int:
            seen["paths"] = paths
            return len(paths)

        consume(replace.output)

    result = run_dag(dag)
    assert result.state == "success", result.tasks
    server.check_assertions()
    replace_ti = result.task("replace")
    assert replace_ti.xcom["return_value"] == results
    assert replace_ti.xcom["ai_record_uuid"] == UUID
    assert replace_ti.xcom["seeds"] == [100, 101, 102, 103]
    assert replace_ti.xcom["result_urls"][0] == "https://upstream.example/0.png"
    assert result.task("consume").xcom["return_value"] == 4


def test_invalid_rendered_values_fail_without_any_request(airflow_db, scripted_conn):
    server = scripted_conn
    with DAG(dag_id="scripted_invalid", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="a beach",
            image_url="development/images/mug.png",
            num_images="{{ 3 * 3 }}",
            seed="{{ 'not-a-number' }}",
            retries=3,
        )
    result = run_dag(dag)
    assert result.state == "failed"
    ti = result.task("replace")
    assert ti.state == "failed"
    assert ti.try_number == 1, "a validation error must not use Airflow retries"
    assert len(server.log) == 0, "no request may reach the server for invalid input"
