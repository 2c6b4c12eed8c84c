"""
Without the ``openlineage`` extra nothing of OpenLineage is imported and nothing breaks.

This runs in the main suite, whose virtualenv does not have the extra (the lineage CI leg has it,
and tests what it adds). With the extra installed, importing the operator still imports none of
OpenLineage: see tests/lineage/test_lineage_report.py.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime
from pathlib import Path

import pytest
from airflow.sdk import DAG

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import REPO, run_dag

SAMPLE = REPO / "dags" / "sample_photos" / "mug.png"


def _openlineage_installed() -> bool:
    try:
        return importlib.util.find_spec("openlineage.client") is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.skipif(
    _openlineage_installed(),
    reason="the openlineage extra is installed here: this test is for an environment without it",
)
def test_without_the_openlineage_extra_a_run_succeeds_and_imports_none_of_it(
    airflow_db, onemin_conn_env, output_dir: Path
):
    with DAG("lineage_without_the_extra", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="a marble counter",
            image_url=str(SAMPLE),
            num_images=1,
            output_path=str(output_dir),
        )
    task = run_dag(dag).task("replace")
    assert task.state == "success"
    assert len(task.xcom["stored_paths"]) == 1
    assert not [m for m in sys.modules if m.startswith(("openlineage", "airflow.providers.openlineage"))]
