"""
Reading the images a batch renders: through ``ObjectStoragePath`` with the reading connection,
checked by their content, bounded in size, and probed by their header before anything is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import attach_local_filesystem, open_storage_path
from airflow_provider_onemin.exceptions import OneMinInputFileError, OneMinStorageError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: The largest source read, in bytes: a 2048 px PNG is a few MiB; a bigger file is refused unread.
MAX_SOURCE_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Header:
    """What a source's header says, read without decoding its pixels."""

    width: int
    height: int
    format: str
    mode: str


def source_path(uri: str, conn_id: str | None) -> ObjectStoragePath:
    """
    The ``ObjectStoragePath`` of one source.

    :param uri: a plain URI (``s3://bucket/key``, ``file:///x.png``) or an absolute local path.
    :param conn_id: the connection that reads it (None: the URI's own, or default credentials).
    """
    from airflow.sdk import ObjectStoragePath

    attach_local_filesystem()
    text = uri if "://" in uri else f"file://{uri}"
    if conn_id and not text.startswith("file://"):
        return ObjectStoragePath(text, conn_id=conn_id)
    return ObjectStoragePath(text)


def _read_error(error: Exception, uri: str, field: str) -> Exception:
    from airflow_provider_onemin.storage.errors import explain

    failure = explain(error)
    if failure.transient:
        return OneMinStorageError(f"{field}: {uri} could not be read now: {failure}", uri=uri)
    return OneMinInputFileError([f"{field}: {uri} cannot be read: {failure}"])


def read_source(uri: str, conn_id: str | None, field: str) -> bytes:
    """
    The bytes of one source, whole; a wrong input is final, a store that fails now retryable.

    :param uri: as for :func:`source_path`.
    :param conn_id: the reading connection.
    :param field: how the source is named in errors (``images[2]``).
    """
    chunks: list[bytes] = []
    total = 0
    try:
        with open_storage_path(source_path(uri, conn_id)) as handle:
            while chunk := handle.read(_READ_CHUNK):
                total += len(chunk)
                if total > MAX_SOURCE_BYTES:
                    raise OneMinInputFileError([f"{field}: {uri} is over {MAX_SOURCE_BYTES} bytes"])
                chunks.append(chunk)
    except OneMinInputFileError:
        raise
    except Exception as exc:
        raise _read_error(exc, uri, field) from None
    return b"".join(chunks)


def probe_source(uri: str, conn_id: str | None, field: str) -> Header:
    """
    The header of one source, read from the start of the file only (Pillow decodes no pixel).

    :raises OneMinInputFileError: missing, refused, or not an image Pillow reads.
    :raises OneMinStorageError: the store could not be read now (retryable).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with open_storage_path(source_path(uri, conn_id)) as handle, Image.open(handle) as image:
            return Header(image.width, image.height, image.format or "?", image.mode)
    except (UnidentifiedImageError, ValueError) as exc:
        raise OneMinInputFileError([f"{field}: {uri} is not an image Pillow can read ({exc})"]) from None
    except Exception as exc:
        raise _read_error(exc, uri, field) from None


def as_uri_list(images: Any) -> list[str]:
    """
    ``images`` as a list of URIs: one URI, a list of them, or an upstream's ``stored_paths``
    (a list, or a list of lists from a mapped upstream, flattened in map-index order).

    :raises OneMinInputFileError: when it is empty or holds something that is not a URI.
    """
    if isinstance(images, str):
        images = [images]
    flat: list[Any] = []
    for item in list(images or []):
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    bad = [
        f"images[{i}]: a URI string (got {type(v).__name__})"
        for i, v in enumerate(flat)
        if not isinstance(v, str) or not v.strip()
    ]
    if bad or not flat:
        raise OneMinInputFileError(bad or ["images: no image given (an empty list)"])
    return [uri.strip() for uri in flat]
