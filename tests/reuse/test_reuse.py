"""
The reuse and reuse_index modules on their own: the request key, the index record kept in the output storage, the
lookup that checks every file before trusting a record, and the copy into a task instance's own
names (local folder and fsspec's in-memory filesystem, with and without a server-side copy).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from fsspec.implementations.memory import MemoryFileSystem

from airflow_provider_onemin.exceptions import OneMinInputFileError, OneMinReuseIndexError
from airflow_provider_onemin.reuse.copies import copy_results
from airflow_provider_onemin.reuse.index import (
    TaskNames,
    find_reusable,
    index_path,
    record_copy,
    record_generation,
)
from airflow_provider_onemin.reuse.policy import request_key

PHOTOS = Path(__file__).resolve().parents[2] / "dags" / "sample_photos"
FIRST = TaskNames("shop", "scheduled__2026-04-14T00:00:00+00:00", "replace", 3)
SECOND = TaskNames("shop", "scheduled__2026-04-15T00:00:00+00:00", "replace", 3)
# Two tiny "images": only their magic bytes make them PNGs; the rest is what makes them differ.
PNG_A = b"\x89PNG\r\n\x1a\n" + b"first result" * 10
PNG_B = b"\x89PNG\r\n\x1a\n" + b"second result" * 10


def prompt_object(image_url: str, **extra) -> dict:
    return {"prompt": "a beach at dawn", "imageUrl": image_url, "num_images": 2, "seed": 7, **extra}


def ai_record(record_uuid: str = "gen-1", credit=None) -> dict:
    record = {
        "uuid": record_uuid,
        "status": "SUCCESS",
        "aiRecordDetail": {
            "resultObject": ["development/images/r0.png", "development/images/r1.png"],
            "responseObject": {
                "data": [{"url": "https://x/r0.png", "seed": 70}, {"url": "https://x/r1.png", "seed": 71}]
            },
        },
    }
    if credit is not None:
        record["metadata"] = {"credit": credit}
    return record


def store(base: ObjectStoragePath, names: TaskNames, contents=(PNG_A, PNG_B)) -> list[str]:
    """Put files where the operator's storage step would, as it would name them."""
    from airflow_provider_onemin.storage.results import plain_uri, result_stem

    stored = []
    for index, data in enumerate(contents):
        stem = result_stem(
            dag_id=names.dag_id,
            run_id=names.run_id,
            task_id=names.task_id,
            map_index=names.map_index,
            index=index,
        )
        target = base / f"{stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        stored.append(plain_uri(target))  # as store_results reports them: no connection id inside
    return stored


@pytest.fixture
def key(tmp_path: Path):
    photo = tmp_path / "mug.png"
    shutil.copy(PHOTOS / "mug.png", photo)
    return request_key("ideogram-3", prompt_object(str(photo)))


@pytest.fixture
def local_root(output_dir: Path) -> ObjectStoragePath:
    return ObjectStoragePath(f"file://{output_dir}")


class CountingMemoryFileSystem(MemoryFileSystem):
    """fsspec's memory filesystem, counting server-side copies and file reads."""

    copies = 0
    reads = 0

    def cp_file(self, path1, path2, **kwargs):
        type(self).copies += 1
        return super().cp_file(path1, path2, **kwargs)

    def _open(self, path, mode="rb", **kwargs):
        if "r" in mode:
            type(self).reads += 1
        return super()._open(path, mode, **kwargs)


class NoCopyMemoryFileSystem(MemoryFileSystem):
    """An object store without a server-side copy (fsspec's default cp_file)."""

    copies = reads = 0

    def cp_file(self, path1, path2, **kwargs):
        raise NotImplementedError


@pytest.fixture(params=["server-side copy", "no server-side copy"])
def memory_root(request) -> Iterator[ObjectStoragePath]:
    from airflow.sdk.io import attach

    # A connection id of its own: attach() keeps the first filesystem attached under a name.
    fs_class = CountingMemoryFileSystem if request.param == "server-side copy" else NoCopyMemoryFileSystem
    fs_class.copies = fs_class.reads = 0
    conn_id = f"onemin_test_{fs_class.__name__.lower()}"
    attach("memory", conn_id=conn_id, fs=fs_class())
    root = ObjectStoragePath(f"memory:///onemin-reuse-{uuid.uuid4().hex}", conn_id=conn_id)
    yield root
    if root.fs.exists(root.path):
        root.fs.rm(root.path, recursive=True)


