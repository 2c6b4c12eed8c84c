"""
The mapped marketing pipeline (``dags/marketing_asset_pipeline.py``) run end to end against the
emulator: 3 products x 2 scenes = 6 mapped task instances, each paid once and stored, and a
manifest with one line per stored result.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from tests.support.airflow_helpers import run_dag
from tests.support.pipeline_support import copy_catalogue, load_pipeline

# What differs between minors: XComs of mapped tasks, asset events, None XComs (3.0).
pytestmark = pytest.mark.compat


@pytest.fixture
def pipeline(monkeypatch, output_dir: Path):
    return load_pipeline(monkeypatch, output_dir)


def test_seeds_come_from_product_and_scene_not_from_position(monkeypatch, output_dir, tmp_path) -> None:
    shipped = load_pipeline(monkeypatch, output_dir)
    before = shipped.plan.function(params={"scenes": shipped.SCENES})
    seeds = {(line["sku"], line["prompt"]): line["seed"] for line in before}
    assert len(set(seeds.values())) == len(before) == 6, "every line has a seed of its own"
    assert all(0 <= seed <= 2147483647 for seed in seeds.values())

    # A new product in the first row and a new scene in front of the others: every old line moves.
    catalogue = copy_catalogue(tmp_path / "grown")
    rows = catalogue.read_text().splitlines()
    catalogue.write_text("\n".join([rows[0], "CUP-002,Espresso cup,sample_photos/mug.png", *rows[1:]]) + "\n")
    grown = load_pipeline(monkeypatch, output_dir, catalogue)
    after = grown.plan.function(
        params={"scenes": ["a neon-lit street at night", *shipped.SCENES], "max_new_images": 12}
    )
    assert len(after) == 12
    assert {(line["sku"], line["prompt"]): line["seed"] for line in after}.items() >= seeds.items(), (
        "adding a product or a scene leaves every earlier line's seed as it was"
    )
    assert all(line["image_url"].startswith(str(tmp_path / "grown" / "sample_photos")) for line in after)

    reseeded = shipped.plan.function(params={"scenes": shipped.SCENES, "base_seed": 7})
    assert {line["seed"] for line in reseeded}.isdisjoint(seeds.values()), "base_seed draws a new set"


def test_pipeline_fans_out_products_x_scenes_and_writes_the_manifest(
    airflow_db, onemin_emulator, onemin_conn_env, pipeline, output_dir: Path
) -> None:
    dag = pipeline.dag
    assert dag.catchup is False and dag.timetable.can_be_scheduled, "a scheduled DAG without catch-up"

    # Nothing marked successful: a test run's review skips the person and publishes nothing
    # (on 3.0 there is no review). Before, it waited for the review's two-day timeout.
    result = run_dag(dag)

    assert result.state == "success", {k: v.state for k, v in result.tasks.items()}
    mapped = sorted(i for (task_id, i) in result.tasks if task_id == "replace_background")
    assert mapped == [0, 1, 2, 3, 4, 5], "3 products x 2 scenes"
    assert all(result.task("replace_background", i).state == "success" for i in mapped)
    assert onemin_emulator.charges() == 6, "one paid generation per mapped task instance"

    manifest_uri = result.task("write_manifest").xcom["return_value"]
    assert manifest_uri.endswith("/manifest.csv")
    assert manifest_uri.startswith(f"file://{output_dir}/marketing_asset_pipeline/")
    rows = list(csv.DictReader(io.StringIO(ObjectStoragePath(manifest_uri).read_text())))
    assert len(rows) == 6
    assert list(rows[0]) == ["sku", "product", "prompt", "seed", "uuid", "stored_path", "status", "credits"]
    assert {r["status"] for r in rows} == {"new"}, "nothing was generated before"
    assert {(r["sku"], r["prompt"]) for r in rows} == {
        (sku, scene) for sku in ("MUG-001", "SNK-014", "BTL-007") for scene in pipeline.SCENES
    }
    for index, row in enumerate(rows):
        ti = result.task("replace_background", index)
        assert row["stored_path"] == ti.xcom["stored_paths"][0], "manifest line i is map index i"
        assert row["uuid"] == ti.xcom["ai_record_uuid"]
        assert int(row["seed"]) == ti.xcom["seeds"][0], "the seed 1min.ai reports for the result"
        assert f"/replace_background/map-{index}/result-0.png" in row["stored_path"]
        assert ObjectStoragePath(row["stored_path"]).read_bytes().startswith(b"\x89PNG")
    uploaded = {g.prompt_object["prompt"] for g in onemin_emulator.records}
    assert uploaded == set(pipeline.SCENES)

    if ("review", -1) in result.tasks:  # Airflow 3.1+
        review, publish = result.task("review"), result.task("publish")
        assert review.state == "success" and publish.state == "success"
        assert "test run" in review.xcom["return_value"]["skipped"]
        assert publish.xcom["return_value"]["published"] == []
        assert not (output_dir / "published").exists(), "nothing is published without a person"
        review_rows = list(
            csv.DictReader(
                io.StringIO(ObjectStoragePath(publish.xcom["return_value"]["review_manifest"]).read_text())
            )
        )
        assert len(review_rows) == 6 and {r["decision"] for r in review_rows} == {"not reviewed"}
        assert {r["reviewed_by"] for r in review_rows} == {""}
