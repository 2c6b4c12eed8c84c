"""
The renditions' reuse index without Airflow (``run_batch`` with a ``RenditionIndex``): a reused
rendition is the very file a fresh render of the same batch makes; records that cannot be trusted
are ignored and the log says why; concurrent batches of the same renditions leave valid records.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_onemin.renditions import reuse as reuse_module
from airflow_provider_onemin.renditions.batch import Names, run_batch
from airflow_provider_onemin.renditions.presets import resolve_channels
from airflow_provider_onemin.renditions.reuse import RenditionIndex
from tests.renditions.rendition_images import cutout, on_scene, photo

DARK = {
    "name": "dark",
    "width": 300,
    "height": 300,
    "fit": "contain",
    "format": "png",
    "background": [0, 0, 0],
}


class Lines(logging.Handler):
    """What a batch logged, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log() -> Any:
    logger = logging.getLogger(f"{__name__}.batch")
    handler = Lines()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, handler.lines
    logger.removeHandler(handler)


def _batch(
    images: list[Path],
    channels: list,
    out: Path,
    run: str,
    log: Any,
    reuse: bool = True,
    masks: list[Path] | None = None,
    threshold: float = 0.08,
) -> Any:
    index = RenditionIndex(str(out), log) if reuse else None
    stored, reports = run_batch(
        [str(p) for p in images],
        resolve_channels(channels),
        str(out),
        Names("dag", run, "renditions", -1),
        conn_id=None,
        masks=[str(m) for m in masks] if masks else [None] * len(images),
        threshold=threshold,
        log=log,
        index=index,
    )
    return stored, reports, index


def _bytes(stored: dict[str, list[str]]) -> dict[str, list[bytes]]:
    return {ch: [Path(urlsplit(u).path).read_bytes() for u in uris] for ch, uris in stored.items()}


def _records(out: Path) -> list[Path]:
    return sorted((out / ".onemin-reuse" / "renditions").glob("*.json"))


def test_a_reused_rendition_is_the_file_a_fresh_render_of_the_same_batch_makes(tmp_path, log) -> None:
    """
    What other channels a batch asks for changes how a source is decoded (a JPEG at reduced size
    when every channel is small) and whether a cut-out is flattened first (one background for all):
    a rendition made in a batch of other channels is not what this batch makes, and is not reused.
    """
    logger, _ = log
    images = [photo(tmp_path / "photo.jpg", quality=90), cutout(tmp_path / "cut.png")]
    wider = ["web_thumbnail", "instagram_portrait", DARK]
    fresh, fresh_reports, _ = _batch(images, wider, tmp_path / "fresh", "a", logger, reuse=False)
    out = tmp_path / "out"
    _batch(images, ["web_thumbnail"], out, "a", logger)
    again, reports, index = _batch(images, wider, out, "b", logger)
    assert _bytes(again) == _bytes(fresh)
    assert (index.rendered, index.reused) == (6, 0)
    third, third_reports, index = _batch(images, wider, out, "c", logger)
    assert (index.rendered, index.reused) == (0, 6)
    assert _bytes(third) == _bytes(fresh)
    strip = lambda rs: {ch: [{k: v for k, v in r.items() if k != "uri"} for r in e] for ch, e in rs.items()}  # noqa: E731
    assert strip(third_reports) == strip(fresh_reports)
    # The rendition the index names (run b's: a copy is not recorded) gone: the source is decoded
    # again for it alone, as the whole batch decodes it.
    Path(urlsplit(again["instagram_portrait"][0]).path).unlink()
    fourth, fourth_reports, index = _batch(images, wider, out, "d", logger)
    assert (index.rendered, index.reused) == (1, 5)
    assert _bytes(fourth) == _bytes(fresh)
    assert strip(fourth_reports) == strip(fresh_reports)


def _tamper_record(out: Path, change: Any) -> None:
    for path in _records(out):
        record = json.loads(path.read_text())
        change(record)
        path.write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("case", "change", "why"),
    [
        ("outside", lambda r: r["file"].update(name="../elsewhere/image.jpg"), "not a plain name"),
        ("other key", lambda r: r.update(key="0" * 64), "records key 000000000000"),
        ("no frame", lambda r: r.pop("frame"), "no report or frame"),
        ("other format", lambda r: r.update(format="onemin-renditions/0"), "is not a onemin-renditions/1"),
    ],
)
def test_a_record_that_cannot_be_trusted_is_ignored_and_the_log_says_why(
    tmp_path, log, case, change, why
) -> None:
    logger, lines = log
    source = photo(tmp_path / "photo.png", size=(600, 400), product=(100, 100, 300, 300))
    out = tmp_path / "out"
    first, _, _ = _batch([source], ["web_thumbnail"], out, "a", logger)
    if case == "outside":  # the file it names has the recorded bytes: only its place is wrong
        (tmp_path / "elsewhere").mkdir()
        shutil.copy(urlsplit(first["web_thumbnail"][0]).path, tmp_path / "elsewhere" / "image.jpg")
    _tamper_record(out, change)
    again, _, index = _batch([source], ["web_thumbnail"], out, "b", logger)
    assert (index.rendered, index.reused) == (1, 0)
    assert _bytes(again) == _bytes(first)
    assert any(why in line for line in lines), lines