# --- the key ------------------------------------------------------------------------------------


def test_key_identifies_local_images_by_content(tmp_path: Path) -> None:
    original = PHOTOS / "mug.png"
    reexported = tmp_path / "exports" / "mug-final-v2.png"
    reexported.parent.mkdir()
    shutil.copy(original, reexported)
    edited = tmp_path / "mug.png"
    data = bytearray(original.read_bytes())
    data[-20] ^= 0x01  # one bit of the photo changed
    edited.write_bytes(bytes(data))

    assert request_key("ideogram-3", prompt_object(str(original))).digest == (
        request_key("ideogram-3", prompt_object(f"file://{reexported}")).digest
    ), "the same photo under another name and path is the same request"
    assert request_key("ideogram-3", prompt_object(str(original))).digest != (
        request_key("ideogram-3", prompt_object(str(edited))).digest
    ), "an edited photo is another request"


@pytest.mark.parametrize(
    "change",
    [
        {"num_images": 3},
        {"seed": 8},
        {"prompt": "a beach at dusk"},
        {"negative_prompt": "people"},
        {"rendering_speed": "TURBO"},
    ],
)
def test_every_field_is_part_of_the_key(change: dict) -> None:
    photo = str(PHOTOS / "mug.png")
    base = request_key("ideogram-3", prompt_object(photo))
    assert request_key("ideogram-3", {**prompt_object(photo), **change}).digest != base.digest
    assert request_key("another-model", prompt_object(photo)).digest != base.digest


def test_key_without_a_seed_is_a_key_too(tmp_path: Path) -> None:
    # A request without a seed is reused like any other: the same photo under another name gives
    # the same key (nothing random stands in for the missing seed), and leaving the seed out is
    # another request than giving one.
    photo = str(PHOTOS / "mug.png")
    copy = tmp_path / "mug-copy.png"
    shutil.copy(photo, copy)
    no_seed = {k: v for k, v in prompt_object(photo).items() if k != "seed"}
    key = request_key("ideogram-3", no_seed)
    assert key.digest == request_key("ideogram-3", {**no_seed, "imageUrl": str(copy)}).digest
    assert "seed" not in key.request["promptObject"]
    assert key.digest != request_key("ideogram-3", prompt_object(photo)).digest


def test_asset_paths_and_urls_are_kept_as_written_and_style_references_are_hashed(tmp_path: Path) -> None:
    asset = request_key("ideogram-3", prompt_object("development/images/mug.png"))
    assert asset.request["promptObject"]["imageUrl"] == "development/images/mug.png"
    url = request_key("ideogram-3", prompt_object("https://example.com/mug.png"))
    assert url.request["promptObject"]["imageUrl"] == "https://example.com/mug.png"

    reference = tmp_path / "style.webp"
    shutil.copy(PHOTOS / "bottle.webp", reference)
    key = request_key(
        "ideogram-3",
        prompt_object(
            "development/images/mug.png", style_reference_images=[str(reference), "development/s.png"]
        ),
    )
    expected = hashlib.sha256((PHOTOS / "bottle.webp").read_bytes()).hexdigest()
    assert key.request["promptObject"]["style_reference_images"] == [
        {"sha256": expected},
        "development/s.png",
    ]
    assert key.request["promptObject"]["imageUrl"] == "development/images/mug.png"


def test_key_is_the_documented_digest(tmp_path: Path) -> None:
    # A change in how keys are built makes every user pay for everything again: it must be
    # deliberate (a new key_version, said in docs/reuse.md), never a side effect. The expected
    # value is built here from the format docs/reuse.md describes, not by the module.
    photo = tmp_path / "p.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"pixels")
    key = request_key("ideogram-3", {"prompt": "a beach", "imageUrl": str(photo), "num_images": 1, "seed": 1})
    photo_digest = hashlib.sha256(b"\x89PNG\r\n\x1a\n" + b"pixels").hexdigest()
    documented = (
        '{"key_version":1,"model":"ideogram-3","promptObject":{"imageUrl":{"sha256":"'
        + photo_digest
        + '"},"num_images":1,"prompt":"a beach","seed":1},"type":"BACKGROUND_REPLACER"}'
    )
    assert key.digest == hashlib.sha256(documented.encode()).hexdigest()


def test_key_of_an_unreadable_image_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(OneMinInputFileError, match=r"promptObject\.imageUrl: .* does not exist"):
        request_key("ideogram-3", prompt_object(str(tmp_path / "missing.png")))


