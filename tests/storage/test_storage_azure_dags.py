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
    plain_base = f"abfs://{azure_runs['container']}"
    check_stored_whole(azure_runs["runs"], azure_server, plain_base, AZURE_CONN_ID, "onemin_azure_cases")


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
    check_refused_before_paying(
        runs,
        {
            "missing_bucket": "a missing bucket",
            "missing_input": "a missing input",
            "refused_credentials": "refused credentials",
        },
    )
    # The Azure inputs of both runs' paying tasks: store_in_store_out once (reused the second time),
    # az_output twice; never the sneaker.jpg of the refused tasks.
    assert runs.emulator.snapshot()["assets"] == 3
    assert runs.charges_after_first == 2, "store_in_store_out and az_output"


def test_azure_second_run_reuses_and_pays_nothing(azure_runs, azure_server) -> None:
    runs = azure_runs["runs"]
    assert runs.emulator.charges() == 3, "only az_output (no reuse) paid again"
    check_second_run_copies(runs, azure_server, f"abfs://{azure_runs['container']}", "onemin_azure_cases")


def test_azure_container_holds_nothing_partial(azure_runs, azure_server) -> None:
    check_nothing_partial(azure_server.keys(azure_runs["container"]))


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