def test_broken_json_is_ignored(tmp_path, log) -> None:
    logger, lines = log
    source = photo(tmp_path / "photo.png", size=(600, 400), product=(100, 100, 300, 300))
    out = tmp_path / "out"
    _batch([source], ["web_thumbnail"], out, "a", logger)
    (record,) = _records(out)
    record.write_text(record.read_text()[:40])
    _, _, index = _batch([source], ["web_thumbnail"], out, "b", logger)
    assert (index.rendered, index.reused) == (1, 0)
    assert any("it is not JSON" in line for line in lines), lines
    assert json.loads(record.read_text())["file"]["name"].startswith("dag/b/"), "rewritten by the render"


def test_a_changed_earlier_rendition_is_not_served_and_the_log_says_why(tmp_path, log) -> None:
    logger, lines = log
    source = photo(tmp_path / "photo.png", size=(600, 400), product=(100, 100, 300, 300))
    out = tmp_path / "out"
    first, _, _ = _batch([source], ["web_thumbnail"], out, "a", logger)
    earlier = Path(urlsplit(first["web_thumbnail"][0]).path)
    original = earlier.read_bytes()
    earlier.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # same size
    again, _, index = _batch([source], ["web_thumbnail"], out, "b", logger)
    assert (index.rendered, index.reused) == (1, 0)
    assert Path(urlsplit(again["web_thumbnail"][0]).path).read_bytes() == original
    assert any("differs from the file that was stored (SHA-256)" in line for line in lines), lines


def test_concurrent_batches_of_the_same_renditions_leave_records_that_serve_them(tmp_path, log) -> None:
    logger, _ = log
    images = [
        photo(
            tmp_path / f"photo-{i}.png",
            size=(600, 400),
            border=(10 * i, 90, 90),
            product=(100, 100, 300, 300),
        )
        for i in range(3)
    ]
    out = tmp_path / "out"
    channels = ["web_thumbnail", {**DARK, "name": "small", "width": 120, "height": 80}]
    results: dict[str, Any] = {}
    start = threading.Barrier(2)

    def batch(run: str) -> None:
        start.wait()
        try:
            results[run] = _batch(images, channels, out, run, logger)[0]
        except Exception as exc:  # reported below
            results[run] = exc

    threads = [threading.Thread(target=batch, args=(run,)) for run in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(r, dict) for r in results.values()), results
    assert _bytes(results["a"]) == _bytes(results["b"])
    assert len(_records(out)) == 6
    assert not list(out.rglob(".*.part")), "no temporary file left"
    third, _, index = _batch(images, channels, out, "c", logger)
    assert (index.rendered, index.reused) == (0, 6)
    assert _bytes(third) == _bytes(results["a"])


@pytest.mark.parametrize(
    "change",
    [
        lambda mp: mp.setattr(reuse_module, "RENDERER_VERSION", reuse_module.RENDERER_VERSION + 1),
        lambda mp: mp.setattr(reuse_module, "engine", lambda: {"pillow": "another"}),
    ],
    ids=["renderer version", "pillow version"],
)
def test_another_renderer_or_pillow_renders_anew(tmp_path, log, monkeypatch, change) -> None:
    logger, _ = log
    source = photo(tmp_path / "photo.png", size=(600, 400), product=(100, 100, 300, 300))
    out = tmp_path / "out"
    _batch([source], ["web_thumbnail"], out, "a", logger)
    change(monkeypatch)
    _, _, index = _batch([source], ["web_thumbnail"], out, "b", logger)
    assert (index.rendered, index.reused) == (1, 0)


def test_the_review_flag_follows_this_calls_threshold_on_a_hit(tmp_path, log) -> None:
    logger, _ = log
    cut = cutout(tmp_path / "cut.png", size=(480, 480), box=(60, 100, 420, 380))
    scene = on_scene(cut, tmp_path / "scene.png", recolour=True)  # scores about 0.4 (docs)
    out = tmp_path / "out"
    _, first, _ = _batch([scene], ["web_thumbnail"], out, "a", logger, masks=[cut], threshold=1.0)
    _, again, index = _batch([scene], ["web_thumbnail"], out, "b", logger, masks=[cut], threshold=0.08)
    assert (index.rendered, index.reused) == (0, 1)
    (before,), (after,) = first["web_thumbnail"], again["web_thumbnail"]
    assert (before["needs_review"], after["needs_review"]) == (False, True)
    assert after["fidelity"] == {**before["fidelity"], "threshold": 0.08}


def test_an_index_that_cannot_be_written_leaves_the_renditions_stored(tmp_path, log) -> None:
    logger, lines = log
    source = photo(tmp_path / "photo.png", size=(600, 400), product=(100, 100, 300, 300))
    out = tmp_path / "out"
    (out / ".onemin-reuse").mkdir(parents=True)
    (out / ".onemin-reuse" / "renditions").write_text("a file where the index folder goes")
    stored, _, index = _batch([source], ["web_thumbnail"], out, "a", logger)
    assert index.rendered == 1 and Path(urlsplit(stored["web_thumbnail"][0]).path).exists()
    assert any("could not be written" in line for line in lines), lines