# --- record and lookup --------------------------------------------------------------------------


def test_recorded_generation_is_found_with_its_files(key, local_root, output_dir: Path) -> None:
    assert find_reusable(local_root, key) is None, "nothing indexed yet"
    stored = store(local_root, FIRST)
    written = record_generation(str(output_dir), key, ai_record(credit=4), stored, FIRST)

    assert written.path == f"{output_dir}/.onemin-reuse/{key.digest}.json"
    hit = find_reusable(f"file://{output_dir}/", key)
    assert hit is not None
    assert (hit.uuid, hit.results, hit.seeds, hit.credit) == (
        "gen-1",
        ["development/images/r0.png", "development/images/r1.png"],
        [70, 71],
        4,
    )
    assert hit.stored_paths == stored
    assert (hit.copy["run_id"], hit.copy["map_index"]) == (FIRST.run_id, 3)
    record = json.loads(Path(written.path).read_text())
    assert record["files"] == [
        {"sha256": hashlib.sha256(PNG_A).hexdigest(), "size": len(PNG_A)},
        {"sha256": hashlib.sha256(PNG_B).hexdigest(), "size": len(PNG_B)},
    ]
    assert all(not p.startswith(("/", "file:")) for p in record["copies"][0]["paths"]), "relative to output"
    assert [p.name for p in (output_dir / ".onemin-reuse").iterdir()] == [f"{key.digest}.json"], (
        "no temp left"
    )


def test_index_survives_moving_the_output_folder(key, local_root, output_dir: Path, tmp_path: Path) -> None:
    record_generation(local_root, key, ai_record(), store(local_root, FIRST), FIRST)
    moved = tmp_path / "moved"
    shutil.move(output_dir, moved)
    hit = find_reusable(str(moved), key)
    assert hit is not None and hit.stored_paths[0].startswith(f"file://{moved}/")


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda path, files: path.write_text('{"format": "onemin-reuse/1", "key": '), "not valid JSON"),
        (lambda path, files: path.write_text("[]"), "does not match the record schema"),
        (lambda path, files: files[1].unlink(), "is missing"),
        (lambda path, files: files[0].write_bytes(PNG_A + b"!"), "bytes, not"),
        (lambda path, files: files[0].write_bytes(PNG_A.replace(b"first", b"FIRST")), "differs"),
    ],
    ids=["truncated JSON", "not a record", "file deleted", "file grew", "file edited, same size"],
)
def test_a_record_that_cannot_be_trusted_is_ignored_with_a_warning(
    key, local_root, output_dir: Path, caplog, damage, reason
) -> None:
    stored = store(local_root, FIRST)
    path = Path(record_generation(local_root, key, ai_record(), stored, FIRST).path)
    damage(path, [Path(ObjectStoragePath(uri).path) for uri in stored])

    with caplog.at_level(logging.WARNING, logger="airflow_provider_onemin.reuse.index"):
        assert find_reusable(local_root, key) is None
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and reason in warnings[0], warnings
    assert str(path) in warnings[0] and "paid for again" in warnings[0]


def test_a_record_under_another_key_is_ignored(key, local_root, caplog) -> None:
    record_generation(local_root, key, ai_record(), store(local_root, FIRST), FIRST)
    other = request_key("ideogram-3", prompt_object("development/images/other.png"))
    shutil.copy(index_path(local_root, key).path, index_path(local_root, other).path)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_onemin.reuse.index"):
        assert find_reusable(local_root, other) is None
    assert "records key" in _warnings(caplog)[0]


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd.png", "/etc/passwd", "file:///etc/passwd", "a/../../b.png"]
)
def test_a_record_cannot_point_outside_the_output_folder(key, local_root, caplog, bad: str) -> None:
    path = Path(record_generation(local_root, key, ai_record(), store(local_root, FIRST), FIRST).path)
    record = json.loads(path.read_text())
    record["copies"][0]["paths"][0] = bad
    path.write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="airflow_provider_onemin.reuse.index"):
        assert find_reusable(local_root, key) is None
    assert "record schema" in _warnings(caplog)[0]


def test_indexing_files_that_are_not_there_fails_clearly(key, local_root) -> None:
    stored = store(local_root, FIRST)
    Path(ObjectStoragePath(stored[0]).path).unlink()
    with pytest.raises(OneMinReuseIndexError, match="without paying again"):
        record_generation(local_root, key, ai_record(), stored, FIRST)
    assert find_reusable(local_root, key) is None


# --- copying a hit ------------------------------------------------------------------------------


