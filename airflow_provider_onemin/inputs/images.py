"""
Source images: where a reference points, and reading local or object-storage files safely.

An image reference may be

* an asset path already on 1min.ai (``development/images/mug.png``): sent as is;
* an ``http(s)://`` URL: sent as is (1min.ai fetches it);
* a local file (``/abs/path.png`` or ``file:///abs/path.png``), which exists on one worker only;
* an object-storage URL (``s3://``, ``gs://``, ``memory://`` ... any fsspec protocol), read through
  Airflow's :class:`~airflow.sdk.ObjectStoragePath`.

Files are checked before anything is sent: they exist, they are JPEG, PNG or WebP by their magic
bytes (not their name), each is at most 10 MiB and the style references are at most 10 MiB
together. The size is checked while reading, so a huge file is refused without being read.

A wrong input is final (missing, refused: access denied or bad credentials, not an image, too
large); a store that is throttling, failing (5xx) or unreachable is retryable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from airflow_provider_onemin.compat import attach_local_filesystem, open_storage_path, storage_path_conn_id
from airflow_provider_onemin.exceptions import OneMinInputFileError, OneMinStorageError
from airflow_provider_onemin.storage.content_types import sniff_image_type

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.storage.errors import StorageFailure

#: Per-file and total limit for source and style-reference images (10 MiB).
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_REFERENCES_TOTAL_BYTES = 10 * 1024 * 1024
_READ_CHUNK = 1024 * 1024

RefKind = Literal["asset", "url", "file", "object"]


@dataclass(frozen=True)
class ImageFile:
    """An image read from a file, checked and ready to upload."""

    data: bytes
    filename: str
    mime_type: str


def classify_reference(ref: str) -> RefKind:
    """Say what kind of image reference ``ref`` is (see the module docstring)."""
    lowered = ref.strip().lower()
    if lowered.startswith(("http://", "https://")):
        return "url"
    if lowered.startswith("file://") or ref.startswith("/"):
        return "file"
    if "://" in lowered:
        return "object"
    return "asset"


def read_image(ref: str, field: str, *, limit: int = MAX_IMAGE_BYTES) -> ImageFile:
    """
    Read and check the image file at ``ref`` (a local path or any fsspec URL).

    A wrong input (missing, refused, not an image, too large) raises the final
    :class:`OneMinInputFileError` naming the cause; a store that is throttling, failing (5xx) or
    unreachable raises the retryable :class:`OneMinStorageError`. Nothing is uploaded or paid either way.

    :param ref: the reference as the user gave it.
    :param field: the request field it fills, named in errors (``promptObject.imageUrl``).
    :param limit: the largest size accepted, in bytes.
    """
    from airflow.sdk import ObjectStoragePath

    attach_local_filesystem()
    path = ObjectStoragePath(ref if "://" in ref else f"file://{ref}")
    try:
        status = path.stat()
    except Exception as exc:
        raise _read_error(path, ref, field, exc) from None
    if isinstance(status, dict) and status.get("type") == "directory":
        raise OneMinInputFileError([f"{field}: {ref} is a folder, not a file"])
    size = status.st_size
    if size is not None and size > limit:
        raise OneMinInputFileError(
            [f"{field}: {ref} is {size} bytes, over the limit of {limit} bytes (10 MiB)"]
        )
    chunks: list[bytes] = []
    total = 0
    try:
        with open_storage_path(path) as handle:
            while True:
                chunk = handle.read(_READ_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    # The size reported by the filesystem was wrong (or the file grew): stop reading.
                    raise OneMinInputFileError(
                        [f"{field}: {ref} is over the limit of {limit} bytes (10 MiB)"]
                    )
                chunks.append(chunk)
    except OneMinInputFileError:
        raise
    except Exception as exc:
        raise _read_error(path, ref, field, exc) from None
    data = b"".join(chunks)
    mime_type = sniff_image_type(data[:16])
    if mime_type is None:
        raise OneMinInputFileError(
            [f"{field}: {ref} is not a JPEG, PNG or WebP image (checked by its content, not its name)"]
        )
    return ImageFile(data=data, filename=path.name or "image", mime_type=mime_type)


def _read_error(path: ObjectStoragePath, ref: str, field: str, error: Exception) -> Exception:
    """The error to raise for a failed read of ``ref``: final when the input is wrong, else retryable."""
    from airflow_provider_onemin.storage.errors import explain

    failure = explain(error)
    if failure.code and failure.code.isdigit() and failure.kind != "missing":
        failure = _explain_refusal(path) or failure
    if failure.transient:
        return OneMinStorageError(
            f"{field}: reading {ref} failed: {failure}. Nothing was uploaded or paid. {failure.hint(storage_path_conn_id(path))}",
            uri=ref,
            reason=failure.reason,
        )
    hint = failure.hint(storage_path_conn_id(path))
    if failure.kind == "missing":
        problem = f"{ref} does not exist ({failure.detail})"
    elif failure.kind == "missing_bucket":
        problem = f"{ref} does not exist: {failure}"
    else:
        problem = f"{ref} cannot be read: {failure}"
    return OneMinInputFileError([f"{field}: {problem}{'. ' + hint if hint else ''}"])


def _explain_refusal(path: ObjectStoragePath) -> StorageFailure | None:
    """
    Why a bare status (403, 503...) was given. A HEAD answer has no body, so S3 cannot say there
    whether the credentials or the permission were refused, or whether it is throttling; a GET of
    the first byte (made only on this error path) carries the store's own code.
    """
    from airflow_provider_onemin.storage.errors import explain

    try:
        path.fs.cat_file(path.path, start=0, end=1)
    except Exception as exc:
        return explain(exc)
    return None
