"""
Pay once per distinct image request: the request key, and what ``reuse=True`` decides.

**The request key** is the request's identity (:func:`~airflow_provider_onemin.reuse.key.request_key`, re-exported here):
the SHA-256 of the request as 1min.ai would see it, each local or object-storage image replaced by
the SHA-256 of its *content*. The submission record, the operator (``reuse=True``), a pipeline's
cost preview (:func:`preview`) and the lineage facet all use that one function.

**The decisions** the operator asks for: :func:`reuse_earlier` (look the key up in the index kept
in the output storage, :mod:`.index`; on a hit copy the files into the task instance's own
names, :mod:`.copies`, and say what was saved), :func:`index_generation` (after a paid
generation is stored) and :func:`dry_run_report` ("would reuse generation X" or "would pay for N
images").

Two task instances that race on the same *new* request pay once: the index is not a lock, the
claims next to it are (:mod:`.claims`, docs/reuse.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.exceptions import OneMinCostCapError
from airflow_provider_onemin.reuse.key import KEY_VERSION, RequestKey, content_digest, request_key
from airflow_provider_onemin.schemas.features import (
    DEFAULT_MODEL,
    DEFAULT_REMOVER_MODEL,
    FEATURE_BACKGROUND_REMOVER,
    FEATURE_BACKGROUND_REPLACER,
)

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from airflow_provider_onemin.reuse.index import Reusable

# The key lives in .key (one identity for the record, the index, the preview and lineage).
__all__ = [
    "KEY_VERSION",
    "PreviewLine",
    "RequestKey",
    "ReusePreview",
    "Reused",
    "content_digest",
    "dry_run_report",
    "index_generation",
    "operator_key",
    "preview",
    "request_key",
    "reuse_earlier",
]

# --- what the operator asks -----------------------------------------------------------------------


def operator_key(
    reuse: bool,
    model: str,
    prompt_object: Mapping[str, Any],
    carried: Mapping[str, Any] | None = None,
    *,
    image_digest: Callable[[str, str], str] = content_digest,
) -> RequestKey | None:
    """
    The key an operator with ``reuse`` looks up and indexes under; ``None`` without ``reuse``.

    :param carried: the key as it travelled through a deferral (``{"digest", "request"}``): the
        request as it was when paid for, whatever its images are now. Else the key is built.
    :param image_digest: how an image's content digest is taken (:func:`~airflow_provider_onemin.reuse.key.request_key`).
    """
    if not reuse:
        return None
    return RequestKey(**carried) if carried else request_key(model, prompt_object, image_digest=image_digest)


@dataclass(frozen=True)
class Reused:
    """
    What an earlier generation gave this task instance.

    :param uuid: the earlier generation's uuid.
    :param results: its result paths on 1min.ai (``resultObject``).
    :param result_urls: its result URLs, as 1min.ai gave them (they may have expired).
    :param seeds: the seed of each result.
    :param stored_paths: this task instance's copies, in result order.
    :param reused_from: ``{"uuid", "stored_paths"}`` of the copy that was reused (XCom ``reused_from``).
    """

    uuid: str
    results: list[str]
    result_urls: list[Any]
    seeds: list[Any]
    stored_paths: list[str]
    reused_from: dict[str, Any]

    @property
    def record(self) -> dict[str, Any]:
        """The earlier generation as a 1min.ai record (what the operator reads its results from)."""
        data = [{"url": url, "seed": seed} for url, seed in zip(self.result_urls, self.seeds, strict=False)]
        detail = {"resultObject": self.results, "responseObject": {"data": data}}
        return {"uuid": self.uuid, "status": "SUCCESS", "aiRecordDetail": detail}


def reuse_earlier(output_path: Any, key: RequestKey, ti: Any, log: logging.Logger) -> Reused | None:
    """
    On a hit, copy the earlier files into this task instance's names and return them; else ``None``.

    :param output_path: the output folder (the index lives under it).
    :param key: the request's key.
    :param ti: the task instance asking (its dag, run, task and map index name the copies).
    :param log: where to say what was reused and what it saved.
    """
    from airflow_provider_onemin.reuse.copies import copy_results
    from airflow_provider_onemin.reuse.index import TaskNames, find_reusable, record_copy

    names = TaskNames.of(ti)
    hit = find_reusable(output_path, key)
    if hit is None:
        log.info(
            "No earlier generation of request %s under %s: it is paid for.", key.digest[:12], output_path
        )
        return None
    stored = copy_results(output_path, hit, names)
    record_copy(output_path, hit, stored, names)
    log.info(
        "Reused generation %s (request %s, stored by %s / %s): nothing uploaded, nothing paid; saved %s. "
        "Copied %s to %s.",
        hit.uuid,
        key.digest[:12],
        hit.copy.get("dag_id"),
        hit.copy.get("run_id"),
        _saved(len(stored), hit.credit),
        hit.stored_paths,
        stored,
    )
    return Reused(
        uuid=hit.uuid,
        results=hit.results,
        result_urls=hit.result_urls,
        seeds=hit.seeds,
        stored_paths=stored,
        reused_from={"uuid": hit.uuid, "stored_paths": hit.stored_paths},
    )


def _saved(images: int, credit: float | None) -> str:
    return f"{images} image(s)" + ("" if credit is None else f" ({credit:g} credits)")


def index_generation(
    output_path: Any,
    key: RequestKey,
    record: Mapping[str, Any],
    stored_paths: list[str],
    ti: Any,
    log: logging.Logger,
) -> None:
    """Index a paid generation once its files are stored, so a later identical request reuses it."""
    from airflow_provider_onemin.reuse.index import TaskNames, record_generation

    path = record_generation(output_path, key, record, stored_paths, TaskNames.of(ti))
    log.info("Indexed generation %s as request %s in %s.", record.get("uuid"), key.digest[:12], path)


def dry_run_report(output_path: Any, key: RequestKey | None, num_images: int) -> str:
    """What a run would do: reuse (which generation) or pay (for how many images); no key, no reuse."""
    from airflow_provider_onemin.reuse.index import find_reusable

    if key is None:
        return f"would pay for {num_images} image(s)"
    hit = find_reusable(output_path, key)
    if hit is not None:
        return (
            f"would reuse generation {hit.uuid} (stored by {hit.copy.get('dag_id')} / {hit.copy.get('run_id')}): "
            "nothing would be uploaded or paid"
        )
    return f"would pay for {num_images} image(s): no earlier generation of request {key.digest[:12]}"


# --- a pipeline's cost preview ------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewLine:
    """One request of a preview: its key, its images, and the earlier generation it would reuse."""

    key: RequestKey
    num_images: int
    reusable: Reusable | None


@dataclass(frozen=True)
class ReusePreview:
    """What a set of requests would cost with ``reuse=True``, before anything is uploaded or paid."""

    lines: list[PreviewLine]

    @property
    def reused(self) -> int:
        """Lines an earlier generation serves."""
        return sum(line.reusable is not None for line in self.lines)

    @property
    def new_generations(self) -> int:
        """Lines that would be paid for."""
        return len(self.lines) - self.reused

    @property
    def new_images(self) -> int:
        """Images that would be paid for."""
        return sum(line.num_images for line in self.lines if line.reusable is None)

    def summary(self) -> dict[str, int]:
        return {
            "lines": len(self.lines),
            "already_generated": self.reused,
            "new_generations": self.new_generations,
            "new_images": self.new_images,
        }

    def check_cap(self, max_new_images: int) -> None:
        """Raise :class:`OneMinCostCapError` when the new images are over ``max_new_images``."""
        if self.new_images > max_new_images:
            over = self.new_images - max_new_images
            raise OneMinCostCapError(
                f"This run would pay for {self.new_images} new image(s), {over} over max_new_images="
                f"{max_new_images} ({len(self.lines)} lines, {self.reused} already generated, "
                f"{self.new_generations} new generations). Nothing was uploaded or paid. Raise "
                "max_new_images for this run (trigger with config) if the cost is expected.",
                new_images=self.new_images,
                cap=max_new_images,
            )


def preview(
    output_path: Any,
    requests: Iterable[Mapping[str, Any]],
    model: str | None = None,
    *,
    feature: str = FEATURE_BACKGROUND_REPLACER,
) -> ReusePreview:
    """
    What these requests would cost with ``reuse=True``: the keys the operator would build, looked up.

    :param output_path: the operators' ``output_path``.
    :param requests: the operators' arguments (``prompt``, ``image_url``, ``num_images``, ``seed``...),
        rendered; each is validated like the operator's.
    :param model: the operators' model (default: the feature's default model).
    :param feature: the operators' feature: ``BACKGROUND_REPLACER`` (arguments as
        ``BackgroundReplacerOperator`` takes them) or ``BACKGROUND_REMOVER`` (``image_url``,
        ``output_format``: one image a line).
    :raises OneMinValidationError: when a request is invalid (all its problems, before any is paid).
    """
    from airflow_provider_onemin.inputs.arguments import (
        argument_violations,
        prompt_object_of,
        remover_prompt_object,
    )
    from airflow_provider_onemin.reuse.index import find_reusable
    from airflow_provider_onemin.schemas.models import images_requested
    from airflow_provider_onemin.schemas.validation import validate_request

    remover = feature == FEATURE_BACKGROUND_REMOVER
    model = model or (DEFAULT_REMOVER_MODEL if remover else DEFAULT_MODEL)
    digest = lru_cache(maxsize=None)(content_digest)  # a photo used on many lines is read once
    lines = []
    for arguments in requests:
        if remover:
            prompt_object, problems = remover_prompt_object(arguments), []
        else:
            prompt_object, problems = (
                prompt_object_of(arguments, model),
                argument_violations(arguments, model),
            )
        body = {"type": feature, "model": model, "promptObject": prompt_object}
        validate_request(body, model, also=problems, feature=feature)
        key = request_key(model, prompt_object, feature=feature, image_digest=digest)
        lines.append(PreviewLine(key, images_requested(body), find_reusable(output_path, key)))
    return ReusePreview(lines)
