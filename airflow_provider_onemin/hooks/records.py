"""
Reading a generation's record: where it stands, why it failed, where its results are, and how
long to keep polling it. Shared by the sync and the async hook, so both read a record alike.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_onemin.exceptions import (
    OneMinEmptyResultError,
    OneMinGenerationFailedError,
    OneMinRecordMissingError,
    OneMinTimeoutError,
)

if TYPE_CHECKING:
    import logging

#: The only words that end a generation. FAILED and ERROR are reported by some clients
#: (/work/shared/onemin-api.md); any other status is taken as still running.
SUCCESS_STATUS = "SUCCESS"
FAILURE_STATUSES = frozenset({"FAILURE", "FAILED", "ERROR"})
#: Statuses known to mean "still running"; others mean the same but are logged once as unknown.
PENDING_STATUSES = frozenset({"PROCESSING", "PENDING", "QUEUED", "IN_PROGRESS", "RUNNING", "STARTED"})
#: ``aiRecord: null`` this many times in a row: the record is gone, waiting longer will not help.
MAX_MISSING = 3


def generation_state(record: dict[str, Any]) -> Literal["success", "pending", "failed"]:
    """
    Where a record's generation stands: SUCCESS is a success, FAILURE, FAILED and ERROR are a
    failure, and anything else (an unknown word included) is still running.
    """
    status = str(record.get("status", "")).upper()
    if status == SUCCESS_STATUS:
        return "success"
    if status in FAILURE_STATUSES:
        return "failed"
    return "pending"


def check_status(record: dict[str, Any]) -> bool:
    """True when the record is a success, False while pending; raise when it failed."""
    state = generation_state(record)
    if state != "failed":
        return state == "success"
    uuid = record.get("uuid")
    raise OneMinGenerationFailedError(
        f"1min.ai generation {uuid} ended with status {record.get('status')!r}{failure_reason(record)}. "
        "Check the prompt and source image; retrying the same request usually fails the same way.",
        uuid=uuid,
        status=record.get("status"),
    )


def failure_reason(record: dict[str, Any]) -> str:
    """
    The reason a failed record gives, wherever the API put it (record, detail or response); a
    link in it without its query string (a signature is a credential, and the reason is logged).
    """
    from airflow_provider_onemin.hooks.signatures import without_signatures

    detail = record.get("aiRecordDetail") or {}
    response = detail.get("responseObject") if isinstance(detail.get("responseObject"), dict) else {}
    for source in (record, detail, response):
        for key in ("errorMessage", "error", "message", "failReason"):
            value = source.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if value:
                return f" ({without_signatures(str(value))[:200]})"
    return ""


def result_fields(record: dict[str, Any]) -> tuple[list[str], list[Any], list[Any]]:
    """A succeeded record's result paths, and the upstream URL and seed of each result."""
    detail = record.get("aiRecordDetail") or {}
    data = [d for d in ((detail.get("responseObject") or {}).get("data") or []) if isinstance(d, dict)]
    return list(detail.get("resultObject") or []), [d.get("url") for d in data], [d.get("seed") for d in data]


def reported_credit(record: dict[str, Any] | None) -> float | None:
    """
    What a generation cost as its record reports it (``aiRecord.metadata.credit``: seen by public
    clients, not documented); ``None`` when it is absent or not a number >= 0: the credits are then
    unknown, which is never the same as 0.
    """
    import math

    metadata = record.get("metadata") if isinstance(record, dict) else None
    credit = metadata.get("credit") if isinstance(metadata, dict) else None
    if isinstance(credit, bool) or not isinstance(credit, (int, float)):
        return None
    if not math.isfinite(credit) or credit < 0:
        return None
    return credit


def download_urls(record: dict[str, Any], asset_base_url: str) -> list[str]:
    """
    One download URL per result: the record's ``temporaryUrl`` when present (it may be given
    for the first result only), else the asset URL of the key, else ``responseObject.data[].url``.
    """
    detail = record.get("aiRecordDetail") or {}
    keys = detail.get("resultObject") or []
    data = (detail.get("responseObject") or {}).get("data") or []
    temporary = record.get("temporaryUrl")
    temporary_urls = temporary if isinstance(temporary, list) else [temporary] if temporary else []
    urls: list[str] = []
    for index in range(max(len(keys), len(data))):
        if index < len(temporary_urls) and temporary_urls[index]:
            urls.append(temporary_urls[index])
        elif index < len(keys):
            key = keys[index]
            urls.append(key if "://" in key else f"{asset_base_url}/{key.lstrip('/')}")
        elif isinstance(data[index], dict) and data[index].get("url"):
            urls.append(data[index]["url"])
    return urls


class GenerationWait:
    """
    The bookkeeping of one wait for a generation, the same for the sync and the async hook.

    :param uuid: the generation polled.
    :param poll_interval: seconds between polls while it runs.
    :param deadline: end of the wait, in epoch seconds (absolute, so a triggerer restart does
        not extend it).
    :param timeout: the wait's length in seconds, for messages.
    """

    def __init__(
        self, uuid: str, *, poll_interval: float, deadline: float, timeout: float, log: logging.Logger
    ) -> None:
        self.uuid = uuid
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.timeout = timeout
        self.log = log
        self.missing = 0
        self.unknown_statuses: set[str] = set()

    def ended(self, record: dict[str, Any] | None) -> bool:
        """True when ``record`` (a poll's answer) ended the generation, success or failure."""
        if record is None:
            self.missing += 1
            if self.missing >= MAX_MISSING:
                raise OneMinRecordMissingError(
                    f"1min.ai has no record of generation {self.uuid} (aiRecord: null, {self.missing} "
                    "times). It may have been deleted; check the 1min.ai history.",
                    uuid=self.uuid,
                )
            return False
        self.missing = 0
        state = generation_state(record)
        status = str(record.get("status", ""))
        unknown = state == "pending" and status.upper() not in PENDING_STATUSES
        if unknown and status not in self.unknown_statuses:
            self.unknown_statuses.add(status)
            self.log.warning(
                "Generation %s has the unknown status %r: taken as still running (until poll_timeout).",
                self.uuid,
                status,
            )
        return state != "pending"

    def next_sleep(self, record: dict[str, Any] | None) -> float:
        """Seconds until the next poll; raise :class:`OneMinTimeoutError` past the deadline."""
        if time.time() + self.poll_interval > self.deadline:
            raise OneMinTimeoutError(
                f"Generation {self.uuid} did not finish within {self.timeout:g} s. Polling is free: "
                "retry the task (it resumes this generation) or raise poll_timeout.",
                uuid=self.uuid,
            )
        self.log.debug(
            "Generation %s is %s; polling again in %.1f s.",
            self.uuid,
            record.get("status") if record else "not visible yet",
            self.poll_interval,
        )
        return self.poll_interval


def has_usable_result(record: dict[str, Any]) -> bool:
    """Whether a successful ``record`` lists at least one image path."""
    return any(isinstance(path, str) and path for path in result_fields(record)[0])


def empty_result_error(record: dict[str, Any]) -> OneMinEmptyResultError:
    """The error for a success without any usable image: final, and it says how to pay anew."""
    uuid = record.get("uuid")
    return OneMinEmptyResultError(
        f"1min.ai reported generation {uuid} as {record.get('status')} but returned no usable "
        "image (none listed, e.g. every one withheld as unsafe). It was probably charged: check "
        "the 1min.ai history. A retry would get the same empty answer, so the task fails now; "
        "clear this task instance to pay for a fresh generation (generation "
        f"{uuid} is not resumed again).",
        uuid=uuid,
        status=record.get("status"),
    )
