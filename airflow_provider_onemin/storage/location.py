"""
Where results go: the output location as an ObjectStoragePath, its plain URI and asset, and the
check, before anything is paid, that it can be written.

* :func:`as_storage_path` resolves the filesystem of ``output_path`` now, so a scheme nobody
  serves fails before paying. For ``s3://`` it first checks the installed stack: "install the
  extra" is said only when a part is really missing, an s3fs too old to serve s3:// is named.
* :func:`plain_uri` is the URI other tools accept (``s3://bucket/key``), without the connection
  id that ``str(ObjectStoragePath)`` puts in the user part; the id travels beside it.
* :func:`check_output_writable` proves the location can be written with the cheapest probe the
  store allows.
"""

from __future__ import annotations

import logging
import os
import uuid as uuid_module
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import attach_local_filesystem, object_storage_path, storage_path_conn_id
from airflow_provider_onemin.exceptions import (
    OneMinConfigurationError,
    OneMinOutputLocationError,
    OneMinStorageError,
)
from airflow_provider_onemin.storage.errors import StorageFailure, explain

if TYPE_CHECKING:
    from airflow.sdk import Asset, ObjectStoragePath

log = logging.getLogger(__name__)

LOCAL_PROTOCOLS = frozenset({"file", "local", ""})
S3_PROTOCOLS = frozenset({"s3", "s3a", "s3n"})
GCS_PROTOCOLS = frozenset({"gs", "gcs"})
#: Azure Blob through adlfs (``az`` is attached by :mod:`.azure_fs`); ``adl`` (Data Lake Gen1) is not one.
AZURE_BLOB_PROTOCOLS = frozenset({"abfs", "abfss", "az"})
#: The oldest s3fs that serves s3:// here; keep in step with the ``s3`` extra in pyproject.toml.
S3FS_FLOOR = "2024.5.0"


def _output_url(output_path: Any) -> str:
    """``output_path`` (not an ObjectStoragePath) as a URL; a local path must be absolute."""
    text = os.fspath(output_path) if isinstance(output_path, os.PathLike) else str(output_path).strip()
    if not text:
        raise OneMinConfigurationError("output_path is empty: give a folder URL or leave it unset.")
    if "://" in text:
        return text
    if not os.path.isabs(text):
        # Relative to what? The worker's working directory differs from the DAG processor's.
        raise OneMinConfigurationError(
            f"output_path {text!r} is a relative path: give an absolute path or a URL (file:///..., s3://...)."
        )
    return f"file://{text}"


def _installed_version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def s3_stack_problem() -> str | None:
    """
    What is wrong with the installed s3:// stack, or ``None`` when it can serve ObjectStoragePath.

    "Install the extra" is said only when a part of it is really missing; an s3fs too old to
    serve s3:// (pip settles on 0.4.2 when no aiobotocore accepts the installed botocore) is named
    with its version.
    """
    from packaging.version import InvalidVersion, Version

    amazon = _installed_version("apache-airflow-providers-amazon")
    s3fs = _installed_version("s3fs")
    missing = [name for name, version in (("the amazon provider", amazon), ("s3fs", s3fs)) if version is None]
    if missing:
        return (
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: install the "
            "s3 extra, pip install 'airflow-provider-onemin[s3]'"
        )
    try:
        too_old = Version(s3fs) < Version(S3FS_FLOOR)
    except InvalidVersion:
        too_old = False
    if too_old:
        return (
            f"s3fs {s3fs} is installed, but serving s3:// needs s3fs>={S3FS_FLOOR} (older releases "
            "cannot; pip picks one when no aiobotocore accepts the installed botocore). Upgrade it: "
            f"pip install 's3fs>={S3FS_FLOOR}' (the s3 extra of airflow-provider-onemin has this floor)"
        )
    return None


def _no_filesystem_message(text: str, scheme: str, error: BaseException) -> str:
    if scheme in S3_PROTOCOLS:
        return (
            f"output_path {text!r}: the s3 extra is installed (amazon provider "
            f"{_installed_version('apache-airflow-providers-amazon')}, s3fs {_installed_version('s3fs')}) "
            f"but its filesystem could not be loaded: {type(error).__name__}: {error}"
        )
    return (
        f"output_path {text!r}: no filesystem serves {scheme}:// ({error}). Install the Airflow "
        "provider that serves it (s3://: pip install 'airflow-provider-onemin[s3]'; gs://: the google "
        "provider and gcsfs; abfs://: the microsoft-azure provider and adlfs), or attach one in the DAG "
        "file with airflow.sdk.io.attach(protocol, fs=...)."
    )


