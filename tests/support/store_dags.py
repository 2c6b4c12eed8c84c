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
