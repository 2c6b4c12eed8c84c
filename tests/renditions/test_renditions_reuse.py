"""
RenditionsOperator(reuse=True) over two real DAG runs (``dag.test()``): the second run copies what
the first rendered, byte for byte with the same report, and renders anew whatever changed or
cannot be trusted (new source bytes at the same URI, another preset, a tampered or deleted earlier
rendition); ``reuse=False`` renders everything; one task stores and reuses on moto's S3 server.
Two runs for the whole module: each case is a task, each with its own source bytes.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from airflow.sdk import DAG
from PIL import Image, ImageDraw

from airflow_provider_onemin.operators.renditions import RenditionsOperator
from tests.renditions.rendition_images import cutout, on_scene
from tests.support.airflow_helpers import run_dag

SMALL = {"name": "small", "width": 160, "height": 120, "fit": "cover", "format": "jpeg", "quality": 80}
CHANNELS = ["web_thumbnail", SMALL]


def _square(path: Path, colour: tuple[int, int, int]) -> Path:
    """A small opaque photo: a product of ``colour`` on a grey backdrop."""
    image = Image.new("RGB", (480, 480), (90, 90, 90))
    ImageDraw.Draw(image).rectangle((120, 100, 360, 400), fill=colour)
    image.save(path)
    return path


def _dag(sources: dict[str, Path], out: Path, s3_out: str, *, small_quality: int) -> DAG:
    changed = {**SMALL, "quality": small_quality}
    with DAG(dag_id="onemin_renditions_reuse", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        for case in ("changed", "new_bytes"):
            RenditionsOperator(
                task_id=case, images=[str(sources[case])], channels=CHANNELS, output_path=str(out), reuse=True
            )
        RenditionsOperator(
            task_id="same",
            images=[str(sources["scene"]), str(sources["same"])],
            product_masks=[str(sources["cut"]), None],
            channels=CHANNELS,
            output_path=str(out),
            reuse=True,
        )
        RenditionsOperator(  # same sources and presets as "same": its records exist, and are ignored
            task_id="no_reuse",
            images=[str(sources["scene"]), str(sources["same"])],
            product_masks=[str(sources["cut"]), None],
            channels=CHANNELS,
            output_path=str(out),
        )
        RenditionsOperator(
            task_id="new_preset",
            images=[str(sources["new_preset"])],
            channels=["web_thumbnail", changed],
            output_path=str(out),
            reuse=True,
        )
        RenditionsOperator(
            task_id="on_s3", images=[str(sources["s3"])], channels=CHANNELS, output_path=s3_out, reuse=True
        )
    return dag


def _local(uri: str) -> Path:
    return Path(urlsplit(uri).path)


def _read(uri: str, s3_server: Any) -> bytes:
    return s3_server.read(uri) if uri.startswith("s3://") else _local(uri).read_bytes()


def _files(task: Any, s3_server: Any) -> dict[str, list[bytes]]:
    return {
        channel: [_read(u, s3_server) for u in uris] for channel, uris in task.xcom["return_value"].items()
    }


@pytest.fixture(scope="module")
def runs(airflow_db, s3_server, tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("renditions_reuse")
    cut = cutout(folder / "cut.png", size=(480, 480), box=(60, 100, 420, 380))
    sources = {"cut": cut, "scene": on_scene(cut, folder / "scene.png")}
    colours = {
        "same": (240, 210, 20),
        "changed": (20, 160, 220),
        "new_bytes": (30, 200, 90),
        "new_preset": (250, 120, 30),
        "s3": (120, 40, 200),
    }
    for case, colour in colours.items():
        sources[case] = _square(folder / f"{case}.png", colour)
    out = folder / "out"
    bucket = s3_server.new_bucket()
    s3_out = f"s3://onemin_s3_admin@{bucket}/renditions"

    first = run_dag(_dag(sources, out, s3_out, small_quality=80))
    before = {task_id: _files(first.task(task_id), s3_server) for task_id, _ in first.tasks}
    # Between the runs: new bytes at the same URI, an earlier rendition changed, another deleted.
    _square(sources["new_bytes"], (30, 90, 200))
    tampered = _local(first.task("changed").xcom["return_value"]["small"][0])
    original = before["changed"]["small"][0]
    middle = len(original) // 2  # same length, one byte changed: only the SHA-256 can tell
    tampered_bytes = original[:middle] + bytes([original[middle] ^ 0xFF]) + original[middle + 1 :]
    tampered.write_bytes(tampered_bytes)
    _local(first.task("changed").xcom["return_value"]["web_thumbnail"][0]).unlink()
    second = run_dag(_dag(sources, out, s3_out, small_quality=60))
    return {
        "first": first,
        "second": second,
        "before": before,
        "tampered_bytes": tampered_bytes,
        "bucket": bucket,
        "out": out,
    }


def _counts(run: Any, task_id: str) -> tuple[int, int]:
    task = run.task(task_id)
    assert task.state == "success", task_id
    return task.xcom["rendered"], task.xcom["reused"]


def _without_uri(compliance: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {ch: [{k: v for k, v in r.items() if k != "uri"} for r in rs] for ch, rs in compliance.items()}


def test_a_second_run_copies_every_rendition_with_the_same_bytes_and_report(runs, s3_server) -> None:
    first, second = runs["first"].task("same"), runs["second"].task("same")
    assert _counts(runs["first"], "same") == (4, 0)
    assert _counts(runs["second"], "same") == (0, 4)
    assert _files(second, s3_server) == runs["before"]["same"]
    assert _without_uri(second.xcom["compliance"]) == _without_uri(first.xcom["compliance"])
    assert second.xcom["compliance"]["web_thumbnail"][0]["fidelity"]["score"] is not None
    for channel, uris in second.xcom["return_value"].items():
        for earlier, copy in zip(first.xcom["return_value"][channel], uris, strict=True):
            assert copy != earlier and _local(copy).exists(), "copied into this run's own folder"
            assert copy.split("/same/")[1] == earlier.split("/same/")[1] == f"{channel}/{Path(copy).name}"
    assert not list(runs["out"].rglob(".*.part")), "no temporary file left"


def test_new_bytes_at_the_same_uri_are_rendered_anew(runs, s3_server) -> None:
    assert _counts(runs["second"], "new_bytes") == (2, 0)
    after = _files(runs["second"].task("new_bytes"), s3_server)
    assert after["small"] != runs["before"]["new_bytes"]["small"]
    assert Image.open(io.BytesIO(after["small"][0])).convert("RGB").getpixel((80, 60))[2] > 150, (
        "the new blue"
    )


def test_a_changed_preset_renders_anew_and_the_unchanged_one_is_reused(runs, s3_server) -> None:
    assert _counts(runs["second"], "new_preset") == (1, 1)
    second = runs["second"].task("new_preset")
    assert second.xcom["compliance"]["small"][0]["quality"] == 60
    after = _files(second, s3_server)
    assert after["web_thumbnail"] == runs["before"]["new_preset"]["web_thumbnail"]
    assert len(after["small"][0]) < len(runs["before"]["new_preset"]["small"][0]), "quality 60 is smaller"


def test_a_tampered_or_deleted_earlier_rendition_is_rendered_anew_never_served(runs, s3_server) -> None:
    # "small" was changed after it was stored (same length), "web_thumbnail" deleted.
    assert _counts(runs["second"], "changed") == (2, 0)
    after = _files(runs["second"].task("changed"), s3_server)
    assert after == runs["before"]["changed"], "rendered again: the first run's bytes"
    assert after["small"][0] != runs["tampered_bytes"]


def test_reuse_off_renders_everything(runs) -> None:
    assert _counts(runs["first"], "no_reuse") == (4, 0)
    assert _counts(runs["second"], "no_reuse") == (4, 0)


def test_reuse_on_s3_records_in_the_bucket_and_copies(runs, s3_server) -> None:
    assert _counts(runs["first"], "on_s3") == (2, 0)
    assert _counts(runs["second"], "on_s3") == (0, 2)
    second = runs["second"].task("on_s3")
    assert _files(second, s3_server) == runs["before"]["on_s3"]
    keys = s3_server.keys(runs["bucket"])
    assert len([k for k in keys if k.startswith("renditions/.onemin-reuse/renditions/")]) == 2
    (thumbnail,) = second.xcom["return_value"]["web_thumbnail"]
    assert thumbnail != runs["first"].task("on_s3").xcom["return_value"]["web_thumbnail"][0]
    assert thumbnail.removeprefix(f"s3://{runs['bucket']}/") in keys
    assert s3_server.content_type(thumbnail) == "image/webp"
    assert not s3_server.pending_uploads(runs["bucket"])
