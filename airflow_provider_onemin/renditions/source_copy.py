"""
The "before" picture of a batch: a small copy of the photo its images were made from, stored beside
the renditions so that the viewer can show before and after from stored files only.

It is read and shrunk before anything is stored (a source that cannot be read fails the task with
nothing written) and stored after the renditions, through the same storage code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_onemin.renditions.batch import Names

#: The longest side of the stored copy: enough for a side-by-side view, small enough to be cheap.
SOURCE_COPY_SIZE = 768


@dataclass(frozen=True)
class SourceCopy:
    """The encoded copy of one source photo, ready to be stored."""

    data: bytes
    extension: str
    width: int
    height: int


def make_source_copy(uri: str, conn_id: str | None) -> SourceCopy:
    """
    Read ``uri`` and shrink it to at most :data:`SOURCE_COPY_SIZE` on its longest side.

    Decoded as renditions' sources are (sRGB, no metadata kept); a copy with transparency is a
    PNG, any other a JPEG.

    :param uri: the source photo (a plain URI or an absolute local path).
    :param conn_id: the connection that reads it (None: the URI's own, or default credentials).
    :raises OneMinInputFileError: it cannot be read or is not an image.
    """
    from PIL import Image, UnidentifiedImageError

    from airflow_provider_onemin.exceptions import OneMinInputFileError
    from airflow_provider_onemin.renditions.render import decode
    from airflow_provider_onemin.renditions.sources import read_source

    data = read_source(uri, conn_id, "source_image")
    try:
        image = decode(data, (SOURCE_COPY_SIZE, SOURCE_COPY_SIZE)).image
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise OneMinInputFileError([f"source_image: {uri} is not an image Pillow can read ({exc})"]) from exc
    image.thumbnail((SOURCE_COPY_SIZE, SOURCE_COPY_SIZE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if image.mode == "RGBA":
        image.save(buffer, format="PNG")
        extension = ".png"
    else:
        image.save(buffer, format="JPEG", quality=85)
        extension = ".jpg"
    return SourceCopy(buffer.getvalue(), extension, image.width, image.height)


def store_source_copy(copy: SourceCopy, output_path: Any, names: Names) -> str:
    """
    Store ``copy`` whole as ``<dag>/<run>/<task>[/map-<k>]/source<ext>``; its plain URI.

    Channel renditions live in sub-folders of the same folder, so the copy never takes a
    rendition's name.
    """
    from airflow_provider_onemin.storage.results import as_storage_path, plain_uri, write_file_atomically

    target = as_storage_path(output_path) / f"{names.folder()}/source{copy.extension}"
    write_file_atomically(target, copy.data)
    return plain_uri(target)
