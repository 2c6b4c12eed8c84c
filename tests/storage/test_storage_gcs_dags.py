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

from airflow_provider_onemin.lineage.report import dataset_name
from tests.support.store_dags import (
    MISSING_BUCKET,
    PAID_PROMPT,
    PHOTOS,
    StoreCase,
    generations,
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
    from airflow.sdk import ObjectStoragePath

    runs, bucket = gcs_runs["runs"], gcs_runs["bucket"]
    task = runs.first.task("store_in_store_out")
    assert task.state == "success"
    stored = task.xcom["stored_paths"]
    assert [s.rsplit("/", 1)[1] for s in stored] == ["result-0.png", "result-1.png"]
    assert all(s.startswith(f"gs://{bucket}/out/onemin_gcs_cases/") for s in stored), "plain URIs"
    assert task.xcom["storage_conn_id"] == GCS_CONN_ID
    generation = runs.emulator.record(task.xcom["ai_record_uuid"])
    assert [gcs_server.read(uri) for uri in stored] == [generation.renders[0], generation.renders[1]]
    assert [gcs_server.content_type(uri) for uri in stored] == ["image/png", "image/png"]
    path = ObjectStoragePath(stored[0], conn_id=task.xcom["storage_conn_id"])
    assert path.read_bytes() == generation.renders[0], "what a downstream task does with the XCom values"
    assert dataset_name(stored[0]) == (f"gs://{bucket}", stored[0].split(f"gs://{bucket}/", 1)[1])


def test_gcs_refusals_pay_nothing(gcs_runs) -> None:
    runs = gcs_runs["runs"]
    for task_id, prompt in (("missing_bucket", "a missing bucket"), ("missing_input", "a missing input")):
        task = runs.first.task(task_id)
        assert (task.state, task.try_number) == ("failed", 1), f"{task_id}: final, no Airflow retry"
        assert generations(runs.emulator, prompt) == 0, task_id
    assert runs.emulator.snapshot()["assets"] == 1, "only the gs:// input was uploaded, not sneaker.jpg"
    assert runs.charges_after_first == 1


def test_gcs_second_run_reuses_and_pays_nothing(gcs_runs, gcs_server) -> None:
    runs, bucket = gcs_runs["runs"], gcs_runs["bucket"]
    task = runs.second.task("store_in_store_out")
    assert task.state == "success"
    assert task.xcom["reused_from"]["uuid"] == runs.first.task("store_in_store_out").xcom["ai_record_uuid"]
    assert runs.emulator.charges() == runs.charges_after_first == 1
    assert generations(runs.emulator, PAID_PROMPT) == 1
    first_paths = runs.first.task("store_in_store_out").xcom["stored_paths"]
    for uri in task.xcom["stored_paths"]:
        assert uri.startswith(f"gs://{bucket}/out/onemin_gcs_cases/") and uri not in first_paths, "copied"
        assert gcs_server.content_type(uri) == "image/png", "the copy keeps the content type"
        assert gcs_server.read(uri).startswith(b"\x89PNG")


def test_gcs_bucket_holds_nothing_partial(gcs_runs, gcs_server) -> None:
    keys = gcs_server.keys(gcs_runs["bucket"])
    assert not [k for k in keys if k.endswith(".part") or "onemin-write-check" in k], keys
    claims = [k for k in keys if "/.onemin-reuse/claims/" in k]
    assert claims and any(k.endswith(".released.json") for k in claims), "the claim was taken and released"


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
