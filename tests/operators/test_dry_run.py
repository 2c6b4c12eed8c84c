"""
Dry run, in a real DAG run pointed at the emulator: the operator validates, renders and logs the
exact body, then returns ``[]``. Nothing reaches the emulator (no upload, no record, no charge),
nothing is stored, no asset event is emitted, and the API key appears nowhere in the output.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Asset, task

from airflow_provider_onemin.emulator.pytest_plugin import TEST_API_KEY
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import run_dag

SAMPLE = Path(__file__).resolve().parents[2] / "dags" / "sample_photos" / "sneaker.jpg"


def test_dry_run_logs_the_body_and_sends_nothing(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, capfd, caplog
) -> None:
    asset = Asset(f"file://{output_dir}")
    with DAG(
        dag_id="onemin_dry_run",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        params={"scene": "a rooftop garden at dusk"},
    ) as dag:
        dry = BackgroundReplacerOperator(
            task_id="dry",
            prompt="{{ params.scene }}",
            image_url=str(SAMPLE),
            num_images="{{ 1 + 1 }}",
            seed=42,
            output_path=str(output_dir),
            outlets=[asset],
            dry_run=True,
        )

        @task
        def count(paths: list[str]) -> int:
            return len(paths)

        count(dry.output)

    result = run_dag(dag)

    assert result.state == "success", result.tasks
    assert result.task("dry").xcom["return_value"] == []
    assert result.task("count").xcom["return_value"] == 0, "downstream tasks run on the empty result"
    snapshot = onemin_emulator.snapshot()
    assert (snapshot["charges"]["total"], snapshot["records"], snapshot["assets"]) == (0, 0, 0)
    assert list(output_dir.iterdir()) == [], "nothing stored"

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        events = session.scalar(
            select(func.count(AssetEvent.id))
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == asset.uri)
        )
    assert events == 0, "a dry run must not announce results to asset-scheduled DAGs"

    out, err = capfd.readouterr()
    log = out + err + caplog.text
    expected_body = json.dumps(
        {
            "type": "BACKGROUND_REPLACER",
            "model": "ideogram-3",
            "promptObject": {
                "prompt": "a rooftop garden at dusk",
                "imageUrl": str(SAMPLE),
                "num_images": 2,
                "seed": 42,
            },
            "async": True,
        },
        indent=2,
    )
    assert expected_body in log.replace("\r", ""), "the exact rendered body is logged"
    assert "promptObject.imageUrl would be uploaded first (sneaker.jpg" in log
    assert TEST_API_KEY not in log