def as_storage_path(output_path: Any) -> ObjectStoragePath:
    """
    Turn ``output_path`` into an ObjectStoragePath whose filesystem is available.

    :param output_path: an ObjectStoragePath, a URL (``file:///data/out``, ``s3://bucket/prefix``,
        ``s3://<conn_id>@bucket/prefix``) or an absolute local path.
    :raises OneMinConfigurationError: when it is empty or relative, or no filesystem serves its
        scheme (checked without writing anything, so the operator can check before paying).
    """
    from airflow.sdk import ObjectStoragePath

    attach_local_filesystem()
    text = str(output_path)
    try:
        if isinstance(output_path, ObjectStoragePath):
            path = output_path
        else:
            text = _output_url(output_path)
            path = object_storage_path(text)
    except ValueError as exc:  # fsspec knows no filesystem for the scheme
        scheme = text.split("://", 1)[0] if "://" in text else "file"
        raise OneMinConfigurationError(_no_filesystem_message(text, scheme, exc)) from None
    scheme = path.protocol or "file"
    if scheme in S3_PROTOCOLS and (problem := s3_stack_problem()):
        raise OneMinConfigurationError(f"output_path {text!r}: {problem}.")
    try:
        path.fs  # noqa: B018 - resolving the filesystem now gives a clear error before anything is paid
    except (ImportError, ValueError) as exc:
        raise OneMinConfigurationError(_no_filesystem_message(text, scheme, exc)) from None
    return path


def plain_uri(path: ObjectStoragePath) -> str:
    """
    ``path`` as a URI other tools accept: ``s3://bucket/key``, ``file:///data/out/x.png``.

    ``str(ObjectStoragePath)`` puts the connection id in the user part (``s3://aws_default@bucket``),
    which boto3, the AWS CLI and s3fs reject; the connection id is reported beside the URI instead
    (:func:`storage_conn_id`). ``ObjectStoragePath(uri, conn_id=...)`` joins them again.
    """
    if storage_path_conn_id(path) is None:
        return str(path)
    return f"{path.protocol or 'file'}://{path.path}"


def storage_conn_id(output_path: Any) -> str | None:
    """The Airflow connection id that reaches ``output_path``, or ``None`` for default credentials."""
    return storage_path_conn_id(as_storage_path(output_path))


def output_uri(output_path: Any) -> str:
    """
    The canonical URI of an output location: ``<scheme>://<path>``, no connection id, no trailing
    slash (``/data/out/`` and ``file:///data/out`` give ``file:///data/out``).

    :param output_path: as for :func:`as_storage_path`.
    :raises OneMinConfigurationError: when it is empty or a relative path.
    """
    from airflow.sdk import ObjectStoragePath

    if not isinstance(output_path, ObjectStoragePath):
        output_path = object_storage_path(_output_url(output_path))
    path = output_path.path.rstrip("/") or "/"
    return f"{output_path.protocol or 'file'}://{path}"


def asset_for_output(output_path: Any) -> Asset:
    """
    The Airflow Asset that stands for everything stored under ``output_path``.

    Its name and URI are both :func:`output_uri`, so ``Asset("file:///data/out")`` written by hand
    in a consumer DAG is the same asset.
    """
    from airflow.sdk import Asset

    uri = output_uri(output_path)
    return Asset(name=uri, uri=uri)


