"""
Google Cloud Storage in real DAG runs (``dag.test()``): gcp-storage-emulator on loopback, reached
through a ``google_cloud_platform`` connection only (tests/support/store_servers.py). One DAG, run
twice (tests/support/store_dags.py): a gs:// input and output, a missing bucket and a missing input
refused before paying, and a second run that reuses everything. Judged by the 1min.ai emulator's
charge counter and by reading the bucket back.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.store_dags import (
    MISSING_BUCKET,
    PHOTOS,
    StoreCase,
    check_nothing_partial,
    check_refused_before_paying,
    check_second_run_copies,
    check_stored_whole,
    run_store_dag,
)
from tests.support.store_servers import GCS_CONN_ID


@pytest.fixture(scope="module")
def gcs_runs(airflow_db, onemin_emulator_server, gcs_server) -> dict[str, Any]:
    bucket = gcs_server.new_bucket()
    gcs_server.put(f"gs://{bucket}/photos/mug.png", (PHOTOS / "mug.png").read_bytes())
    case = StoreCase(
        dag_id="onemin_gcs_cases",
        input_uri=f"gs://{GCS_CONN_ID}@{bucket}/photos/mug.png",
        output_path=f"gs://{GCS_CONN_ID}@{bucket}/out",
        missing_bucket_output=f"gs://{GCS_CONN_ID}@{MISSING_BUCKET}/out",
        missing_input_uri=f"gs://{GCS_CONN_ID}@{bucket}/photos/missing.png",
        extra_tasks={},
    )
    return {"runs": run_store_dag(onemin_emulator_server, case), "bucket": bucket}


def test_gs_input_and_output_stored_whole_with_image_type(gcs_runs, gcs_server) -> None:
    check_stored_whole(
        gcs_runs["runs"], gcs_server, f"gs://{gcs_runs['bucket']}", GCS_CONN_ID, "onemin_gcs_cases"
    )


def test_gcs_refusals_pay_nothing(gcs_runs) -> None:
    runs = gcs_runs["runs"]
    check_refused_before_paying(
        runs, {"missing_bucket": "a missing bucket", "missing_input": "a missing input"}
    )
    assert runs.emulator.snapshot()["assets"] == 1, "only the gs:// input was uploaded, not sneaker.jpg"
    assert runs.charges_after_first == 1


def test_gcs_second_run_reuses_and_pays_nothing(gcs_runs, gcs_server) -> None:
    runs = gcs_runs["runs"]
    assert runs.emulator.charges() == runs.charges_after_first == 1
    check_second_run_copies(runs, gcs_server, f"gs://{gcs_runs['bucket']}", "onemin_gcs_cases")


def test_gcs_bucket_holds_nothing_partial(gcs_runs, gcs_server) -> None:
    check_nothing_partial(gcs_server.keys(gcs_runs["bucket"]))


def test_viewer_reads_gcs_results_only_inside_its_locations(gcs_runs) -> None:
    """The results viewer's location rules (viewer/locations.py) on a gs:// result, read from the store."""
    from airflow_provider_onemin.viewer.locations import (
        LocationRefused,
        open_allowed,
        parse_location,
        resolve,
    )

    runs, bucket = gcs_runs["runs"], gcs_runs["bucket"]
    task = runs.first.task("store_in_store_out")
    stored = task.xcom["stored_paths"][0]
    allowed = resolve(stored, GCS_CONN_ID, [parse_location(f"gs://{GCS_CONN_ID}@{bucket}/out/")])
    with open_allowed(allowed) as handle:
        assert handle.read() == runs.emulator.record(task.xcom["ai_record_uuid"]).renders[0]
    with pytest.raises(LocationRefused):
        resolve(stored, GCS_CONN_ID, [parse_location(f"gs://{GCS_CONN_ID}@{bucket}/elsewhere/")])
