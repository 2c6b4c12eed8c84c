"""
The marketing pipeline pays once per distinct image, across runs: real DAG runs (``dag.test()``)
of ``dags/marketing_asset_pipeline.py`` against the emulator, judged by its charge counter (paid
generations) and its asset store (uploads). Each expected count comes from the scenario (how many
lines are new or changed), never from the code under test.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from PIL import Image, ImageDraw

from airflow_provider_onemin.exceptions import OneMinCostCapError
from tests.support.airflow_helpers import SHIPPED_DAGS, airflow_cli, run_dag
from tests.support.pipeline_support import copy_catalogue, load_pipeline

# The shipped catalogue: 3 products; the shipped scenes: 2. One image per line, one cut-out per product.
PRODUCTS, SCENES = 3, 2
# Renditions per product: its amazon_main image, and each scene in its catalogue's 2 channels.
CHANNELS_PER_SCENE = 2


class Counter:
    """Paid generations and uploads since the last look."""

    def __init__(self, emulator) -> None:
        self.emulator = emulator
        self.seen = (0, 0)

    def since_last(self) -> tuple[int, int]:
        snapshot = self.emulator.snapshot()
        now = (snapshot["charges"]["total"], snapshot["assets"])
        delta = (now[0] - self.seen[0], now[1] - self.seen[1])
        self.seen = now
        return delta


def run_pipeline(pipeline, run_conf=None, renditions: bool = True):
    # The review waits for a person (tests/pipeline/test_review_deployment.py answers it in a real
    # deployment). Without renditions (which pay nothing) a run only checks what it pays.
    skipped = "review|publish" if renditions else "render_main|render_scenes|choices|review|publish"
    return run_dag(pipeline.dag, run_conf=run_conf, mark_success_pattern=skipped)


def renders(result) -> dict[str, tuple[int, int]]:
    """(rendered, reused) renditions per renditions task instance, named by sku (and scene line)."""
    counts = {}
    for (task_id, index), ti in result.tasks.items():
        if task_id in ("render_main", "render_scenes"):
            assert ti.state == "success", (task_id, index)
            counts[f"{task_id}/{ti.xcom['product']['sku']}/{index}"] = (
                ti.xcom["rendered"],
                ti.xcom["reused"],
            )
    return counts


def manifest(result) -> list[dict[str, str]]:
    uri = result.task("write_manifest").xcom["return_value"]
    return list(csv.DictReader(io.StringIO(ObjectStoragePath(uri).read_text())))


def statuses(result) -> dict[tuple[str, str], str]:
    return {(row["sku"], row["prompt"]): row["status"] for row in manifest(result)}


def stored_file(result, sku: str, prompt: str) -> Path:
    [row] = [r for r in manifest(result) if (r["sku"], r["prompt"]) == (sku, prompt)]
    return Path(ObjectStoragePath(row["stored_path"]).path)


@pytest.fixture
def shop(monkeypatch, output_dir: Path, tmp_path: Path):
    """The pipeline over a copy of the shipped catalogue and photos, which a test may edit."""
    catalogue = copy_catalogue(tmp_path / "shop")
    return load_pipeline(monkeypatch, output_dir, catalogue), catalogue.parent


def test_only_new_or_changed_lines_are_paid_for(
    airflow_db, onemin_emulator, onemin_conn_env, shop, output_dir: Path, caplog
) -> None:
    pipeline, folder = shop
    counter = Counter(onemin_emulator)
    # One of the shipped scenes: each step below pays per product and scene, and one scene shows
    # what it pays as well as two (each run is a DAG run of a task per line, cut-out and rendition).
    scene = pipeline.SCENES[0]
    one_scene = {"scenes": [scene]}
    lines = PRODUCTS

    first = run_pipeline(pipeline, run_conf=one_scene)
    assert first.state == "success", first.tasks
    paid = lines + PRODUCTS  # every line, and every product's cut-out
    assert counter.since_last() == (paid, paid), "first run: every line and cut-out uploaded and paid once"
    assert set(statuses(first).values()) == {"new"}
    assert first.task("plan").xcom["preview"] == {
        "lines": paid,
        "already_generated": 0,
        "new_generations": paid,
        "new_images": paid,
        "max_new_images": 10,
        # One TURBO image per line, 3,000 credits each; a stable-image cut-out, 20,000 (onemin-api.md).
        "new_credits": lines * 3000 + PRODUCTS * 20000,
        "unknown_credit_lines": 0,
        "credit_sources": {"model list": paid},
        "max_credits": None,
    }
    assert set(renders(first).values()) == {(1, 0), (CHANNELS_PER_SCENE, 0)}, "everything rendered"

    second = run_pipeline(pipeline, run_conf=one_scene)
    assert second.state == "success", second.tasks
    assert counter.since_last() == (0, 0), "nothing changed: 0 paid calls, 0 uploads"
    assert set(statuses(second).values()) == {"reused"}
    assert second.task("plan").xcom["preview"]["new_images"] == 0
    assert len(renders(second)) == PRODUCTS + lines
    assert set(renders(second).values()) == {(0, 1), (0, CHANNELS_PER_SCENE)}, "nothing rendered again"
    for row in manifest(second):
        assert f"/{second.run_id[:6]}" in row["stored_path"], "every run's folder is complete on its own"
        assert Path(ObjectStoragePath(row["stored_path"]).path).read_bytes().startswith(b"\x89PNG")

    # Edit one product photo (a mark on the product: its pixels change, so do its cut-out and
    # results): only that product's scenes and cut-out are new requests, its renditions new work.
    sneaker = folder / "sample_photos" / "sneaker.jpg"
    with Image.open(sneaker) as photo:
        edited_photo = photo.convert("RGB")
    width, height = edited_photo.size
    ImageDraw.Draw(edited_photo).rectangle(
        (width // 2 - 20, height // 2 - 20, width // 2 + 20, height // 2 + 20), fill=(250, 20, 20)
    )
    edited_photo.save(sneaker, format="JPEG", quality=88)
    edited = run_pipeline(pipeline, run_conf=one_scene)
    assert edited.state == "success", edited.tasks
    assert counter.since_last() == (2, 2), "one edited photo: its scene and its cut-out only"
    assert {k for k, v in statuses(edited).items() if v == "new"} == {("SNK-014", scene)}
    rendered = {task for task, (made, _) in renders(edited).items() if made}
    # The sneaker is the catalogue's second product: map index 1 of both renditions tasks.
    assert rendered == {"render_main/SNK-014/1", "render_scenes/SNK-014/1"}, (
        "only the edited product's renditions are rendered again"
    )

    # Add a scene: only the new lines (one per product).
    scenes = [scene, "a neon-lit street at night"]
    grown = run_pipeline(pipeline, run_conf={"scenes": scenes}, renditions=False)
    assert grown.state == "success", grown.tasks
    assert counter.since_last() == (PRODUCTS, PRODUCTS), "one new scene: one new line per product"
    assert grown.task("plan").xcom["preview"]["new_images"] == PRODUCTS, "the preview said so first"
    assert {k for k, v in statuses(grown).items() if v == "new"} == {
        (sku, scenes[-1]) for sku in ("MUG-001", "SNK-014", "BTL-007")
    }

    # Delete one stored result (every stored copy of it), and corrupt the index record of another
    # line: each is paid for again, with its own warning, and nothing else (one run for both).
    target = ("BTL-007", scene)
    for result in (first, second, edited, grown):
        stored_file(result, *target).unlink()
    records = sorted((output_dir / ".onemin-reuse").glob("*.json"))  # claims/ sits beside the records
    cutouts = PRODUCTS + 1  # the edited photo's cut-out too
    assert len(records) == lines + 1 + PRODUCTS + cutouts, "one record per distinct request ever paid for"
    corrupted = ("MUG-001", scenes[-1])  # a line still asked for: its record names its stored file
    stored_name = str(stored_file(grown, *corrupted).relative_to(output_dir))
    [victim] = [r for r in records if stored_name in r.read_text()]
    victim.write_text("{ not json")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_onemin"):
        again = run_pipeline(pipeline, run_conf={"scenes": scenes}, renditions=False)
    assert again.state == "success", again.tasks
    assert counter.since_last() == (2, 2), "one deleted result and one corrupt record: those two lines only"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    missing = [w for w in warned if "is missing" in w and "paid for again" in w]
    ignored = [w for w in warned if f"{victim.name} is ignored: it is not valid JSON" in w]
    assert missing and ignored and len(missing) + len(ignored) == len(warned), warned
    assert {k for k, v in statuses(again).items() if v == "new"} == {target, corrupted}


# On every minor (the scenario test above is the long one: the main suite runs it on 3.3).
@pytest.mark.compat
def test_max_new_images_fails_plan_before_anything_is_uploaded_or_paid(
    airflow_db, onemin_emulator, onemin_conn_env, shop
) -> None:
    pipeline, _ = shop
    result = run_pipeline(pipeline, run_conf={"max_new_images": 5})

    # (The run's own state follows its leaves: publish, marked successful here, runs whatever happens.)
    assert result.task("plan").state == "failed"
    assert onemin_emulator.snapshot()["charges"]["total"] == 0 and onemin_emulator.snapshot()["assets"] == 0
    untouched = {task_id: ti.state for (task_id, _), ti in result.tasks.items()}
    assert untouched["replace_background"] in ("upstream_failed", None), untouched
    assert untouched["write_manifest"] in ("upstream_failed", None), untouched
    # 6 lines and 3 cut-outs.
    with pytest.raises(OneMinCostCapError, match=r"9 new image\(s\), 4 over max_new_images=5"):
        pipeline.plan.function(params={"max_new_images": 5})


# On every minor (the scenario test above is the long one: the main suite runs it on 3.3).
@pytest.mark.compat
def test_unpausing_pays_for_what_the_docs_say_and_the_preview_command_shows_it(
    airflow_db, output_dir
) -> None:
    # The command docs/reuse.md and the README give, against the shipped DAG folder and files.
    run = airflow_cli(
        "tasks",
        "test",
        "marketing_asset_pipeline",
        "plan",
        env={**SHIPPED_DAGS, "ONEMIN_OUTPUT_PATH": str(output_dir)},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    scenes = PRODUCTS * SCENES  # nothing generated yet: every line and cut-out is new
    lines = scenes + PRODUCTS
    assert (
        f"Plan: {lines} lines ({PRODUCTS} cut-outs, {scenes} scenes), 0 already generated, {lines} new "
        f"generations, {lines} new images to pay for (max_new_images=10)." in run.stdout + run.stderr
    )
    assert list(output_dir.iterdir()) == [], "a preview stores nothing"
    docs = (Path(__file__).resolve().parents[2] / "docs" / "reuse.md").read_text()
    assert f"**{lines} images**" in docs, "docs/reuse.md states the first run's cost"
