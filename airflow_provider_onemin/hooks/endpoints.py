"""
The 1min.ai endpoints the hooks call, what an upload sends, and what each answer carries once it
has arrived: the paid submission's record (or the uuid a garbled answer still names), a results
poll's record, an upload's asset path.

Only bodies are built and read here. Sending, retrying, classifying failures and redacting error
answers belong to the hooks' transport (:mod:`.transport`, :mod:`.answers`); what a record's status
means is :mod:`.records`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from airflow_provider_onemin.exceptions import OneMinMalformedResponseError
from airflow_provider_onemin.hooks.answers import redact_value
from airflow_provider_onemin.hooks.retry_policy import Retryable

__all__ = [
    "ASSETS_PATH",
    "FEATURES_PATH",
    "RESULTS_PATH",
    "ZERO_UUID",
    "GarbledSubmission",
    "asset_part",
    "asset_path",
    "results_record",
    "submission_record",
]

FEATURES_PATH = "/api/features"
ASSETS_PATH = "/api/assets"
RESULTS_PATH = "/api/results/{uuid}"
#: Asking for this uuid is authenticated but spends nothing: the connection test uses it.
ZERO_UUID = "00000000-0000-0000-0000-000000000000"

_RECORD_UUID = re.compile(r'"aiRecord"\s*:\s*\{\s*"uuid"\s*:\s*"([0-9A-Za-z-]{8,64})"')


@dataclass(frozen=True)
class GarbledSubmission:
    """
    A paid submission's answer that is not a usable record.

    :param problem: what is wrong with it, in words (no secret inside).
    :param uuid: the generation it still names, if any: polling it is free, sending again is not.
    """

    problem: str
    uuid: str | None


def submission_record(
    content: bytes, status: int, secrets: Iterable[str], *, what: str
) -> dict[str, Any] | GarbledSubmission:
    """
    The answer of ``POST /api/features``, secrets redacted: the validated answer, or what is wrong
    with it (:class:`GarbledSubmission`).

    :param content: the answer's body.
    :param status: its HTTP status, for the message.
    :param secrets: what the API may echo back and must not reach a log, XCom or an event.
    :param what: the call, for messages (``POST /api/features``).
    """
    from airflow_provider_onemin.schemas.validation import answer_violations, validate_answer

    try:
        # Nothing the API echoes back may carry the key into a log, XCom or an event.
        answer = redact_value(json.loads(content), tuple(secrets))
    except ValueError:
        problem = (
            f"1min.ai answered HTTP {status} with a body that is not valid JSON "
            f"({len(content)} bytes, maybe truncated)"
        )
        match = _RECORD_UUID.search(content.decode("utf-8", "replace"))
        return GarbledSubmission(problem, match.group(1) if match else None)
    try:
        return validate_answer(answer, what=what)
    except OneMinMalformedResponseError as exc:
        record = answer.get("aiRecord") if isinstance(answer, dict) else None
        uuid = record.get("uuid") if isinstance(record, dict) else None
        violations = "; ".join(answer_violations(answer)[:3]) or str(exc)
        problem = f"1min.ai answered HTTP {status} with an unexpected shape ({violations})"
        return GarbledSubmission(problem, uuid if isinstance(uuid, str) else None)


def results_record(answer: Any, path: str, key: str) -> dict[str, Any] | None:
    """
    The record of a results answer, the key blanked out; ``None`` when 1min.ai has no such record.

    :raises Retryable: when the answer has a bad shape (polling is free: it is asked again).
    """
    from airflow_provider_onemin.schemas.validation import record_or_none

    try:
        return record_or_none(redact_value(answer, (key,)), what=f"GET {path}")
    except OneMinMalformedResponseError as exc:
        raise Retryable(exc) from exc


def asset_part(
    path_or_bytes: str | bytes | IO[bytes], filename: str | None, content_type: str | None
) -> tuple[str, bytes, str]:
    """
    The file part of an upload to ``/api/assets``: ``(filename, data, content type)``.

    :param path_or_bytes: a local file path, the file's bytes, or a binary file object.
    :param filename: the name to upload under (default: the path's base name, else ``image``).
    :param content_type: the MIME type (default: guessed from the file name).
    """
    import mimetypes
    import os

    if isinstance(path_or_bytes, (str, os.PathLike)):
        with open(path_or_bytes, "rb") as handle:
            data = handle.read()
        filename = filename or os.path.basename(os.fspath(path_or_bytes))
    elif isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytes(path_or_bytes)
    else:
        data = path_or_bytes.read()
    filename = filename or "image"
    content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return filename, data, content_type


def asset_path(answer: Any) -> str:
    """
    The path of an uploaded asset (``fileContent.path``, or ``asset.key``) in an upload's answer.

    :raises OneMinMalformedResponseError: when the answer names neither.
    """
    path = None
    if isinstance(answer, dict):
        path = (answer.get("fileContent") or {}).get("path") or (answer.get("asset") or {}).get("key")
    if not isinstance(path, str) or not path:
        raise OneMinMalformedResponseError(
            f"1min.ai answered POST {ASSETS_PATH} without fileContent.path or asset.key; "
            "the upload cannot be used. Report it with the task log."
        )
    return path
