"""
The scenario of tests/lineage/test_lineage_dag_run.py, run with ``airflow dags test``.

Four tasks in a fixed order (each runs whatever the previous one's state): a generation that
fails, a request whose outcome is unknown (the emulator's faults, queued by the test, hit the
first two submissions), a paid generation of two images (deferrable), and the same request
again, which reuses the paid one's results (``reuse=True``). ``dag_run.conf`` gives the source photo, a local
style reference and the output folder.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, chain

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

COMMON = {
    "image_url": "{{ dag_run.conf['photo'] }}",
    "output_path": "{{ dag_run.conf['out'] }}",
    "retries": 0,
    "trigger_rule": "all_done",
}
PAID_REQUEST = {
    "prompt": "a sunlit kitchen counter",
    "negative_prompt": "people",
    "seed": 42,
    "num_images": 2,
    "reuse": True,
    "style_reference_images": [
        "{{ dag_run.conf['reference'] }}",
        "development/images/linen.png",
        "https://cdn.example.com/linen.png?token=signed-secret",
    ],
}

with DAG(dag_id="onemin_lineage_scenario", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    chain(
        BackgroundReplacerOperator(task_id="generation_fails", prompt="a stormy pier", **COMMON),
        BackgroundReplacerOperator(task_id="outcome_unknown", prompt="a desert road", **COMMON),
        BackgroundReplacerOperator(task_id="paid", deferrable=True, **PAID_REQUEST, **COMMON),
        BackgroundReplacerOperator(task_id="reused", **PAID_REQUEST, **COMMON),
    )
