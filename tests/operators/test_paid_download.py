"""
A paid generation whose result download fails: the error says it is paid for, names its uuid and
the result, hides the signed link's query and the key, is retryable, and the retry downloads
again (fresh signed link, polled by uuid) without paying again. Real parts: the emulator's faults
on its download route, the real hook, and real DAG runs (``dag.test()``, real Airflow retries).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, chain

from airflow_provider_onemin.compat import AirflowFailException
from airflow_provider_onemin.exceptions import OneMinResultDownloadError, OneMinResultStorageError
from airflow_provider_onemin.hooks.onemin import OneMinHook
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from airflow_provider_onemin.storage.results import store_results
from tests.support.airflow_helpers import run_dag

pytestmark = pytest.mark.compat

START = datetime(2026, 1, 1)
IDS = {"dag_id": "shop", "run_id": "manual__2026-04-15", "task_id": "replace", "map_index": -1}
#: Two attempts per download, so a fault with count=2 outlasts the hook's own retries.
QUICK = {
    "backoff_initial": 0.01,
    "backoff_max": 0.05,
    "max_retry_wait": 2,
    "poll_interval": 0.05,
    "max_attempts": 2,
}

_EMULATOR: Any = None
#: What each task's try 1 raised, by task id.
_RAISED: dict[str, BaseException] = {}


@pytest.fixture
def quick_conn(onemin_emulator, monkeypatch) -> Any:
    conn = {
        "conn_type": "onemin",
        "host": onemin_emulator.url,
        "password": onemin_emulator.api_key,
        "extra": QUICK,
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    return onemin_emulator


def _paid_generation(hook: OneMinHook) -> dict[str, Any]:
    body = {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {
            "prompt": "a beach at dawn",
            "imageUrl": "development/images/mug.png",
            "num_images": 1,
        },
    }
    record = hook.run_feature(body)
    return record if hook.check_status(record) else hook.wait_for_result(record["uuid"], poll_interval=0.02)


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ({"kind": "status", "code": 503, "count": 2}, "HTTP 503"),
        ({"kind": "status", "code": 403, "count": 2}, "HTTP 403"),
        ({"kind": "reset_before_charge", "count": 2}, "lost the connection"),
    ],
)
def test_download_error_names_the_paid_generation_not_the_signed_query(
    quick_conn, output_dir: Path, fault: dict[str, Any], says: str
) -> None:
    hook = OneMinHook()
    record = _paid_generation(hook)
    urls = hook.result_download_urls(record)
    assert "?token=" in urls[0], "the emulator signs the first result's link"
    token = urls[0].split("?token=", 1)[1]
    quick_conn.add_fault(endpoint="download", **fault)
    with pytest.raises(OneMinResultDownloadError) as caught:
        store_results(hook, urls, str(output_dir), **IDS, uuid=record["uuid"])
    message = str(caught.value)
    assert record["uuid"] in message
    assert "result 1 of 1" in message
    assert "paid for" in message and "without paying again" in message
    assert says in message
    # The hook's own framing (how often it retried, its advice for API calls) is not repeated.
    assert "gave up" not in message and "Retried automatically" not in message
    assert "Last error" not in message and "failed: GET" not in message
    assert token not in message and "token=" not in message
    assert quick_conn.api_key not in message
    assert "password field" not in message, "a signed link's 403 is not a bad API key"
    assert isinstance(caught.value, OneMinResultStorageError)
    assert not isinstance(caught.value, AirflowFailException), "Airflow retries must be spent on it"
    assert (caught.value.uuid, caught.value.index) == (record["uuid"], 0)
    assert [p for p in output_dir.rglob("*") if p.is_file()] == [], "nothing half-written"
    assert quick_conn.charges() == 1


class RecordingOperator(BackgroundReplacerOperator):
    """Queues ``faults_on_first_try`` when try 1 starts; keeps what try 1 raised."""

    def __init__(self, *, faults_on_first_try: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults_on_first_try = faults_on_first_try

    def execute(self, context: Any) -> list[str]:
        if context["ti"].try_number == 1:
            for fault in self.faults_on_first_try:
                _EMULATOR.add_fault(**fault)
        return self._recording(context, super().execute, context)

    def execute_complete(self, context: Any, event: Any = None, **kwargs: Any) -> list[str]:
        return self._recording(context, super().execute_complete, context, event, **kwargs)

    def _recording(self, context: Any, method: Any, *args: Any, **kwargs: Any) -> list[str]:
        try:
            return method(*args, **kwargs)
        except BaseException as error:
            if context["ti"].try_number == 1 and type(error).__name__ != "TaskDeferred":
                _RAISED[self.task_id] = error
            raise


@pytest.mark.e2e
def test_failed_download_is_retried_without_paying_again(airflow_db, quick_conn, output_dir: Path) -> None:
    global _EMULATOR
    _EMULATOR = quick_conn
    _RAISED.clear()
    common = {
        "image_url": "development/images/mug.png",
        "output_path": str(output_dir),
        "retries": 1,
        "retry_delay": timedelta(0),
    }
    failing = {
        "download_503": {"kind": "status", "code": 503, "count": 2, "endpoint": "download"},
        "download_reset": {"kind": "reset_before_charge", "count": 2, "endpoint": "download"},
        "download_403_deferred": {"kind": "status", "code": 403, "count": 2, "endpoint": "download"},
    }
    with DAG(dag_id="paid_download_failures", schedule=None, start_date=START) as dag:
        # One after the other: a task's faults are queued on the shared emulator for its own downloads.
        tasks = [
            RecordingOperator(
                task_id=task_id,
                prompt=f"paid download: {task_id}",
                faults_on_first_try=[fault],
                deferrable=task_id.endswith("_deferred"),
                poll_interval=0.05,
                **common,
            )
            for task_id, fault in failing.items()
        ]
        tasks.append(
            RecordingOperator(
                task_id="signed_link_expired",
                prompt="paid download: signed_link_expired",
                faults_on_first_try=[{"kind": "expired_link", "endpoint": "download"}],
                **common,
            )
        )
        chain(*tasks)

    result = run_dag(dag)

    for task_id in failing:
        ti = result.task(task_id)
        (generation,) = [g for g in quick_conn.records if g.prompt == f"paid download: {task_id}"]
        assert (ti.state, ti.try_number) == ("success", 2), task_id
        assert generation.charged, task_id
        error = _RAISED[task_id]
        assert isinstance(error, OneMinResultDownloadError), (task_id, error)
        message = str(error)
        assert generation.uuid in message and "result 1 of 1" in message, message
        assert "without paying again" in message, message
        assert generation.token not in message and quick_conn.api_key not in message, message
        (stored,) = ti.xcom["stored_paths"]
        assert Path(stored.removeprefix("file://")).is_file(), stored
    # A signed link that expired between the poll and the download: polled again (free), fresh link.
    expired = result.task("signed_link_expired")
    assert (expired.state, expired.try_number) == ("success", 1)
    assert "signed_link_expired" not in _RAISED
    assert quick_conn.charges() == len(failing) + 1, "every generation paid exactly once"
    assert quick_conn.faults == []
    assert not [p for p in output_dir.rglob("*") if p.name.endswith(".part")], "no temporary file left"
