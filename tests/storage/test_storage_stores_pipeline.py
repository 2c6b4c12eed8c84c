"""
The marketing pipeline on Google Cloud Storage and on Azure Blob (their local servers:
tests/support/store_servers.py; the 60-stores CI leg runs this, the main suite skips it): a real
``dag.test()`` run stores every line's results and the manifest with their content types and plain
URIs, renders the channel renditions on the store, writes the review file, and a second run pays
nothing; the publishing step then copies an approved channel's renditions into the store's
``published/`` layout. The charges are the emulator's.
"""

from __future__ import annotations

import csv
import io

import pytest

from airflow_provider_onemin.pipeline import publishing
from tests.support.airflow_helpers import run_dag
from tests.support.pipeline_support import load_pipeline
from tests.support.store_servers import AZURE_CONN_ID, GCS_CONN_ID

# The shipped catalogue's 3 products and one of its scenes (what a store does with a line does not
# depend on how many there are): one image per line, a cut-out per product.
LINES, CUTOUTS = 3, 3


@pytest.fixture(params=["gcs", "azure"])
def store(request):
    """(server, the output path with its connection, the plain URI prefix the XCom gives)."""
    if request.param == "gcs":
        server = request.getfixturevalue("gcs_server")
        bucket = server.new_bucket()
        return server, f"gs://{GCS_CONN_ID}@{bucket}/marketing", f"gs://{bucket}/marketing"
    server = request.getfixturevalue("azure_server")
    container = server.new_container()
    return server, f"abfs://{AZURE_CONN_ID}@{container}/marketing", f"abfs://{container}/marketing"


def _rows(server, uri: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(server.read(uri).decode("utf-8"))))


def test_the_pipeline_stores_reuses_and_publishes_on_the_store(
    airflow_db, onemin_emulator, onemin_conn_env, store, monkeypatch
) -> None:
    server, output, plain = store
    pipeline = load_pipeline(monkeypatch, output)  # type: ignore[arg-type]
    one_scene = {"scenes": pipeline.SCENES[:1]}

    first = run_dag(
        pipeline.dag, run_conf=one_scene
    )  # a test run: the review asks nobody and nothing is published
    assert first.state == "success", {k: v.state for k, v in first.tasks.items()}
    assert onemin_emulator.charges() == LINES + CUTOUTS
    manifest = first.task("write_manifest").xcom["return_value"]
    assert manifest.startswith(f"{plain}/marketing_asset_pipeline/") and manifest.endswith("/manifest.csv")
    assert server.content_type(manifest).startswith("text/csv")
    rows = _rows(server, manifest)
    assert len(rows) == LINES and {row["status"] for row in rows} == {"new"}
    for row in rows:
        assert row["stored_path"].startswith(f"{plain}/"), "plain URIs in the manifest"
        assert server.content_type(row["stored_path"]) == "image/png"
        assert server.read(row["stored_path"]).startswith(b"\x89PNG")
    review = manifest.rsplit("/", 1)[0] + "/review.csv"
    assert {row["decision"] for row in _rows(server, review)} == {"not reviewed"}

    again = run_dag(pipeline.dag, run_conf=one_scene)
    assert again.state == "success", {k: v.state for k, v in again.tasks.items()}
    assert onemin_emulator.charges() == LINES + CUTOUTS, "nothing changed: every image reused from the store"
    reused = _rows(server, again.task("write_manifest").xcom["return_value"])
    assert {row["status"] for row in reused} == {"reused"}
    assert all(server.content_type(row["stored_path"]) == "image/png" for row in reused)

    # What the publish step does once a person approved MUG-001's shopify_square renditions.
    offered = first.task("choices").xcom["return_value"]
    assert offered[1]["option"] == "MUG-001 Stoneware mug: shopify_square (1 image)"
    results = publishing.reviewed_renditions(offered, approved=[1])
    approved = [r for r in results if r.decision == publishing.APPROVED]
    assert len(approved) == 1
    published = publishing.publish_rendition(approved[0], output)
    assert published == f"{plain}/published/shopify_square/MUG-001/1.jpg"
    assert server.read(published) == server.read(approved[0].stored_path)
    assert server.content_type(published) == "image/jpeg"
