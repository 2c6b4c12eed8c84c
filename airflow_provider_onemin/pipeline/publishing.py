"""
Publishing approved renditions to a stable layout, the shop-import manifest and the review
manifest of a run.

Approved renditions are copied (whole or not at all, like results) to::

    <output>/published/<channel>/<sku>/<position>.<ext>

``position`` numbers a product's images in a channel from 1 (the main image is 1; a scene's is
its place in the run's scenes): the place of an image does not depend on the run, so approving it
again later replaces the picture there, which is what a shop or a DAM pointing at it wants.

Each publishing run writes ``<output>/<dag>/<run>/published.csv``, what a shop import reads: one
row per image published by this run (``sku``, ``channel``, ``position``, ``uri``, ``width``,
``height``, ``alt_text``; the size read back from the published file), and
``<output>/<dag>/<run>/review.csv``: one row per rendition with its decision (``approved``,
``rejected`` or ``not reviewed``), where it was published, by whom and when.

The layout before channels (``published/<sku>/<scene>/result-<i>.<ext>``, the scene's raw
result) is no longer written; what was published there stays where it is (nothing moves or deletes
it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_onemin.compat import read_storage_path, storage_path_conn_id
from airflow_provider_onemin.storage.location import plain_uri
from airflow_provider_onemin.storage.results import as_storage_path, safe_part, write_file_atomically

PUBLISHED_FOLDER = "published"
REVIEW_FIELDS = [
    "choice",
    "sku",
    "product",
    "channel",
    "prompt",
    "position",
    "stored_path",
    "source",
    "width",
    "height",
    "needs_review",
    "fidelity",
    "decision",
    "published_path",
    "reviewed_by",
    "reviewed_at",
]
SHOP_FIELDS = ["sku", "channel", "position", "uri", "width", "height", "alt_text"]
APPROVED, REJECTED, NOT_REVIEWED = "approved", "rejected", "not reviewed"


def published_name(channel: str, sku: str, position: int, extension: str) -> str:
    """The relative name of a published rendition: ``published/<channel>/<sku>/<position>.<ext>``."""
    return f"{PUBLISHED_FOLDER}/{safe_part(channel)}/{safe_part(sku)}/{int(position)}{extension}"


@dataclass
class ReviewedRendition:
    """One rendition of a run and what the review decided about it."""

    choice: int
    sku: str
    product: str
    channel: str
    prompt: str
    position: int
    stored_path: str
    source: str
    width: Any
    height: Any
    needs_review: bool
    fidelity: Any
    alt_text: str
    decision: str
    published_path: str = ""


def reviewed_renditions(
    choices: Sequence[Mapping[str, Any]], approved: Sequence[int] | None
) -> list[ReviewedRendition]:
    """
    Every rendition of the run with its decision.

    :param choices: the review's choices (:func:`~airflow_provider_onemin.pipeline.channels.review_choices`).
    :param approved: the approved choice positions (from 0), or ``None`` when nobody decided.
    """
    results = []
    for position, choice in enumerate(choices):
        if approved is None:
            decision = NOT_REVIEWED
        else:
            decision = APPROVED if position in approved else REJECTED
        for record in choice["renditions"]:
            results.append(
                ReviewedRendition(
                    choice=position + 1,
                    sku=record["sku"],
                    product=record["product"],
                    channel=record["channel"],
                    prompt=record.get("prompt") or "",
                    position=int(record["position"]),
                    stored_path=record["uri"],
                    source=record.get("source") or "",
                    width=record.get("width"),
                    height=record.get("height"),
                    needs_review=bool(record.get("needs_review")),
                    fidelity=record.get("fidelity"),
                    alt_text=record.get("alt_text") or "",
                    decision=decision,
                )
            )
    return results


def publish_rendition(rendition: ReviewedRendition, output_path: Any) -> str:
    """
    Copy one approved rendition to its published place; return that place's plain URI (without
    the connection id, as ``stored_paths`` are: ``s3://bucket/key``).

    :param rendition: the rendition (its ``stored_path`` is read with the output's connection).
    :param output_path: the pipeline's output folder (a URL, a path or an ObjectStoragePath).
    """
    from airflow.sdk import ObjectStoragePath

    base = as_storage_path(output_path)
    source = ObjectStoragePath(rendition.stored_path, conn_id=storage_path_conn_id(base))
    data = read_storage_path(source)
    extension = "." + source.name.rsplit(".", 1)[-1] if "." in source.name else ""
    target = base / published_name(rendition.channel, rendition.sku, rendition.position, extension)
    write_file_atomically(target, data)
    return plain_uri(target)


def _write_csv(fields: list[str], rows: list[dict[str, Any]], target: Any) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    target = as_storage_path(target)
    write_file_atomically(target, buffer.getvalue().encode("utf-8"))
    return plain_uri(target)


def write_shop_manifest(renditions: Sequence[ReviewedRendition], target: Any) -> str:
    """
    Write ``published.csv`` (see the module docstring) at ``target``: one row per published
    rendition, whole or not at all; return its plain URI.
    """
    rows = [
        {
            "sku": r.sku,
            "channel": r.channel,
            "position": r.position,
            "uri": r.published_path,
            "width": r.width,
            "height": r.height,
            "alt_text": r.alt_text,
        }
        for r in renditions
        if r.published_path
    ]
    return _write_csv(SHOP_FIELDS, rows, target)


def write_review_manifest(
    renditions: Sequence[ReviewedRendition], target: Any, reviewed_by: str = "", reviewed_at: str = ""
) -> str:
    """
    Write ``review.csv`` (see the module docstring) at ``target``, whole or not at all; return its
    plain URI.
    """
    rows = []
    for r in renditions:
        decided = r.decision != NOT_REVIEWED
        rows.append(
            {
                "choice": r.choice,
                "sku": r.sku,
                "product": r.product,
                "channel": r.channel,
                "prompt": r.prompt,
                "position": r.position,
                "stored_path": r.stored_path,
                "source": r.source,
                "width": r.width,
                "height": r.height,
                "needs_review": "yes" if r.needs_review else "no",
                "fidelity": "" if r.fidelity is None else r.fidelity,
                "decision": r.decision,
                "published_path": r.published_path,
                "reviewed_by": reviewed_by if decided else "",
                "reviewed_at": reviewed_at if decided else "",
            }
        )
    return _write_csv(REVIEW_FIELDS, rows, target)


def publish_reviewed(
    choices: Sequence[Mapping[str, Any]],
    answer: Mapping[str, Any] | None,
    output_path: Any,
    dag_id: str,
    run_id: str,
    log: Any = None,
) -> dict[str, Any]:
    """
    What the marketing pipeline's ``publish`` task does with the review's answer: publish the
    approved choices' renditions, write ``published.csv`` and ``review.csv`` beside the run's
    results, and return ``published`` (URIs), ``shop_manifest`` and ``review_manifest``.

    A test run's review (``skipped``) publishes nothing and says so; a review that ended without an
    answer (timed out, failed) publishes nothing and fails the task, every rendition listed as
    ``not reviewed``.

    :param choices: the review's choices (the ``choices`` task's XCom).
    :param answer: the review's XCom (``approved``: choice positions from 0), or None.
    :param output_path: the pipeline's output folder.
    :param dag_id: the run's DAG id; the manifests go to ``<output>/<dag_id>/<run_id>/``.
    :param run_id: the run id.
    :param log: where to say what was published (a logger).
    :raises AirflowFailException: when nobody answered.
    """
    from airflow_provider_onemin.compat import AirflowFailException
    from airflow_provider_onemin.pipeline.helpers import run_file

    answer = answer if isinstance(answer, Mapping) else {}
    approved, skipped = answer.get("approved"), answer.get("skipped")
    renditions = reviewed_renditions(choices or [], approved)
    # The renditions' URIs come from XCom, which a user allowed to edit XCom can change: publish
    # only files this run stored, checked before anything is copied.
    run_folder = plain_uri(as_storage_path(output_path) / safe_part(dag_id) / safe_part(run_id)) + "/"
    foreign = [
        r.stored_path
        for r in renditions
        if r.decision == APPROVED and not r.stored_path.startswith(run_folder)
    ]
    if foreign:
        raise AirflowFailException(
            f"Nothing was published: {len(foreign)} approved rendition(s) are not files of this run "
            f"(under {run_folder}): {', '.join(foreign[:3])}. The choices' XCom was changed; run the "
            "renditions and the review again."
        )
    for rendition in renditions:
        if rendition.decision == APPROVED:
            rendition.published_path = publish_rendition(rendition, output_path)
            if log is not None:
                log.info("Published %s to %s", rendition.stored_path, rendition.published_path)
    reviewer = (answer.get("responded_by_user") or {}).get("name", "")
    review = write_review_manifest(
        renditions,
        run_file(output_path, dag_id, run_id, "review.csv"),
        reviewer,
        str(answer.get("responded_at", "")),
    )
    if skipped:
        if log is not None:
            log.warning(
                "Nothing published: %s. Every rendition is listed as 'not reviewed' in %s.", skipped, review
            )
        return {"published": [], "review_manifest": review, "skipped": skipped}
    if approved is None:
        raise AirflowFailException(
            "The review ended without an answer (it timed out, or did not run): nothing was "
            f"published. Every rendition is listed as 'not reviewed' in {review}."
        )
    shop = write_shop_manifest(renditions, run_file(output_path, dag_id, run_id, "published.csv"))
    published = [r.published_path for r in renditions if r.published_path]
    if log is not None:
        log.info("%d image(s) published; shop manifest %s; review manifest %s", len(published), shop, review)
    return {"published": published, "shop_manifest": shop, "review_manifest": review}
