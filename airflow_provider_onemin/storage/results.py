"""
Storing results where the rest of the company reads them, through Airflow's ObjectStoragePath.

A reader never sees a partial file:

* on a local (POSIX) filesystem a result is streamed to a hidden temporary name in the target
  folder (``.<name>.<random>.part``) and renamed into place, which is atomic;
* on an object store (``s3://``, ``gs://``, ``memory://``... any fsspec filesystem) it is streamed
  to a local temporary file first and then sent as one upload (``put_file``), which an object
  store publishes whole or not at all.

A download that fails or breaks off leaves nothing behind: the temporary file is removed and the
target is not touched (an earlier complete file of the same name stays as it was).

Names are built from the dag, run, task, map index and result index only, so they are
deterministic (a retry of the task overwrites its own files, never another task's), unique, and
cannot escape the output folder whatever the API answers::

    <output_path>/<dag_id>/<run_id>/<task_id>/result-<i>.<ext>
    <output_path>/<dag_id>/<run_id>/<task_id>/map-<k>/result-<i>.<ext>   (mapped tasks)

The extension follows the content (PNG, JPEG or WebP, checked by magic bytes); a download that is
not an image (a proxy's HTML page answered with 200, say) is refused and not stored. On S3, GCS
and Azure each object gets the content type of its format (``image/png``...), so a browser behind
a CDN shows it.

Before anything is paid, :func:`check_output_writable` proves the output folder can be written
(on S3: the bucket exists and the credentials may put objects there). URIs handed to users are
plain (``s3://bucket/key``, no connection id): see :func:`plain_uri`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import uuid as uuid_module
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import storage_path_conn_id
from airflow_provider_onemin.exceptions import (
    OneMinError,
    OneMinMalformedResponseError,
    OneMinResultStorageError,
)
from airflow_provider_onemin.storage.content_types import sniff_image_type
from airflow_provider_onemin.storage.errors import explain
from airflow_provider_onemin.storage.location import (
    AZURE_BLOB_PROTOCOLS,
    GCS_PROTOCOLS,
    LOCAL_PROTOCOLS,
    S3_PROTOCOLS,
    as_storage_path,
    asset_for_output,
    check_output_writable,
    output_uri,
    plain_uri,
    storage_conn_id,
)

__all__ = [
    "as_storage_path",
    "asset_for_output",
    "check_output_writable",
    "output_uri",
    "plain_uri",
    "publish_file",
    "result_stem",
    "safe_part",
    "storage_conn_id",
    "store_results",
    "write_file_atomically",
]

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.hooks.onemin import OneMinHook

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
#: The content type each stored file gets, by extension (images by their sniffed format).
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}
_COPY_CHUNK = 1024 * 1024


def safe_part(part: str) -> str:
    """
    ``part`` as one safe path segment: only ``[A-Za-z0-9._-]``, no leading dot.

    When characters had to be replaced (run ids hold ``:`` and ``+``), a short hash of the original
    is appended, so two different ids never end up with the same name.
    """
    cleaned = _UNSAFE.sub("_", part).strip("._") or "_"
    if cleaned != part:
        cleaned = f"{cleaned}-{hashlib.sha256(part.encode('utf-8')).hexdigest()[:8]}"
    return cleaned


def result_stem(*, dag_id: str, run_id: str, task_id: str, map_index: int, index: int) -> str:
    """
    The relative name of one result, without its extension (see the module docstring).

    :param dag_id: the DAG's id.
    :param run_id: the DAG run's id.
    :param task_id: the task's id.
    :param map_index: the map index of a mapped task instance, -1 when not mapped.
    :param index: the result's index in the generation, from 0.
    """
    parts = [safe_part(dag_id), safe_part(run_id), safe_part(task_id)]
    if map_index >= 0:
        parts.append(f"map-{map_index}")
    parts.append(f"result-{index}")
    return "/".join(parts)


def _is_local(path: ObjectStoragePath) -> bool:
    return path.protocol in LOCAL_PROTOCOLS


def _temporary_name(stem: str) -> str:
    return f".{os.path.basename(stem)}.{uuid_module.uuid4().hex}.part"


def _upload_options(target: ObjectStoragePath) -> dict[str, Any]:
    """
    Per-store upload options: the content type of ``target`` by its extension. Each store names it
    its own way; uploaded from a ``.part`` spool file without it, GCS and Azure keep
    ``application/octet-stream`` and a browser downloads the image instead of showing it.
    """
    content_type = CONTENT_TYPES.get(os.path.splitext(target.name)[1].lower())
    if not content_type:
        return {}
    if target.protocol in S3_PROTOCOLS:
        return {"ContentType": content_type}
    if target.protocol in GCS_PROTOCOLS:
        return {"content_type": content_type}
    if target.protocol in AZURE_BLOB_PROTOCOLS:
        # The object, not a dict: adlfs before 2025 hands a dict to the SDK, which drops it.
        from azure.storage.blob import ContentSettings

        return {"content_settings": ContentSettings(content_type=content_type)}
    return {}


def publish_file(source: str, target: ObjectStoragePath, size: int) -> None:
    """
    Put the complete local file ``source`` at ``target`` so that no reader sees it half written.

    Local targets: ``source`` must be on the same filesystem (it is renamed). Object stores: one
    upload, with the content type of the target's extension on S3, GCS and Azure
    (:data:`CONTENT_TYPES`); should a filesystem publish a partial object on failure, it is removed.

    :param source: path of a complete local file.
    :param target: where it must appear.
    :param size: its size in bytes (to recognise a partial upload).
    """
    if _is_local(target):
        os.replace(source, target.path)
        return
    fs = target.fs
    try:
        fs.put_file(source, target.path, **_upload_options(target))
    except BaseException:
        with contextlib.suppress(Exception):
            if fs.exists(target.path) and fs.size(target.path) != size:
                fs.rm_file(target.path)
        raise


def write_file_atomically(target: ObjectStoragePath, data: bytes) -> None:
    """
    Write ``data`` at ``target`` with the same guarantee as results: whole or not at all.

    :param target: the file to write (its folder is created when needed).
    :param data: the complete content.
    """
    local = _is_local(target)
    folder = target.parent.path if local else tempfile.gettempdir()
    if local:
        os.makedirs(folder, exist_ok=True)
    spool = os.path.join(folder, _temporary_name(target.name))
    try:
        with open(spool, "xb") as handle:
            handle.write(data)
            handle.flush()
            if local:
                os.fsync(handle.fileno())
        publish_file(spool, target, len(data))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool)


def store_result(
    hook: OneMinHook,
    url: str,
    base: ObjectStoragePath,
    stem: str,
    transform: Callable[[bytes], bytes] | None = None,
) -> ObjectStoragePath:
    """
    Download ``url`` and store it at ``base / stem`` plus the extension of its content.

    The download is streamed (in chunks, with the hook's retries) into a temporary file which is
    published only once complete and recognised as an image.

    :param hook: the hook that downloads (it knows the API key, proxy and retry policy).
    :param url: the result's download URL.
    :param base: the output folder.
    :param stem: the relative name without extension, from :func:`result_stem`.
    :param transform: applied to the downloaded image's bytes before it is published (the
        Background Remover's flattening for JPEG); the extension follows what it returns.
    :return: the stored file.
    """
    destination = base / stem
    local = _is_local(base)
    folder = destination.parent.path if local else tempfile.gettempdir()
    if local:
        # The temporary file must be on the target's filesystem for the rename to be atomic.
        os.makedirs(folder, exist_ok=True)
    spool = os.path.join(folder, _temporary_name(stem))
    try:
        with open(spool, "x+b") as handle:
            size = hook.download(url, handle)
            handle.seek(0)
            head = handle.read(16)
            if transform is not None and sniff_image_type(head) is not None:
                handle.seek(0)
                data = transform(handle.read())
                handle.seek(0)
                handle.truncate()
                handle.write(data)
                size, head = len(data), data[:16]
                handle.flush()
            if local:
                os.fsync(handle.fileno())
        mime_type = sniff_image_type(head)
        if mime_type is None:
            raise OneMinMalformedResponseError(
                f"The download of result {stem!r} is not a PNG, JPEG or WebP image ({size} bytes "
                f"starting with {head[:8]!r}); it was not stored. A proxy or an expired link may have "
                "answered instead of 1min.ai. Retrying the task downloads again without paying again."
            )
        target = base / f"{stem}{_EXTENSIONS[mime_type]}"
        publish_file(spool, target, size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool)
    return target


def store_results(
    hook: OneMinHook,
    urls: list[str],
    output_path: Any,
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    uuid: str | None = None,
    transform: Callable[[bytes], bytes] | None = None,
) -> list[str]:
    """
    Store every result under ``output_path``; return the stored plain URIs in result order.

    Called after the generation was paid for, so any failure is raised as the retryable
    :class:`OneMinResultStorageError`, which says so: a retry of the task instance resumes the
    same generation and stores it again without paying again.

    :param hook: the hook that downloads.
    :param urls: one download URL per result (``OneMinHook.result_download_urls``).
    :param output_path: the output folder (see :func:`as_storage_path`).
    :param dag_id: the DAG's id, for the names.
    :param run_id: the run's id, for the names.
    :param task_id: the task's id, for the names.
    :param map_index: the task instance's map index (-1 when not mapped), for the names.
    :param uuid: the generation's uuid, named in errors; with it, a link refused as expired is
        renewed once by polling the generation (free), see :mod:`~airflow_provider_onemin.hooks.downloads`.
    :param transform: applied to each downloaded image before it is stored (:func:`store_result`).
    :raises OneMinResultDownloadError: a download failed (retryable: a retry resumes, free).
    """
    from airflow_provider_onemin.hooks.downloads import fresh_links, store_with_fresh_link

    base = as_storage_path(output_path)
    renew = fresh_links(hook, uuid)
    stored: list[str] = []
    for index in range(len(urls)):
        stem = result_stem(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, index=index)
        hook.log.info("Storing result %d of %d under %s/%s", index + 1, len(urls), plain_uri(base), stem)
        try:
            target, urls = store_with_fresh_link(
                lambda url, stem=stem: store_result(hook, url, base, stem, transform),
                urls,
                index,
                uuid=uuid,
                renew=renew,
                log=hook.log,
                api_key=_api_key_of(hook),
            )
        except OneMinError:
            raise  # a failed download says so itself, and that a retry pays nothing again
        except Exception as exc:
            raise _paid_storage_error(exc, base, f"{stem}.*", index, len(urls), uuid) from exc
        stored.append(plain_uri(target))
    return stored


def _api_key_of(hook: OneMinHook) -> str | None:
    """The key to blank out of messages; None when the connection has none (nothing to hide)."""
    try:
        return hook.api_key
    except Exception:
        return None


def _paid_storage_error(
    error: Exception, base: ObjectStoragePath, stem: str, index: int, count: int, uuid: str | None
) -> OneMinResultStorageError:
    uri = f"{plain_uri(base).rstrip('/')}/{stem}"
    failure = explain(error)
    reason, hint = str(failure), failure.hint(storage_path_conn_id(base))
    generation = f"Generation {uuid}" if uuid else "The generation"
    return OneMinResultStorageError(
        f"{generation} is paid for, but storing result {index + 1} of {count} at {uri} failed: "
        f"{reason}. A retry of this task instance resumes that generation and stores it again "
        f"without paying again. {hint}".rstrip(),
        uri=uri,
        reason=reason,
    )
