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

from airflow_provider_onemin.exceptions import OneMinCostCapError, OneMinCreditCapError
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

    from airflow_provider_onemin.reuse.credits import CreditEstimate
    from airflow_provider_onemin.reuse.records import Reusable

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
        _saved(len(stored), hit.credit, hit.record.get("model") or key.request.get("model")),
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


def _saved(images: int, credit: float | None, model: str | None) -> str:
    from airflow_provider_onemin.reuse.credits import format_credits

    spent = (
        "credits unknown: 1min.ai did not report them"
        if credit is None
        else f"{format_credits(credit)} credits"
    )
    return f"{images} image(s) of {model or 'an unknown model'} ({spent})"


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
    """
    One request of a preview: its key, its images, the earlier generation it would reuse, and
    what it would cost in credits (``None`` when it would be reused: nothing is paid).
    """

    key: RequestKey
    num_images: int
    reusable: Reusable | None
    credits: CreditEstimate | None = None


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

    @property
    def estimates(self) -> list[CreditEstimate]:
        """The credit estimate of each line that would be paid for (none for a preview without credits)."""
        return [line.credits for line in self.lines if line.reusable is None and line.credits is not None]

    @property
    def new_credits(self) -> float:
        """The credits of the lines to pay for whose estimate is known."""
        return sum(e.credits for e in self.estimates if e.credits is not None)

    @property
    def unknown_credit_lines(self) -> int:
        """Lines to pay for whose credits are unknown."""
        return sum(e.credits is None for e in self.estimates)

    @property
    def credit_sources(self) -> dict[str, int]:
        """How many lines to pay for each source of estimate (``model list``...) gave."""
        sources: dict[str, int] = {}
        for item in self.estimates:
            sources[item.source] = sources.get(item.source, 0) + 1
        return sources

    def credits_text(self) -> str:
        """``18,000 credits (6 lines from the model list)``, with what is unknown said."""
        from airflow_provider_onemin.reuse.credits import format_credits

        sources = ", ".join(f"{count} line(s) from {source}" for source, count in self.credit_sources.items())
        known = f"{format_credits(self.new_credits)} credits"
        if self.unknown_credit_lines:
            known = f"at least {known}, {self.unknown_credit_lines} line(s) unknown"
        return f"{known} ({sources or 'nothing to pay for'})"

    def summary(self) -> dict[str, Any]:
        return {
            "lines": len(self.lines),
            "already_generated": self.reused,
            "new_generations": self.new_generations,
            "new_images": self.new_images,
            "new_credits": self.new_credits,
            "unknown_credit_lines": self.unknown_credit_lines,
            "credit_sources": self.credit_sources,
        }

    def check_cap(
        self, max_new_images: int, max_credits: float | None = None, *, allow_unknown_credits: bool = False
    ) -> None:
        """
        Raise :class:`OneMinCostCapError` when the new images are over ``max_new_images``, and
        :class:`~airflow_provider_onemin.exceptions.OneMinCreditCapError` when the credits are
        over ``max_credits`` (None: no credit cap), or, under such a cap, unknown for a line to pay
        for and ``allow_unknown_credits`` is not set (docs/models.md, "Credits").
        """
        self._check_image_cap(max_new_images)
        if max_credits is not None:
            self._check_credit_cap(max_credits, allow_unknown_credits)

    def _check_credit_cap(self, max_credits: float, allow_unknown_credits: bool) -> None:
        from airflow_provider_onemin.reuse.credits import format_credits

        unknown, known = self.unknown_credit_lines, self.new_credits
        if known > max_credits:
            problem = (
                f"This run would spend {self.credits_text()}, {format_credits(known - max_credits)} over "
                f"max_credits={format_credits(max_credits)}"
            )
            fix = "Raise max_credits for this run (trigger with config) if the cost is expected."
        elif unknown and not allow_unknown_credits:
            problem = (
                f"This run would spend {self.credits_text()}: what {unknown} line(s) would cost is "
                f"unknown, so it cannot be shown to stay under max_credits={format_credits(max_credits)}"
            )
            fix = (
                "Set allow_unknown_credits to pay for them anyway (max_new_images still caps them), "
                "or let a paid call with the same options report its price first."
            )
        else:
            return
        raise OneMinCreditCapError(
            f"{problem} ({len(self.lines)} lines, {self.reused} already generated, {self.new_generations} "
            f"new generations). Nothing was uploaded or paid. {fix}",
            credits=known,
            unknown_lines=unknown,
            max_credits=max_credits,
            new_images=self.new_images,
        )

    def _check_image_cap(self, max_new_images: int) -> None:
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
    onemin_conn_id: str | None = None,
    log: logging.Logger | None = None,
    feature: str = FEATURE_BACKGROUND_REPLACER,
) -> ReusePreview:
    """
    What these requests would cost with ``reuse=True``: the keys the operator would build, looked
    up, and what each new line would cost in credits (:func:`~airflow_provider_onemin.reuse.credits.estimate`).

    :param output_path: the operators' ``output_path``.
    :param requests: the operators' arguments (``prompt``, ``image_url``, ``num_images``, ``seed``...),
        rendered; each is validated like the operator's.
    :param model: the operators' model (default: the feature's default model).
    :param onemin_conn_id: the connection whose model list gives estimates (None: not read;
        estimates then come from earlier paid calls only).
    :param log: where a model missing from the list, or a list that cannot be read, is reported.
    :param feature: the operators' feature: ``BACKGROUND_REPLACER`` (arguments as
        ``BackgroundReplacerOperator`` takes them) or ``BACKGROUND_REMOVER`` (``image_url``,
        ``output_format``: one image a line).
    :raises OneMinValidationError: when a request is invalid (all its problems, before any is paid).
    """
    import logging

    from airflow_provider_onemin.inputs.arguments import (
        argument_violations,
        prompt_object_of,
        remover_prompt_object,
    )
    from airflow_provider_onemin.reuse.credits import estimate, read_model_list
    from airflow_provider_onemin.reuse.index import find_reusable
    from airflow_provider_onemin.schemas.models import images_requested
    from airflow_provider_onemin.schemas.validation import validate_request

    remover = feature == FEATURE_BACKGROUND_REMOVER
    model = model or (DEFAULT_REMOVER_MODEL if remover else DEFAULT_MODEL)
    log = log or logging.getLogger(__name__)
    model_list = None
    if onemin_conn_id is not None:
        model_list = read_model_list(onemin_conn_id, feature, model, log)

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
        hit = find_reusable(output_path, key)
        cost = None
        if hit is None:
            cost = estimate(model, prompt_object, model_list=model_list, output_path=output_path)
        lines.append(PreviewLine(key, images_requested(body), hit, cost))
    return ReusePreview(lines)
