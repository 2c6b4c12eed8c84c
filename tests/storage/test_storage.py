"""
Storing results: real downloads from the emulator (loopback HTTP) into a local folder and into
fsspec's in-memory filesystem attached to ObjectStoragePath; failed and broken-off downloads
leave nothing behind; names are deterministic and unique per dag/run/task/map index/result.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_onemin.compat import storage_path_conn_id
from airflow_provider_onemin.exceptions import (
    OneMinConfigurationError,
    OneMinError,
    OneMinMalformedResponseError,
)
from airflow_provider_onemin.hooks.onemin import OneMinHook
from airflow_provider_onemin.storage.results import (
    as_storage_path,
    asset_for_output,
    output_uri,
    plain_uri,
    result_stem,
    store_results,
)

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat

SAMPLE = Path(__file__).resolve().parents[2] / "dags" / "sample_photos" / "mug.png"
RUN_ID = "manual__2026-04-15T10:30:00+00:00"
IDS = {"dag_id": "shop", "run_id": RUN_ID, "task_id": "replace"}


@pytest.fixture
def hook(onemin_conn_env: str) -> Iterator[OneMinHook]:
    hook = OneMinHook(onemin_conn_id="onemin_default")
    yield hook
    hook.close()


@pytest.fixture
def memory_root() -> Iterator[ObjectStoragePath]:
    """A fresh folder of fsspec's in-memory filesystem, attached to ObjectStoragePath."""
    import uuid

    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach("memory", fs=MemoryFileSystem())
    root = ObjectStoragePath(f"memory:///onemin-test-{uuid.uuid4().hex}")
    yield root
    if root.fs.exists(root.path):
        root.fs.rm(root.path, recursive=True)


def _generate(hook: OneMinHook, num_images: int = 2) -> tuple[dict, list[str]]:
    """One real generation on the emulator: upload the sample photo, submit, wait."""
    key = hook.upload_asset(str(SAMPLE))
    body = {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {"prompt": "a beach at dawn", "imageUrl": key, "num_images": num_images, "seed": 5},
    }
    record = hook.run_feature(body)
    if not hook.check_status(record):
        record = hook.wait_for_result(record["uuid"], poll_interval=0.02, timeout=10)
    return record, hook.result_download_urls(record)


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_names_are_deterministic_unique_and_cannot_escape() -> None:
    stem = result_stem(**IDS, map_index=-1, index=0)
    assert stem.startswith("shop/manual__2026-04-15T10_30_00_00_00-") and stem.endswith("/replace/result-0")
    assert stem == result_stem(**IDS, map_index=-1, index=0), "same ids, same name"
    names = {
        result_stem(dag_id="shop", run_id=run, task_id=task, map_index=m, index=i)
        for run in (RUN_ID, "manual__2026-04-15T10:30:00-00:00", "scheduled__2026-04-16")
        for task in ("replace", "replace-1")
        for m in (-1, 0, 1)
        for i in (0, 1)
    }
    assert len(names) == 3 * 2 * 3 * 2, "run ids differing only in unsafe characters must not collide"
    assert result_stem(**IDS, map_index=3, index=1).endswith("/replace/map-3/result-1")
    hostile = result_stem(dag_id="..", run_id="../../etc", task_id="/x", map_index=-1, index=0)
    assert ".." not in hostile.split("/") and not hostile.startswith("/")


def test_output_uri_and_asset() -> None:
    assert output_uri("/data/out/") == "file:///data/out"
    assert output_uri("file:///data/out/") == "file:///data/out"
    assert output_uri("s3://aws_default@bucket/prefix/") == "s3://bucket/prefix", "no connection id in a URI"
    asset = asset_for_output("file:///data/out/")
    assert (asset.name, asset.uri) == ("file:///data/out", "file:///data/out")


def test_connection_id_is_reported_beside_a_plain_uri() -> None:
    # Airflow 3.0 and 3.1 keep the id in storage_options (no conn_id attribute): the demo and every
    # stored result failed there with AttributeError before compat.storage_path_conn_id.
    in_url = ObjectStoragePath("s3://onemin_s3@bucket/out/x.png")
    as_argument = ObjectStoragePath("s3://bucket/out/x.png", conn_id="onemin_s3")
    for path in (in_url, as_argument, in_url / "y.png"):
        assert storage_path_conn_id(path) == "onemin_s3"
    assert plain_uri(in_url) == plain_uri(as_argument) == "s3://bucket/out/x.png"
    local = ObjectStoragePath("file:///data/out/x.png")
    assert storage_path_conn_id(local) is None
    assert plain_uri(local) == "file:///data/out/x.png"


def test_unknown_scheme_says_what_to_install() -> None:
    with pytest.raises(OneMinConfigurationError, match=r"no filesystem serves nosuchfs://.*attach"):
        as_storage_path("nosuchfs://bucket/out")
    with pytest.raises(OneMinConfigurationError, match="relative path"):
        as_storage_path("results/today")


