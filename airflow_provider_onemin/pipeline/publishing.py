"""
Publishing approved results to a stable layout, and the review manifest of a run.

Approved images are copied (whole or not at all, like results) to::

    <output>/published/<sku>/<scene>/result-<i>.<ext>

where ``<scene>`` is a short slug of the prompt plus a hash of it (two prompts never share a
folder). The place of a product in a scene does not depend on the run: approving it again later
replaces the picture there, which is what a website or a DAM pointing at it wants.

Every review writes ``<output>/<dag>/<run>/review.csv``: one row per stored result with its
decision (``approved``, ``rejected`` or ``not reviewed``), where it was published, by whom and when.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_onemin.compat import storage_path_conn_id
from airflow_provider_onemin.storage.location import plain_uri
from airflow_provider_onemin.storage.results import as_storage_path, safe_part, write_file_atomically

PUBLISHED_FOLDER = "published"
REVIEW_FIELDS = [
    "line",
    "sku",
    "product",
    "prompt",
    "seed",
    "uuid",
    "stored_path",
    "decision",
    "published_path",
    "reviewed_by",
    "reviewed_at",
]
APPROVED, REJECTED, NOT_REVIEWED = "approved", "rejected", "not reviewed"
_SLUG = re.compile(r"[^a-z0-9]+")


def scene_slug(prompt: str, length: int = 48) -> str:
    """A readable, unique folder name for a scene prompt: its words, cut short, and a hash."""
    words = _SLUG.sub("-", prompt.lower()).strip("-")[:length].rstrip("-") or "scene"
    return f"{words}-{hashlib.sha256(prompt.encode('utf-8')).hexdigest()[:8]}"


def published_name(sku: str, prompt: str, index: int, extension: str) -> str:
    """The relative name of a published result: ``published/<sku>/<scene>/result-<i>.<ext>``."""
    return f"{PUBLISHED_FOLDER}/{safe_part(sku)}/{scene_slug(prompt)}/result-{index}{extension}"


@dataclass
class ReviewedResult:
    """One stored result of a run and what the review decided about it."""

    line: int
    sku: str
    product: str
    prompt: str
    seed: Any
    uuid: str | None
    stored_path: str
    decision: str
    index: int = 0
    published_path: str = ""


def reviewed_results(
    lines: Sequence[dict[str, Any]],
    stored_paths: Sequence[Sequence[str] | None],
    seeds: Sequence[Sequence[Any] | None],
    uuids: Sequence[str | None],
    approved: Sequence[int] | None,
) -> list[ReviewedResult]:
    """
    Every stored result of the run with its decision.

    :param lines: the plan lines, in map-index order.
    :param stored_paths: each line's stored files (``None`` for a line that failed).
    :param seeds: each line's seeds.
    :param uuids: each line's generation uuid.
    :param approved: the approved positions (from 0), or ``None`` when nobody decided.
    """
    results = []
    for position, line in enumerate(lines):
        paths = stored_paths[position] if position < len(stored_paths) else None
        line_seeds = (seeds[position] if position < len(seeds) else None) or []
        if approved is None:
            decision = NOT_REVIEWED
        else:
            decision = APPROVED if position in approved else REJECTED
        for index, path in enumerate(paths or []):
            results.append(
                ReviewedResult(
                    line=position + 1,
                    sku=line.get("sku", ""),
                    product=line.get("product", ""),
                    prompt=line.get("prompt", ""),
                    seed=line_seeds[index] if index < len(line_seeds) else line.get("seed"),
                    uuid=uuids[position] if position < len(uuids) else None,
                    stored_path=path,
                    decision=decision,
                    index=index,
                )
            )
    return results


def publish_result(result: ReviewedResult, output_path: Any) -> str:
    """
    Copy one approved result to its published place; return that place's plain URI (without the
    connection id, as ``stored_paths`` are: ``s3://bucket/key``).

    :param result: the result (its ``stored_path`` is read with the output's connection).
    :param output_path: the pipeline's output folder (a URL, a path or an ObjectStoragePath).
    """
    from airflow.sdk import ObjectStoragePath

    base = as_storage_path(output_path)
    source = ObjectStoragePath(result.stored_path, conn_id=storage_path_conn_id(base))
    data = source.read_bytes()
    extension = "." + source.name.rsplit(".", 1)[-1] if "." in source.name else ""
    target = base / published_name(result.sku, result.prompt, result.index, extension)
    write_file_atomically(target, data)
    return plain_uri(target)


def write_review_manifest(
    results: Sequence[ReviewedResult], target: Any, reviewed_by: str = "", reviewed_at: str = ""
) -> str:
    """
    Write ``review.csv`` (see the module docstring) at ``target``, whole or not at all; return its
    plain URI.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REVIEW_FIELDS, lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerow(
            {
                "line": result.line,
                "sku": result.sku,
                "product": result.product,
                "prompt": result.prompt,
                "seed": result.seed,
                "uuid": result.uuid or "",
                "stored_path": result.stored_path,
                "decision": result.decision,
                "published_path": result.published_path,
                "reviewed_by": reviewed_by if result.decision != NOT_REVIEWED else "",
                "reviewed_at": reviewed_at if result.decision != NOT_REVIEWED else "",
            }
        )
    target = as_storage_path(target)
    write_file_atomically(target, buffer.getvalue().encode("utf-8"))
    return plain_uri(target)
