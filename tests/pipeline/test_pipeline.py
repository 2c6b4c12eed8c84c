"""
The mapped marketing pipeline (``dags/marketing_asset_pipeline.py``) run end to end against the
emulator: 3 cut-outs and 3 products x 2 scenes = 6 generations, each paid once and stored, a
manifest with one line per stored result, and every product's channel renditions (sizes and
formats read back with Pillow, expected from the channels' rules as the issue states them).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from PIL import Image

from airflow_provider_onemin.exceptions import OneMinValidationError
from airflow_provider_onemin.storage.results import safe_part
from tests.support.airflow_helpers import run_dag
from tests.support.pipeline_support import copy_catalogue, load_pipeline, open_image

# What each channel is, from the channels' own rules (issue 22), not from the presets module.
CHANNEL_FILES = {
    "amazon_main": ((2000, 2000), "JPEG"),
    "shopify_square": ((2048, 2048), "JPEG"),
    "instagram_portrait": ((1080, 1350), "JPEG"),
    "instagram_story": ((1080, 1920), "JPEG"),
    "web_thumbnail": ((400, 400), "WEBP"),
}
# The shipped catalogue's channels column (BTL-007's is empty: the documented default).
SHIPPED_CHANNELS = {
    "MUG-001": ["shopify_square", "web_thumbnail"],
    "SNK-014": ["instagram_portrait", "instagram_story"],
    "BTL-007": ["shopify_square", "web_thumbnail"],
}

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
        params={"scenes": ["a neon-lit street at night", *shipped.SCENES], "max_new_images": 16}
    )
    assert len(after) == 12, "4 products x 3 scenes (and 4 cut-outs, under max_new_images)"
    assert {line["sku"]: line["channels"] for line in after}["CUP-002"] == ["shopify_square", "web_thumbnail"]
    assert {(line["sku"], line["prompt"]): line["seed"] for line in after}.items() >= seeds.items(), (
        "adding a product or a scene leaves every earlier line's seed as it was"
    )
    assert all(line["image_url"].startswith(str(tmp_path / "grown" / "sample_photos")) for line in after)

    reseeded = shipped.plan.function(params={"scenes": shipped.SCENES, "base_seed": 7})
    assert {line["seed"] for line in reseeded}.isdisjoint(seeds.values()), "base_seed draws a new set"


def test_an_unknown_channel_fails_plan_naming_the_sku_and_the_channel(
    monkeypatch, output_dir, tmp_path, onemin_emulator, onemin_conn_env
) -> None:
    catalogue = copy_catalogue(tmp_path / "shop")
    rows = catalogue.read_text().splitlines()
    rows[2] = "SNK-014,Trail running sneaker,sample_photos/sneaker.jpg,instagram_portrait;tiktok_video"
    catalogue.write_text("\n".join([*rows, "MUG-001,Stoneware mug again,sample_photos/mug.png,"]) + "\n")
    pipeline = load_pipeline(monkeypatch, output_dir, catalogue)

    with pytest.raises(OneMinValidationError) as refused:
        pipeline.plan.function(params={"scenes": pipeline.SCENES})

    assert "product 'SNK-014': unknown channel 'tiktok_video'" in str(refused.value)
    assert "sku 'MUG-001' is listed twice" in str(refused.value), "every problem at once"
    assert onemin_emulator.charges() == 0 and onemin_emulator.snapshot()["assets"] == 0
    assert list(output_dir.iterdir()) == [], "nothing looked up or stored"


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
    assert sorted(i for (task_id, i) in result.tasks if task_id == "cut_out") == [0, 1, 2], "one per product"
    assert onemin_emulator.charges() == 6 + 3, "one paid generation per line, one cut-out per product"

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
    uploaded = {g.prompt_object.get("prompt") for g in onemin_emulator.records}
    assert uploaded == {*pipeline.SCENES, None}, "the scenes, and the cut-outs (no prompt)"

    # Each product's amazon_main image, from its cut-out: 2000 px JPEG on pure white.
    for index, sku in enumerate(SHIPPED_CHANNELS):
        main = result.task("render_main", index)
        assert main.state == "success"
        assert main.xcom["product"]["sku"] == sku
        assert list(main.xcom["return_value"]) == ["amazon_main"]
        [uri] = main.xcom["return_value"]["amazon_main"]
        image = open_image(uri)
        assert (image.size, image.format) == CHANNEL_FILES["amazon_main"]
        rgb = image.convert("RGB")
        corners = [(0, 0), (1999, 0), (0, 1999), (1999, 1999)]
        assert {rgb.getpixel(corner) for corner in corners} == {(255, 255, 255)}, "pure white background"
        assert rgb.getpixel((1000, 1000)) != (255, 255, 255), "the product in the middle"
        cutout = result.task("cut_out", index).xcom["stored_paths"][0]
        assert main.xcom["compliance"]["amazon_main"][0]["source"] == cutout

    # Each scene into its product's channels, with the fidelity score against the cut-out.
    for index, row in enumerate(rows):
        scene = result.task("render_scenes", index)
        assert scene.state == "success"
        rendered = scene.xcom["return_value"]
        assert list(rendered) == SHIPPED_CHANNELS[row["sku"]], row["sku"]
        for channel, [uri] in rendered.items():
            image = open_image(uri)
            assert (image.size, image.format) == CHANNEL_FILES[channel], (row["sku"], channel)
            report = scene.xcom["compliance"][channel][0]
            assert report["source"] == row["stored_path"]
            assert report["fidelity"]["score"] < 0.02, "the emulator keeps the product pixel for pixel"
            assert report["needs_review"] is False
        assert scene.xcom["product"] == {"sku": row["sku"], "name": row["product"]}

    offered = result.task("choices").xcom["return_value"]
    assert [choice["option"] for choice in offered] == [
        "MUG-001 Stoneware mug: amazon_main (1 image)",
        "MUG-001 Stoneware mug: shopify_square (2 images)",
        "MUG-001 Stoneware mug: web_thumbnail (2 images)",
        "SNK-014 Trail running sneaker: amazon_main (1 image)",
        "SNK-014 Trail running sneaker: instagram_portrait (2 images)",
        "SNK-014 Trail running sneaker: instagram_story (2 images)",
        "BTL-007 Insulated steel bottle: amazon_main (1 image)",
        "BTL-007 Insulated steel bottle: shopify_square (2 images)",
        "BTL-007 Insulated steel bottle: web_thumbnail (2 images)",
    ]

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
        assert len(review_rows) == 3 + 6 * 2, "a row per rendition: 3 main images, 2 channels per scene"
        assert {r["decision"] for r in review_rows} == {"not reviewed"}
        assert {r["reviewed_by"] for r in review_rows} == {""}
        assert not list(output_dir.rglob("published.csv")), "no shop manifest without a person"
        check_per_channel_publishing(pipeline, result, offered, output_dir)


class AnsweredReview:
    """What publish reads of its task instance: the review's answer, the run's ids."""

    def __init__(self, result, answer) -> None:
        self.dag_id, self.run_id, self.answer = "marketing_asset_pipeline", result.run_id, answer

    def xcom_pull(self, task_ids: str):
        assert task_ids == "review"
        return self.answer


def check_per_channel_publishing(pipeline, result, offered, output_dir: Path) -> None:
    """
    The run's publish step given a person's answer (a real answer needs a deployment:
    tests/pipeline/test_review_deployment.py): one channel of one product approved.
    """
    chosen = next(
        i for i, c in enumerate(offered) if c["option"].startswith("MUG-001 Stoneware mug: shopify")
    )
    answer = {"approved": [chosen], "responded_by_user": {"name": "reviewer"}, "responded_at": "2026-01-02"}
    returned = pipeline.publish.function(offered, ti=AnsweredReview(result, answer))

    folder = output_dir / "published"
    published = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert published == ["shopify_square/MUG-001/1.jpg", "shopify_square/MUG-001/2.jpg"], published
    shop = list(csv.DictReader(io.StringIO(ObjectStoragePath(returned["shop_manifest"]).read_text())))
    run_folder = output_dir / "marketing_asset_pipeline" / safe_part(result.run_id)
    assert returned["shop_manifest"] == f"file://{run_folder}/published.csv", "beside the run's results"
    assert [list(row) for row in shop][0] == [
        "sku",
        "channel",
        "position",
        "uri",
        "width",
        "height",
        "alt_text",
    ]
    scenes = pipeline.SCENES
    assert [(r["sku"], r["channel"], r["position"], r["alt_text"]) for r in shop] == [
        ("MUG-001", "shopify_square", "1", f"Stoneware mug, {scenes[0]}"),
        ("MUG-001", "shopify_square", "2", f"Stoneware mug, {scenes[1]}"),
    ]
    for row in shop:
        assert row["uri"] == f"file://{folder}/shopify_square/MUG-001/{row['position']}.jpg"
        with Image.open(row["uri"].removeprefix("file://")) as image:
            assert (int(row["width"]), int(row["height"])) == image.size == (2048, 2048)
    # The published file is the scene's rendition, scene by scene.
    mug_scenes = [result.task("render_scenes", i).xcom["return_value"]["shopify_square"][0] for i in (0, 1)]
    for position, rendition in enumerate(mug_scenes, start=1):
        assert (folder / "shopify_square" / "MUG-001" / f"{position}.jpg").read_bytes() == (
            Path(rendition.removeprefix("file://")).read_bytes()
        )
    review = list(csv.DictReader(io.StringIO(ObjectStoragePath(returned["review_manifest"]).read_text())))
    decided = {(r["sku"], r["channel"], r["position"]): r["decision"] for r in review}
    assert len(decided) == len(review) == 15, "one row per rendition"
    assert {k for k, v in decided.items() if v == "approved"} == {
        ("MUG-001", "shopify_square", "1"),
        ("MUG-001", "shopify_square", "2"),
    }
    assert {r["reviewed_by"] for r in review} == {"reviewer"}