def test_a_store_the_user_attached_for_local_paths_is_kept() -> None:
    from airflow.sdk.io.store import _STORE_CACHE, attach
    from fsspec.implementations.memory import MemoryFileSystem

    from airflow_provider_onemin.compat import attach_local_filesystem

    saved = dict(_STORE_CACHE)
    try:
        _STORE_CACHE.pop("file", None)
        mine = attach("file", fs=MemoryFileSystem())
        attach_local_filesystem.cache_clear()
        attach_local_filesystem()
        assert isinstance(as_storage_path("/data/out").fs, MemoryFileSystem)
        assert attach("file") is mine
    finally:
        _STORE_CACHE.clear()
        _STORE_CACHE.update(saved)
        attach_local_filesystem.cache_clear()


@pytest.mark.parametrize("output_path", ["nosuchfs://bucket/out", "results/today"])
def test_unusable_output_path_fails_before_anything_is_paid(
    onemin_emulator, onemin_conn_env, output_path
) -> None:
    from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

    op = BackgroundReplacerOperator(
        task_id="replace", prompt="a beach", image_url=str(SAMPLE), output_path=output_path
    )
    assert op.outlets == [], "no asset for a location that cannot be used"
    with pytest.raises(OneMinConfigurationError):
        op.execute({})
    snapshot = onemin_emulator.snapshot()
    assert (snapshot["charges"]["total"], snapshot["records"], snapshot["assets"]) == (0, 0, 0)


def test_local_store_streams_every_result_atomically(hook, onemin_emulator, output_dir: Path) -> None:
    record, urls = _generate(hook, num_images=2)
    assert urls[0].split("?")[0].endswith(record["aiRecordDetail"]["resultObject"][0]), "temporaryUrl first"
    stored = store_results(hook, urls, str(output_dir), **IDS, map_index=2)
    assert [s.rsplit("/", 2)[1:] for s in stored] == [["map-2", "result-0.png"], ["map-2", "result-1.png"]]
    assert all(s.startswith(f"file://{output_dir}/shop/manual__2026-04-15T10_30_00_00_00-") for s in stored)
    generation = onemin_emulator.record(record["uuid"])
    for index, uri in enumerate(stored):
        assert ObjectStoragePath(uri).read_bytes() == generation.renders[index], "exactly the served bytes"
    assert not [f for f in _all_files(output_dir) if f.endswith(".part") or "/." in f], "no temp file left"

    again = store_results(hook, urls, str(output_dir), **IDS, map_index=2)
    assert again == stored, "a retry of the same task instance writes the same names"
    next_run = store_results(hook, urls, output_dir, **{**IDS, "run_id": "manual__2026-04-16"}, map_index=2)
    assert set(next_run).isdisjoint(stored), "another run never overwrites this one"
    assert len(_all_files(output_dir)) == 4


def test_memory_filesystem_store(hook, memory_root: ObjectStoragePath) -> None:
    _, urls = _generate(hook, num_images=1)
    stored = store_results(hook, urls, str(memory_root), **IDS, map_index=-1)
    assert (
        len(stored) == 1 and stored[0].startswith("memory://") and stored[0].endswith("/replace/result-0.png")
    )
    data = ObjectStoragePath(stored[0]).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert [p.name for p in memory_root.rglob("*") if p.is_file()] == ["result-0.png"], (
        "no spool file uploaded"
    )


@pytest.mark.parametrize("where", ["local", "memory"])
def test_failed_download_leaves_nothing(hook, onemin_emulator, output_dir, memory_root, where) -> None:
    _, urls = _generate(hook, num_images=1)
    onemin_emulator.add_fault("status", count=50, endpoint="download", code=503)
    root = str(output_dir) if where == "local" else str(memory_root)
    with pytest.raises(OneMinError, match="503"):
        store_results(hook, urls, root, **IDS, map_index=-1)
    if where == "local":
        assert _all_files(output_dir) == []
    else:
        assert not memory_root.exists() or not [p for p in memory_root.rglob("*") if p.is_file()]


class _BrokenStreamServer:
    """A loopback HTTP server that promises 200 kB of PNG and hangs up after 4 kB."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/result.png"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.requests += 1
                head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 200000\r\n\r\n"
                conn.sendall(head + b"\x89PNG\r\n\x1a\n" + b"\0" * 4088)

    def close(self) -> None:
        self.sock.close()


def test_broken_off_stream_keeps_the_previous_file_and_leaves_no_temp(hook, output_dir: Path) -> None:
    server = _BrokenStreamServer()
    try:
        earlier = result_stem(**IDS, map_index=-1, index=0)
        previous = output_dir / f"{earlier}.png"
        previous.parent.mkdir(parents=True)
        previous.write_bytes(b"complete result of an earlier try")
        with pytest.raises(OneMinError, match="broke off|incomplete"):
            store_results(hook, [server.url], str(output_dir), **IDS, map_index=-1)
        assert server.requests >= 2, "a download is free, so it was retried"
    finally:
        server.close()
    assert previous.read_bytes() == b"complete result of an earlier try", "never replaced by a partial file"
    assert _all_files(output_dir) == [f"{earlier}.png"], "no temporary file left behind"


def test_download_that_is_not_an_image_is_refused(hook, output_dir: Path) -> None:
    key = hook.upload_asset(b"<html><title>Sign in</title></html>", "login.html", content_type="text/html")
    with pytest.raises(OneMinMalformedResponseError, match="not a PNG, JPEG or WebP"):
        store_results(hook, [f"{hook.asset_base_url}/{key}"], str(output_dir), **IDS, map_index=-1)
    assert _all_files(output_dir) == []
