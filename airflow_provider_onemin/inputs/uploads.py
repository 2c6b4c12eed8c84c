"""
The local and object-storage images of a request: read and checked (free), then uploaded.

1min.ai cannot reach a worker's disk or a private bucket, so such images are uploaded first
(``POST /api/assets``, free) and replaced in the request by their asset paths. Everything is read
and checked before anything is uploaded, and every problem is reported at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.exceptions import OneMinInputFileError, OneMinValidationError

if TYPE_CHECKING:
    import logging

    from airflow_provider_onemin.hooks.onemin import OneMinHook
    from airflow_provider_onemin.inputs.images import ImageFile

#: An image to upload: the field it came from, its style-reference index (None for imageUrl), its file.
LocalImage = tuple[str, "int | None", "ImageFile"]


def read_local_images(
    body: dict[str, Any], read: Callable[[str, str], ImageFile] | None = None
) -> list[LocalImage]:
    """
    Read and check the local and object-storage images of ``body`` (free, nothing is sent).

    :param read: ``(ref, field) -> ImageFile``; default :func:`~airflow_provider_onemin.inputs.images.read_image`. The operator
        passes :meth:`~airflow_provider_onemin.reuse.key.ImageReads.read`, so what is uploaded is what its identity hashed.
    :return: ``(field, reference index or None for imageUrl, image)`` for each one to upload.
    """
    from airflow_provider_onemin.inputs.images import (
        MAX_REFERENCES_TOTAL_BYTES,
        classify_reference,
        read_image,
    )

    prompt_object = body["promptObject"]
    image_url = prompt_object["imageUrl"]
    references = list(prompt_object.get("style_reference_images") or [])
    to_upload = []
    if classify_reference(image_url) in ("file", "object"):
        to_upload.append(("promptObject.imageUrl", image_url, None))
    for index, ref in enumerate(references):
        if classify_reference(ref) in ("file", "object"):
            to_upload.append((f"promptObject.style_reference_images[{index}]", ref, index))
    files: list[LocalImage] = []
    problems = []
    for field, ref, index in to_upload:
        try:
            files.append((field, index, (read or read_image)(ref, field)))
        except OneMinValidationError as exc:
            problems.extend(exc.violations)
    reference_bytes = sum(len(f.data) for _, i, f in files if i is not None)
    if reference_bytes > MAX_REFERENCES_TOTAL_BYTES:
        problems.append(
            f"promptObject.style_reference_images: {reference_bytes} bytes together, over the "
            f"limit of {MAX_REFERENCES_TOTAL_BYTES} bytes (10 MiB)"
        )
    if problems:
        raise OneMinInputFileError(problems, summary="Input image(s) refused")
    return files


def upload_local_images(
    hook: OneMinHook,
    body: dict[str, Any],
    log: logging.Logger,
    read: Callable[[str, str], ImageFile] | None = None,
) -> dict[str, Any]:
    """
    Upload the local and object-storage images of ``body``; return it with their asset paths.

    :param read: how each image is read (see :func:`read_local_images`).
    """
    files = read_local_images(body, read)
    if not files:
        return body
    prompt_object = dict(body["promptObject"])
    references = list(prompt_object.get("style_reference_images") or [])
    for field, index, image in files:
        asset_path = hook.upload_asset(image.data, image.filename, content_type=image.mime_type)
        log.info("Uploaded %s as asset %s", field, asset_path)
        if index is None:
            prompt_object["imageUrl"] = asset_path
        else:
            references[index] = asset_path
    if references:
        prompt_object["style_reference_images"] = references
    return {**body, "promptObject": prompt_object}
