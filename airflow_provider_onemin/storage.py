"""
Storing results where the rest of the company reads them, through Airflow's ObjectStoragePath.

A reader never sees a partial file: on a local filesystem a result is downloaded to a hidden
temporary name in the target folder and renamed into place; on an object store it is
downloaded to a local temporary file first and written as one upload, which appears whole or
not at all. Names are built from the dag, run, task, map index and result index only, so they
are deterministic, unique, and cannot escape the output folder whatever the API answers.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid as uuid_module
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.hooks.onemin import OneMinHook

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_LOCAL_PROTOCOLS = frozenset({"file", "local", ""})
_KNOWN_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp"})


@dataclass(frozen=True)
class ResultName:
    """What identifies one result of one task instance."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    index: int
    extension: str = ".png"

    def relative_path(self) -> str:
        """``<dag>/<run>/<task>[-<map index>]-<index><ext>``, every part made filename-safe."""
        task = _safe(self.task_id) + (f"-{self.map_index}" if self.map_index >= 0 else "")
        return f"{_safe(self.dag_id)}/{_safe(self.run_id)}/{task}-{self.index}{self.extension}"


def _safe(part: str) -> str:
    cleaned = _UNSAFE.sub("_", part).strip("._")
    return cleaned or "_"


def result_extension(key: str | None) -> str:
    """The file extension of a result key when it is a known image type, else ``.png``."""
    if key:
        ext = os.path.splitext(key.split("?", 1)[0])[1].lower()
        if ext in _KNOWN_EXTENSIONS:
            return ext
    return ".png"


def as_storage_path(output_path: Any) -> ObjectStoragePath:
    """Turn ``output_path`` (an ObjectStoragePath, a URL or an absolute local path) into a path."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(output_path, ObjectStoragePath):
        return output_path
    text = os.fspath(output_path) if isinstance(output_path, os.PathLike) else str(output_path)
    if "://" not in text:
        text = f"file://{os.path.abspath(text)}"
    return ObjectStoragePath(text)


def _is_local(path: ObjectStoragePath) -> bool:
    return path.protocol in _LOCAL_PROTOCOLS


def store_result(hook: OneMinHook, url: str, target: ObjectStoragePath) -> int:
    """Download ``url`` into ``target`` atomically; return the number of bytes stored."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if _is_local(target):
        final = target.path
        tmp_path = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.{uuid_module.uuid4().hex}.part")
        try:
            with open(tmp_path, "wb") as handle:
                size = hook.download(url, handle)
                os.fsync(handle.fileno())
            os.replace(tmp_path, final)
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)
        return size
    with tempfile.TemporaryFile() as spool:
        size = hook.download(url, spool)
        spool.seek(0)
        # One write of the complete file: object stores publish it whole or not at all.
        with target.open("wb") as out:
            while chunk := spool.read(1024 * 1024):
                out.write(chunk)
    return size


def store_results(
    hook: OneMinHook,
    urls: list[str],
    keys: list[str],
    output_path: Any,
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
) -> list[str]:
    """Store every result under ``output_path``; return the stored URIs in result order."""
    base = as_storage_path(output_path)
    stored: list[str] = []
    for index, url in enumerate(urls):
        name = ResultName(
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
            index=index,
            extension=result_extension(keys[index] if index < len(keys) else url),
        )
        target = base / name.relative_path()
        hook.log.info("Storing result %d of %d at %s", index + 1, len(urls), target)
        store_result(hook, url, target)
        stored.append(str(target))
    return stored
