"""
Copying a reuse hit's files into the task instance's own names (see :mod:`.index`).

Every run's folder is complete on its own: a hit is copied, not linked. Each copy appears whole or
not at all, server-side where the filesystem has a copy (S3, GCS, Azure, memory), else through a
temporary file that is published in one step.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid as uuid_module
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import open_storage_path

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.reuse.records import Reusable, TaskNames

_CHUNK = 1024 * 1024
_LOCAL_PROTOCOLS = frozenset({"file", "local", ""})


def copy_results(output_path: Any, reusable: Reusable, names: TaskNames) -> list[str]:
    """
    Copy the earlier files to this task instance's own names; return the new URIs in result order.

    Each copy appears whole or not at all: server-side where the filesystem can copy, else through a
    temporary file; a file already at its target (the same task instance again) is left as is.
    """
    from airflow_provider_onemin.storage.results import as_storage_path, plain_uri, result_stem

    base = as_storage_path(output_path)
    copied = []
    for index, source in enumerate(reusable.sources):
        stem = result_stem(
            dag_id=names.dag_id,
            run_id=names.run_id,
            task_id=names.task_id,
            map_index=names.map_index,
            index=index,
        )
        target = base / f"{stem}{os.path.splitext(source.name)[1]}"
        if target.path != source.path:
            _copy_file(source, target, reusable.record["files"][index]["size"])
        copied.append(plain_uri(target))  # stored_paths are plain URIs (no connection id)
    return copied


def _copy_file(source: ObjectStoragePath, target: ObjectStoragePath, size: int) -> None:
    from airflow_provider_onemin.storage.results import publish_file

    fs = target.fs
    if target.protocol not in _LOCAL_PROTOCOLS:
        try:
            fs.copy(source.path, target.path)  # server-side: one request, published whole
        except NotImplementedError:
            pass
        else:
            if fs.size(target.path) != size:
                with contextlib.suppress(Exception):
                    fs.rm_file(target.path)
                raise OSError(f"copying {source} to {target} gave a file of another size")
            return
    local = target.protocol in _LOCAL_PROTOCOLS
    folder = target.parent.path if local else tempfile.gettempdir()
    if local:
        os.makedirs(folder, exist_ok=True)
    spool = os.path.join(folder, f".{target.name}.{uuid_module.uuid4().hex}.part")
    try:
        with open_storage_path(source) as reader, open(spool, "xb") as writer:
            shutil.copyfileobj(reader, writer, _CHUNK)
            writer.flush()
            if local:
                os.fsync(writer.fileno())
        publish_file(spool, target, size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool)