def test_hit_is_copied_to_this_task_instance_and_the_copy_is_remembered(
    key, local_root, output_dir: Path
) -> None:
    original = store(local_root, FIRST)
    record_generation(local_root, key, ai_record(), original, FIRST)

    hit = find_reusable(local_root, key)
    copied = copy_results(local_root, hit, SECOND)
    assert [ObjectStoragePath(c).read_bytes() for c in copied] == [PNG_A, PNG_B]
    assert [c.rsplit("/", 3)[1:] for c in copied] == [
        ["replace", "map-3", "result-0.png"],
        ["replace", "map-3", "result-1.png"],
    ]
    assert "scheduled__2026-04-15" in copied[0], "this run's own folder"
    assert not list(output_dir.rglob("*.part")), "no temporary file left"

    record_copy(local_root, hit, copied, SECOND)
    # Old runs' folders get cleaned up: the newest copy keeps the request known.
    shutil.rmtree(Path(ObjectStoragePath(original[0]).path).parents[2])
    again = find_reusable(local_root, key)
    assert again is not None and again.stored_paths == copied
    assert again.copy["run_id"] == SECOND.run_id


def test_copy_onto_itself_is_a_no_op(key, local_root) -> None:
    stored = store(local_root, FIRST)
    record_generation(local_root, key, ai_record(), stored, FIRST)
    assert copy_results(local_root, find_reusable(local_root, key), FIRST) == stored
    assert ObjectStoragePath(stored[0]).read_bytes() == PNG_A


def test_record_keeps_at_most_five_copies_newest_first(key, local_root) -> None:
    record_generation(local_root, key, ai_record(), store(local_root, FIRST), FIRST)
    runs = [TaskNames("shop", f"run-{i}", "replace", 3) for i in range(7)]
    for names in runs:
        hit = find_reusable(local_root, key)
        record_copy(local_root, hit, copy_results(local_root, hit, names), names)
    record = json.loads(Path(index_path(local_root, key).path).read_text())
    assert [c["run_id"] for c in record["copies"]] == ["run-6", "run-5", "run-4", "run-3", "run-2"]


def test_object_store_copy_is_server_side_where_it_can_be(key, memory_root: ObjectStoragePath) -> None:
    stored = store(memory_root, FIRST)
    record_generation(str(memory_root), key, ai_record(), stored, FIRST)
    hit = find_reusable(str(memory_root), key)
    assert hit is not None and hit.stored_paths == stored

    fs_class = type(memory_root.fs)
    reads_before = fs_class.reads
    copied = copy_results(str(memory_root), hit, SECOND)
    reads_by_copy = fs_class.reads - reads_before
    assert [ObjectStoragePath(c).read_bytes() for c in copied] == [PNG_A, PNG_B]
    assert all(c.startswith(f"memory:///{memory_root.path.lstrip('/')}/shop/") for c in copied), (
        "plain URIs: the connection id is reported beside them, not inside"
    )
    if fs_class is CountingMemoryFileSystem:
        assert (fs_class.copies, reads_by_copy) == (2, 0), (
            "one server-side copy per file, no byte via the worker"
        )
    assert not [p for p in memory_root.rglob("*") if p.name.endswith(".part")], "no temporary file left"
    record_copy(str(memory_root), hit, copied, SECOND)
    assert find_reusable(str(memory_root), key).stored_paths == copied


# --- the operator's decisions -------------------------------------------------------------------


def test_reuse_earlier_copies_and_says_what_it_saved(key, local_root, caplog) -> None:
    from airflow_provider_onemin.reuse.policy import index_generation, reuse_earlier

    logger = logging.getLogger("test_reuse_operator")
    with caplog.at_level(logging.INFO):
        assert reuse_earlier(local_root, key, FIRST, logger) is None
        original = store(local_root, FIRST)
        index_generation(local_root, key, ai_record(credit=12), original, FIRST, logger)
        reused = reuse_earlier(local_root, key, SECOND, logger)

    assert reused is not None
    assert (reused.uuid, reused.seeds, reused.results[0]) == ("gen-1", [70, 71], "development/images/r0.png")
    assert reused.reused_from == {"uuid": "gen-1", "stored_paths": original}
    assert [ObjectStoragePath(p).read_bytes() for p in reused.stored_paths] == [PNG_A, PNG_B]
    said = caplog.text
    assert "No earlier generation of request" in said
    assert "Reused generation gen-1" in said and "nothing uploaded, nothing paid" in said
    assert "saved 2 image(s) of ideogram-3 (12 credits)" in said, "which model's credits it saved"
    assert FIRST.run_id in said, "says which run stored what was reused"