def check_output_writable(output_path: Any) -> ObjectStoragePath:
    """
    Prove, before anything is uploaded or paid, that results can be stored under ``output_path``.

    The cheapest probe each store allows, writing nothing a reader could see:

    * S3: ``CreateMultipartUpload`` of a probe key under the folder, then ``AbortMultipartUpload``.
      S3 authorises it as ``s3:PutObject`` on that key (with the bucket's encryption settings), and
      answers ``NoSuchBucket`` for a missing bucket; no object is ever created, so no listing, event
      notification or CDN sees it. Two requests, no data.
    * GCS: a resumable upload session for a probe object under the folder, created only if absent
      (``ifGenerationMatch=0``). GCS authorises it as ``storage.objects.create`` and answers 404 for a
      missing bucket; a session that gets no data creates no object and expires by itself. One
      request, no data.
    * Azure Blob: one uncommitted block of one byte staged for a probe blob (Put Block). Azure
      authorises it as a write and answers ``ContainerNotFound`` for a missing container; an
      uncommitted block is in no listing and Azure discards it by itself. One request.
    * A local folder: it (or its nearest existing parent) is a folder this worker may write to.
    * Other filesystems: only that one is installed for the scheme.

    :param output_path: as for :func:`as_storage_path`.
    :return: the output folder.
    :raises OneMinOutputLocationError: the location cannot be written (final: nothing was paid).
    :raises OneMinStorageError: the store could not be asked now (throttled, 5xx, network): retryable.
    """
    base = as_storage_path(output_path)
    uri = plain_uri(base)
    try:
        if base.protocol in LOCAL_PROTOCOLS:
            _check_local_folder(base.path)
        elif base.protocol in S3_PROTOCOLS and hasattr(base.fs, "call_s3"):
            _probe_s3_write(base)
        elif base.protocol in GCS_PROTOCOLS:
            _probe_gcs_write(base)
        elif base.protocol in AZURE_BLOB_PROTOCOLS and hasattr(base.fs, "service_client"):
            _probe_azure_write(base)
    except OneMinStorageError:
        raise
    except Exception as exc:
        failure = explain(exc)
        if failure.kind == "missing" and base.protocol in GCS_PROTOCOLS | AZURE_BLOB_PROTOCOLS:
            # The probe's object need not exist: only its bucket (container) can be missing.
            failure = StorageFailure("missing_bucket", failure.detail, failure.code)
        if failure.transient:
            raise OneMinStorageError(
                f"output_path {uri} could not be checked: {failure}. Nothing was uploaded or paid. "
                f"{failure.hint(storage_path_conn_id(base))}",
                uri=uri,
                reason=failure.reason,
            ) from exc
        raise OneMinOutputLocationError(
            f"output_path {uri} cannot be written: {failure}. Nothing was uploaded or paid. "
            f"{failure.hint(storage_path_conn_id(base))}".rstrip(),
            uri=uri,
            reason=failure.reason,
        ) from None
    return base


def _check_local_folder(folder: str) -> None:
    existing = folder
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise NotADirectoryError(f"{existing} is a file, where a folder is needed")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{existing} is not writable by this worker's user")


def _probe_s3_write(base: ObjectStoragePath) -> None:
    fs = base.fs
    bucket, key = _probe_key(base)
    upload = fs.call_s3("create_multipart_upload", Bucket=bucket, Key=key)
    try:
        fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload["UploadId"])
    except Exception as exc:
        # Writing is allowed, which is what was asked; the upload holds no data.
        log.warning(
            "The write check of s3://%s/%s could not abort its empty multipart upload (%s); it holds "
            "no data, and a lifecycle rule AbortIncompleteMultipartUpload removes such uploads.",
            bucket,
            key,
            explain(exc),
        )


def _probe_key(base: ObjectStoragePath) -> tuple[str, str]:
    """The bucket (container) of ``base`` and a fresh probe key in its folder."""
    bucket, _, prefix = base.path.partition("/")
    prefix = prefix.strip("/")
    key = f"{prefix}/" if prefix else ""
    return bucket, key + f".onemin-write-check-{uuid_module.uuid4().hex}"


def _probe_gcs_write(base: ObjectStoragePath) -> None:
    from urllib.parse import quote

    from fsspec.asyn import sync

    fs = base.fs
    bucket, key = _probe_key(base)
    # The JSON API's own request, not gcsfs's initiate_upload: on a zonal bucket that one opens an
    # appendable object over gRPC instead, which a listing may show. No cancel request either: GCS
    # keeps nothing of a session that got no data, and a server without the cancel makes gcsfs
    # retry it for half a minute.
    sync(
        fs.loop,
        fs._call,
        "POST",
        f"{fs._location}/upload/storage/v1/b/{quote(bucket, safe='')}/o",
        uploadType="resumable",
        name=key,
        ifGenerationMatch="0",
        json={"name": key},
        headers={"X-Upload-Content-Type": "application/octet-stream"},
    )


def _probe_azure_write(base: ObjectStoragePath) -> None:
    import base64

    from fsspec.asyn import sync

    fs = base.fs
    container, key = _probe_key(base)
    block_id = base64.b64encode(b"onemin-write-check").decode("ascii")

    async def stage() -> None:
        async with fs.service_client.get_blob_client(container, key) as blob:
            await blob.stage_block(block_id, b"\0")

    sync(fs.loop, stage)
