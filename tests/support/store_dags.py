"""
The DAG the GCS and Azure storage tests run (tests/storage/test_storage_gcs_dags.py and
test_storage_azure_dags.py): the S3 cases that matter, on another store, in one DAG run twice.

The first run pays for what succeeds and refuses the rest before paying; the second run (``reuse``)
must pay nothing at all. The judge is the 1min.ai emulator's own charge counter and the store as
its server lists it, never the operator's view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.airflow_helpers import DagRunResult, run_dag

PHOTOS = Path(__file__).resolve().parents[2] / "dags" / "sample_photos"
MISSING_BUCKET = "onemin-no-such-bucket"
PAID_PROMPT = "a sunlit kitchen counter"


@dataclass
class StoreCase:
    """One store: where the DAG reads and writes, and the extra tasks only it has."""

    dag_id: str
    input_uri: str
    output_path: str
    missing_bucket_output: str
    missing_input_uri: str
    extra_tasks: dict[str, dict[str, Any]]


@dataclass
class StoreRuns:
    first: DagRunResult
    second: DagRunResult
    emulator: Any
    charges_after_first: int


def generations(emulator: Any, prompt: str) -> int:
    """How many generations the emulator made for ``prompt`` (each one charged)."""
    return sum(1 for g in emulator.records if g.prompt_object["prompt"] == prompt)


def run_store_dag(emulator: Any, case: StoreCase) -> StoreRuns:
    """Build the DAG of ``case`` and run it twice against ``emulator``."""
    from airflow.sdk import DAG

    from airflow_provider_onemin.emulator.pytest_plugin import CONN_ENV_VAR, FAST_TEST_EXTRA
    from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

    emulator.reset(config=True)
    conn = {
        "conn_type": "onemin",
        "host": emulator.url,
        "password": emulator.api_key,
        "extra": FAST_TEST_EXTRA,
    }
    common = {"retries": 2, "retry_delay": timedelta(0)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONN_ENV_VAR, json.dumps(conn))
        with DAG(dag_id=case.dag_id, schedule=None, start_date=datetime(2026, 1, 1)) as dag:
            BackgroundReplacerOperator(
                task_id="store_in_store_out",
                prompt=PAID_PROMPT,
                image_url=case.input_uri,
                num_images=2,
                output_path=case.output_path,
                reuse=True,
                **common,
            )
            BackgroundReplacerOperator(
                task_id="missing_bucket",
                prompt="a missing bucket",
                image_url=str(PHOTOS / "sneaker.jpg"),
                output_path=case.missing_bucket_output,
                **common,
            )
            BackgroundReplacerOperator(
                task_id="missing_input",
                prompt="a missing input",
                image_url=case.missing_input_uri,
                output_path=case.output_path,
                **common,
            )
            for task_id, arguments in case.extra_tasks.items():
                BackgroundReplacerOperator(task_id=task_id, **{**common, **arguments})
        first = run_dag(dag)
        charges = emulator.charges()
        second = run_dag(dag)
    return StoreRuns(first=first, second=second, emulator=emulator, charges_after_first=charges)


# --- what every store's tests check the same way ---------------------------------------------------


def check_stored_whole(runs: StoreRuns, server: Any, plain_base: str, conn_id: str, dag_id: str) -> None:
    """
    The first run's paid task stored both results whole, byte for byte the emulator's renders, with
    ``image/png``, under plain URIs with ``storage_conn_id`` beside them, readable as a downstream
    task reads them; the lineage dataset is named after the bucket or container.

    :param plain_base: the store's plain URI of the bucket or container (``gs://bucket``).
    """
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.lineage.report import dataset_name

    task = runs.first.task("store_in_store_out")
    assert task.state == "success"
    stored = task.xcom["stored_paths"]
    assert [s.rsplit("/", 1)[1] for s in stored] == ["result-0.png", "result-1.png"]
    assert all(s.startswith(f"{plain_base}/out/{dag_id}/") for s in stored), "plain URIs"
    assert task.xcom["storage_conn_id"] == conn_id
    generation = runs.emulator.record(task.xcom["ai_record_uuid"])
    assert [server.read(uri) for uri in stored] == [generation.renders[0], generation.renders[1]]
    assert [server.content_type(uri) for uri in stored] == ["image/png", "image/png"]
    path = ObjectStoragePath(stored[0], conn_id=task.xcom["storage_conn_id"])
    assert path.read_bytes() == generation.renders[0], "what a downstream task does with the XCom values"
    assert dataset_name(stored[0]) == (plain_base, stored[0].split(f"{plain_base}/", 1)[1])


def check_refused_before_paying(runs: StoreRuns, refused: dict[str, str]) -> None:
    """Each task of ``refused`` (task id: its prompt) failed on its first try and paid nothing."""
    for task_id, prompt in refused.items():
        task = runs.first.task(task_id)
        assert (task.state, task.try_number) == ("failed", 1), f"{task_id}: final, no Airflow retry"
        assert generations(runs.emulator, prompt) == 0, task_id


def check_second_run_copies(runs: StoreRuns, server: Any, plain_base: str, dag_id: str) -> None:
    """The second run reused the first one's generation: new copies, content type kept, not paid."""
    task = runs.second.task("store_in_store_out")
    assert task.state == "success"
    assert task.xcom["reused_from"]["uuid"] == runs.first.task("store_in_store_out").xcom["ai_record_uuid"]
    assert generations(runs.emulator, PAID_PROMPT) == 1
    first_paths = runs.first.task("store_in_store_out").xcom["stored_paths"]
    for uri in task.xcom["stored_paths"]:
        assert uri.startswith(f"{plain_base}/out/{dag_id}/") and uri not in first_paths, "copied"
        assert server.content_type(uri) == "image/png", "the copy keeps the content type"
        assert server.read(uri).startswith(b"\x89PNG")


def check_nothing_partial(keys: list[str]) -> None:
    """No spool or write-check object left; the claim was taken and released."""
    assert not [k for k in keys if k.endswith(".part") or "onemin-write-check" in k], keys
    claims = [k for k in keys if "/.onemin-reuse/claims/" in k]
    assert claims and any(k.endswith(".released.json") for k in claims), "the claim was taken and released"