def test_a_reuse_without_reported_credits_says_unknown_never_zero(key, local_root, caplog) -> None:
    from airflow_provider_onemin.reuse.policy import index_generation, reuse_earlier

    logger = logging.getLogger("test_reuse_operator")
    with caplog.at_level(logging.INFO):
        index_generation(local_root, key, ai_record(), store(local_root, FIRST), FIRST, logger)
        assert reuse_earlier(local_root, key, SECOND, logger) is not None
    assert "saved 2 image(s) of ideogram-3 (credits unknown" in caplog.text
    assert "(0 credits)" not in caplog.text


def test_dry_run_report_says_reuse_or_pay(key, local_root) -> None:
    from airflow_provider_onemin.reuse.policy import dry_run_report

    assert dry_run_report(local_root, key, 2) == (
        f"would pay for 2 image(s): no earlier generation of request {key.digest[:12]}"
    )
    record_generation(local_root, key, ai_record(), store(local_root, FIRST), FIRST)
    assert dry_run_report(local_root, key, 2).startswith("would reuse generation gen-1 (stored by shop / ")


def test_a_reuse_is_remembered_so_deleting_the_first_runs_folder_does_not_pay_again(key, local_root) -> None:
    # Killed mutants: reuse_earlier without record_copy's arguments (the copy is then silently not
    # remembered, and the next run pays once the first run's folder is cleaned up), and without
    # the earlier generation's result URLs.
    from airflow_provider_onemin.reuse.policy import index_generation, reuse_earlier

    logger = logging.getLogger("test_reuse_operator")
    original = store(local_root, FIRST)
    index_generation(local_root, key, ai_record(), original, FIRST, logger)
    reused = reuse_earlier(local_root, key, SECOND, logger)
    assert reused is not None and reused.result_urls == ["https://x/r0.png", "https://x/r1.png"]
    for uri in original:
        ObjectStoragePath(uri).unlink()  # the first run's folder is cleaned up

    hit = find_reusable(local_root, key)
    assert hit is not None and hit.stored_paths == reused.stored_paths, "the second run's copy is reused"


def test_object_storage_images_are_keyed_by_content(memory_root: ObjectStoragePath) -> None:
    # Killed mutants: object-storage references (s3://, gs://, memory://...) keyed by their path.
    photo = memory_root / "photos" / "mug.png"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes((PHOTOS / "mug.png").read_bytes())
    copy = memory_root / "exports" / "mug-final.png"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(photo.read_bytes())
    before = request_key("ideogram-3", prompt_object(str(photo)))
    assert before.request["promptObject"]["imageUrl"] == {
        "sha256": hashlib.sha256((PHOTOS / "mug.png").read_bytes()).hexdigest()
    }
    assert request_key("ideogram-3", prompt_object(str(copy))).digest == before.digest
    data = bytearray(photo.read_bytes())
    data[-20] ^= 0x01
    photo.write_bytes(bytes(data))
    assert request_key("ideogram-3", prompt_object(str(photo))).digest != before.digest, (
        "edited: a new request"
    )


def test_key_of_a_non_ascii_request_is_the_documented_digest(tmp_path: Path) -> None:
    # Killed mutants: the canonical JSON escaping non-ASCII characters (every request with an
    # accent would change key on upgrade, and be paid for again). Built here from docs/reuse.md.
    photo = tmp_path / "p.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"pixels")
    key = request_key("ideogram-3", {"prompt": "un café à Paris", "imageUrl": str(photo), "num_images": 1})
    documented = (
        '{"key_version":1,"model":"ideogram-3","promptObject":{"imageUrl":{"sha256":"'
        + hashlib.sha256(b"\x89PNG\r\n\x1a\n" + b"pixels").hexdigest()
        + '"},"num_images":1,"prompt":"un café à Paris"},"type":"BACKGROUND_REPLACER"}'
    )
    assert key.digest == hashlib.sha256(documented.encode("utf-8")).hexdigest()


def test_key_of_an_unreadable_style_reference_names_its_field(tmp_path: Path) -> None:
    po = prompt_object("development/images/mug.png", style_reference_images=[str(tmp_path / "gone.png")])
    with pytest.raises(OneMinInputFileError, match=r"style_reference_images\[0\]"):
        request_key("ideogram-3", po)
