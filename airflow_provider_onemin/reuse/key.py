"""
The identity of an image request: one function for the submission record, the reuse index, the
cost preview and the lineage facet.

:func:`request_key` is the SHA-256 of the request as 1min.ai would see it: feature, model and
promptObject (so ``num_images``, ``seed`` and every other field), with each local or object-storage
image (the source and every style reference) replaced by the SHA-256 of its *content*. A
re-exported but identical photo gives the same key; an edited or replaced photo at the same path
does not. Asset paths and ``http(s)://`` URLs are part of the key as written (their content is on
1min.ai's side or the web's, not read here).

:class:`ImageReads` keeps the bytes each digest was taken of, so the upload sends exactly the
bytes the identity names: a photo re-exported between the two reads cannot be paid for under the
other photo's identity.

:func:`legacy_request_hash` is the identity submission records had before (the request as
written, image *paths* included). It is only read, so records written by earlier versions still
resume their generation after an upgrade.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.schemas.features import FEATURE_BACKGROUND_REPLACER

if TYPE_CHECKING:
    from airflow_provider_onemin.inputs.images import ImageFile

#: Version of the key derivation; changing how keys are built must change it (reuse index records
#: name their key: a new derivation would orphan every record, and an upgrade re-buy a catalogue).
KEY_VERSION = 1


@dataclass(frozen=True)
class RequestKey:
    """
    The identity of one image request.

    :param digest: SHA-256 (hex) of :attr:`request`, the reuse record's file name and the
        submission record's ``request_key``.
    :param request: the canonical request that was hashed (images replaced by content digests).
    """

    digest: str
    request: dict[str, Any]


def content_digest(ref: str, field: str) -> str:
    """SHA-256 (hex) of the image at ``ref``, read and checked like an upload (size, type)."""
    from airflow_provider_onemin.inputs.images import read_image

    return hashlib.sha256(read_image(ref, field).data).hexdigest()


class ImageReads:
    """
    Reads each local or object-storage image once, and keeps what was read: the digest of the
    identity and the upload come from the same bytes.
    """

    def __init__(self) -> None:
        self._files: dict[str, ImageFile] = {}

    def read(self, ref: str, field: str) -> ImageFile:
        """The image at ``ref`` (read and checked on first use; see :func:`~.inputs.read_image`)."""
        from airflow_provider_onemin.inputs.images import read_image

        if ref not in self._files:
            self._files[ref] = read_image(ref, field)
        return self._files[ref]

    def digest(self, ref: str, field: str) -> str:
        """SHA-256 (hex) of the image at ``ref``, as :meth:`read` gives it."""
        return hashlib.sha256(self.read(ref, field).data).hexdigest()


def request_key(
    model: str,
    prompt_object: Mapping[str, Any],
    *,
    feature: str = FEATURE_BACKGROUND_REPLACER,
    image_digest: Callable[[str, str], str] = content_digest,
) -> RequestKey:
    """
    The identity of a request: what the operator would send, images identified by their content.

    :param model: the model (``ideogram-3``).
    :param prompt_object: the promptObject as validated, before any upload (local paths and
        object-storage URLs as the user gave them).
    :param feature: the feature type.
    :param image_digest: ``(ref, field) -> sha256 hex`` of a local or object-storage image; the
        default reads the file (:class:`ImageReads` keeps the bytes for the upload).
    :raises OneMinInputFileError: when an image cannot be read or is not an accepted image.
    :raises OneMinStorageError: when its store is throttling, failing or unreachable (retryable).
    """
    from airflow_provider_onemin.inputs.images import classify_reference

    def identify(ref: Any, field: str) -> Any:
        if isinstance(ref, str) and classify_reference(ref) in ("file", "object"):
            # A dict, so no asset path or URL (always a string) can collide with a content digest.
            return {"sha256": image_digest(ref, field)}
        return ref

    canonical = dict(prompt_object)
    if "imageUrl" in canonical:
        canonical["imageUrl"] = identify(canonical["imageUrl"], "promptObject.imageUrl")
    if canonical.get("style_reference_images"):
        canonical["style_reference_images"] = [
            identify(ref, f"promptObject.style_reference_images[{index}]")
            for index, ref in enumerate(canonical["style_reference_images"])
        ]
    request = {"key_version": KEY_VERSION, "type": feature, "model": model, "promptObject": canonical}
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return RequestKey(digest=hashlib.sha256(text.encode("utf-8")).hexdigest(), request=request)


def legacy_request_hash(model: str, prompt_object: Mapping[str, Any]) -> str:
    """
    The ``request_hash`` submission records had before :func:`request_key` (image references as
    written, not their content). Read only: a record that has it and no ``request_key`` was
    written by an earlier version, and is matched with it so that its generation still resumes.
    """
    canonical = json.dumps({"model": model, "promptObject": dict(prompt_object)}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
