"""
Azure Blob in real DAG runs (``dag.test()``): Azurite on loopback, reached through ``wasb``
connections only (tests/support/store_servers.py). One DAG, run twice (tests/support/store_dags.py):
an ``az://`` input and an ``abfs://`` output, an ``az://`` output, a missing container, a missing
input and refused credentials refused before paying, and a second run that reuses everything.
Judged by the 1min.ai emulator's charge counter and by reading the container back.
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
from tests.support.store_servers import AZURE_BAD_KEY_CONN_ID, AZURE_CONN_ID

AZ_PROMPT = "a marble table"


@pytest.fixture(scope="module")
def azure_runs(airflow_db, onemin_emulator_server, azure_server) -> dict[str, Any]:
    container = azure_server.new_container()
    azure_server.put(f"abfs://{container}/photos/mug.png", (PHOTOS / "mug.png").read_bytes())
    case = StoreCase(
        dag_id="onemin_azure_cases",
        input_uri=f"az://{AZURE_CONN_ID}@{container}/photos/mug.png",
        output_path=f"abfs://{AZURE_CONN_ID}@{container}/out",
        missing_bucket_output=f"abfs://{AZURE_CONN_ID}@{MISSING_BUCKET}/out",
        missing_input_uri=f"abfs://{AZURE_CONN_ID}@{container}/photos/missing.png",
        extra_tasks={
            "az_output": {
                "prompt": AZ_PROMPT,
                "image_url": f"abfs://{AZURE_CONN_ID}@{container}/photos/mug.png",
                "output_path": f"az://{AZURE_CONN_ID}@{container}/az-out",
            },
            "refused_credentials": {
                "prompt": "refused credentials",
                "image_url": str(PHOTOS / "sneaker.jpg"),
                "output_path": f"abfs://{AZURE_BAD_KEY_CONN_ID}@{container}/out",
            },
        },
    )
    return {"runs": run_store_dag(onemin_emulator_server, case), "container": container}


def test_az_input_abfs_output_stored_whole_with_image_type(azure_runs, azure_server) -> None:
    from airflow.sdk import ObjectStoragePath

    runs, container = azure_runs["runs"], azure_runs["container"]
    task = runs.first.task("store_in_store_out")
    assert task.state == "success"
    stored = task.xcom["stored_paths"]
    assert [s.rsplit("/", 1)[1] for s in stored] == ["result-0.png", "result-1.png"]
    assert all(s.startswith(f"abfs://{container}/out/onemin_azure_cases/") for s in stored), "plain URIs"
    assert task.xcom["storage_conn_id"] == AZURE_CONN_ID
    generation = runs.emulator.record(task.xcom["ai_record_uuid"])
    assert [azure_server.read(uri) for uri in stored] == [generation.renders[0], generation.renders[1]]
    assert [azure_server.content_type(uri) for uri in stored] == ["image/png", "image/png"]
    path = ObjectStoragePath(stored[0], conn_id=task.xcom["storage_conn_id"])
    assert path.read_bytes() == generation.renders[0], "what a downstream task does with the XCom values"
    assert dataset_name(stored[0]) == (f"abfs://{container}", stored[0].split(f"abfs://{container}/", 1)[1])


def test_az_output(azure_runs, azure_server) -> None:
    runs, container = azure_runs["runs"], azure_runs["container"]
    task = runs.first.task("az_output")
    assert task.state == "success"
    (stored,) = task.xcom["stored_paths"]
    assert stored.startswith(f"az://{container}/az-out/onemin_azure_cases/") and stored.endswith(".png")
    assert azure_server.read(stored) == runs.emulator.record(task.xcom["ai_record_uuid"]).renders[0]
    assert azure_server.content_type(stored) == "image/png"


def test_azure_refusals_pay_nothing(azure_runs) -> None:
    runs = azure_runs["runs"]
    for task_id, prompt in (
        ("missing_bucket", "a missing bucket"),
        ("missing_input", "a missing input"),
        ("refused_credentials", "refused credentials"),
    ):
        task = runs.first.task(task_id)
        assert (task.state, task.try_number) == ("failed", 1), f"{task_id}: final, no Airflow retry"
        assert generations(runs.emulator, prompt) == 0, task_id
    # The Azure inputs of both runs' paying tasks: store_in_store_out once (reused the second time),
    # az_output twice; never the sneaker.jpg of the refused tasks.
    assert runs.emulator.snapshot()["assets"] == 3
    assert runs.charges_after_first == 2, "store_in_store_out and az_output"


def test_azure_second_run_reuses_and_pays_nothing(azure_runs, azure_server) -> None:
    runs, container = azure_runs["runs"], azure_runs["container"]
    task = runs.second.task("store_in_store_out")
    assert task.state == "success"
    assert task.xcom["reused_from"]["uuid"] == runs.first.task("store_in_store_out").xcom["ai_record_uuid"]
    assert runs.emulator.charges() == 3, "only az_output (no reuse) paid again"
    assert generations(runs.emulator, PAID_PROMPT) == 1
    first_paths = runs.first.task("store_in_store_out").xcom["stored_paths"]
    for uri in task.xcom["stored_paths"]:
        assert uri.startswith(f"abfs://{container}/out/onemin_azure_cases/") and uri not in first_paths, (
            "copied"
        )
        assert azure_server.content_type(uri) == "image/png", "the copy keeps the content type"
        assert azure_server.read(uri).startswith(b"\x89PNG")


def test_azure_container_holds_nothing_partial(azure_runs, azure_server) -> None:
    keys = azure_server.keys(azure_runs["container"])
    assert not [k for k in keys if k.endswith(".part") or "onemin-write-check" in k], keys
    claims = [k for k in keys if "/.onemin-reuse/claims/" in k]
    assert claims and any(k.endswith(".released.json") for k in claims), "the claim was taken and released"


@pytest.mark.parametrize(
    ("task_id", "scheme", "folder"), [("store_in_store_out", "abfs", "out"), ("az_output", "az", "az-out")]
)
def test_viewer_reads_azure_results_only_inside_its_locations(azure_runs, task_id, scheme, folder) -> None:
    """The results viewer's location rules (viewer/locations.py) on an Azure result, read from the store."""
    from airflow_provider_onemin.viewer.locations import (
        LocationRefused,
        open_allowed,
        parse_location,
        resolve,
    )

    runs, container = azure_runs["runs"], azure_runs["container"]
    task = runs.first.task(task_id)
    stored = task.xcom["stored_paths"][0]
    allowed = resolve(
        stored, AZURE_CONN_ID, [parse_location(f"{scheme}://{AZURE_CONN_ID}@{container}/{folder}/")]
    )
    with open_allowed(allowed) as handle:
        assert handle.read() == runs.emulator.record(task.xcom["ai_record_uuid"]).renders[0]
    with pytest.raises(LocationRefused):
        resolve(
            stored, AZURE_CONN_ID, [parse_location(f"{scheme}://{AZURE_CONN_ID}@other-container/{folder}/")]
        )
