"""
Replace the background of a product photo with 1min.ai, then use the results downstream.

Point the ``onemin_default`` connection at 1min.ai (or the local emulator: ``make demo``) and
run ``airflow dags test onemin_background_replacer_example``. The source photo is a local file
shipped next to this DAG: the operator checks it and uploads it first. Results are stored under
``ONEMIN_OUTPUT_PATH`` (any ``ObjectStoragePath`` URL; default ``/tmp/onemin-out``).
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import DAG, Param, task

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

SAMPLE_PHOTO = Path(__file__).parent / "sample_photos" / "mug.png"
OUTPUT_PATH = os.environ.get("ONEMIN_OUTPUT_PATH", "/tmp/onemin-out")

with DAG(
    dag_id="onemin_background_replacer_example",
    schedule=None,
    catchup=False,
    tags=["example", "onemin"],
    params={
        "scene": Param("a sunlit kitchen counter, morning light", type="string", minLength=1),
        "seed": Param(1234, type="integer", minimum=0, maximum=2147483647),
    },
    doc_md=__doc__,
) as dag:
    replace = BackgroundReplacerOperator(
        task_id="replace_background",
        prompt="{{ params.scene }}",
        image_url=str(SAMPLE_PHOTO),
        num_images=2,
        rendering_speed="TURBO",
        negative_prompt="people, text, watermarks",
        seed="{{ params.seed }}",
        output_path=OUTPUT_PATH,
    )

    @task
    def publish(result_paths: list[str], ti=None) -> dict:
        """A downstream task: receives the result paths from XCom and reports where they are."""
        stored = ti.xcom_pull(task_ids="replace_background", key="stored_paths") or []
        seeds = ti.xcom_pull(task_ids="replace_background", key="seeds") or []
        for key, path, seed in zip(result_paths, stored, seeds, strict=False):
            print(f"result {key} (seed {seed}) stored at {path}")
        return {"results": result_paths, "stored": stored}

    publish(replace.output)
