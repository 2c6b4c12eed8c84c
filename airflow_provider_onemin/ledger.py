"""
The submission ledger: what this task instance has paid for, and whether it may pay again.

Like an idempotency key, the record is written before the paid request is sent and consulted
by every later try before paying. It is one small dict per task instance (map index included,
try number not), under :data:`STATE_KEY`:

* ``request_hash``: the hash of the request as rendered (:func:`request_hash`);
* ``submitted_at``: when the paid request was (about to be) sent, in UTC;
* ``uuid``: the generation 1min.ai accepted, ``None`` while its answer is not known;
* ``outcome``: how that generation ended, when this task saw it end.

:class:`SubmissionLedger` owns every read, write and decision about that record; the operator
only asks it. It talks to its store through ``get``, ``set`` and ``delete`` only
(:class:`SubmissionStore`), so the store can be Airflow's task state store or anything with the
same three calls; :func:`submission_store` is the one place that picks it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_onemin.exceptions import OneMinError, OneMinUnknownOutcomeError

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

#: Key of the record in the store; per task instance and map index, never per try.
STATE_KEY = "onemin_submission"


class SubmissionStore(Protocol):
    """Where the ledger keeps its record: JSON dicts by key."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any]) -> None: ...

    def delete(self, key: str) -> None: ...


class TaskStateStore:
    """
    :class:`SubmissionStore` over Airflow 3.3's ``task_state_store``: survives retries and
    clears of the task instance, kept with retention ``NEVER_EXPIRE``.

    :param store: the context's ``task_state_store``.
    """

    def __init__(self, store: Any) -> None:
        self._store = store

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._store.get(key)
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        from airflow.sdk.execution_time.context import NEVER_EXPIRE

        self._store.set(key, value, retention=NEVER_EXPIRE)

    def delete(self, key: str) -> None:
        self._store.delete(key)


def submission_store(context: Mapping[str, Any]) -> SubmissionStore | None:
    """
    The store of this task instance's submission record, or None when there is none.

    The one place that picks it: on Airflow 3.3+ the context's ``task_state_store``.
    """
    store = context.get("task_state_store")
    return None if store is None else TaskStateStore(store)


def request_hash(model: str, prompt_object: dict[str, Any]) -> str:
    """A stable hash of what the user asked for (image references as given, before upload)."""
    canonical = json.dumps({"model": model, "promptObject": prompt_object}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class SubmissionLedger:
    """
    The submission record of one task instance, and the decisions taken from it.

    :param store: where the record lives; None (no store in the context) keeps nothing, and a
        retry could then pay again: the ledger warns once.
    :param fingerprint: :func:`request_hash` of this try's request.
    :param log: the operator's logger.
    """

    def __init__(self, store: SubmissionStore | None, fingerprint: str, *, log: logging.Logger) -> None:
        self.store = store
        self.fingerprint = fingerprint
        self.log = log
        self._intent: dict[str, Any] | None = None

    def _read(self) -> dict[str, Any] | None:
        return None if self.store is None else self.store.get(STATE_KEY)

    def _write(self, record: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.set(STATE_KEY, record)

    def forget(self) -> None:
        """Delete the record: nothing of this task instance is running or may still be charged."""
        if self.store is not None:
            self.store.delete(STATE_KEY)

    # --- before paying ----------------------------------------------------------------------

    def resumable_uuid(self, *, retry_unknown_outcome: bool) -> str | None:
        """
        The generation of an earlier try to resume, or None when this try may submit.

        An earlier try of the same request that stopped before 1min.ai's answer was saved raises
        :class:`OneMinUnknownOutcomeError` (unless ``retry_unknown_outcome`` is set).
        """
        if self.store is None:
            self.log.warning(
                "No task_state_store in the context: a retry of this task cannot resume a paid "
                "generation and would submit it again."
            )
            return None
        earlier = self._read()
        if not earlier or earlier.get("request_hash") != self.fingerprint:
            if earlier:
                self.log.info("The request changed since the last attempt: submitting afresh.")
            return None
        uuid = earlier.get("uuid")
        if uuid:
            self.log.info(
                "Resuming generation %s submitted by an earlier attempt; nothing is paid again.", uuid
            )
            return uuid
        if retry_unknown_outcome:
            self.log.warning(
                "An earlier attempt sent this request at %s and its outcome is unknown; "
                "retry_unknown_outcome is set, so it is sent again (it may be charged twice).",
                earlier.get("submitted_at"),
            )
            return None
        raise OneMinUnknownOutcomeError(
            f"An earlier attempt of this task sent this request at {earlier.get('submitted_at')} and "
            "stopped before 1min.ai's answer was saved: the generation may have been charged, so "
            "it is NOT sent again. Check the 1min.ai history. To submit anyway, change the "
            "request (e.g. the seed), delete the task state store key "
            f"{STATE_KEY!r} of this task instance, or set \"retry_unknown_outcome\": true in "
            "the connection's extra.",
            sent_at=earlier.get("submitted_at"),
        )

    def resumed(self, uuid: str, record: dict[str, Any] | None) -> dict[str, Any] | None:
        """
        What polling the resumed generation ``uuid`` showed: its record to go on with, or None
        when it failed and this try may submit afresh.
        """
        from airflow_provider_onemin.hooks.records import generation_state

        if record is None:
            earlier = self._read() or {}
            raise OneMinUnknownOutcomeError(
                f"Generation {uuid}, submitted by an earlier attempt, is unknown to 1min.ai now. It is "
                "not submitted again automatically: change the request or clear the task state.",
                uuid=uuid,
                sent_at=earlier.get("submitted_at"),
            )
        if generation_state(record) == "failed":
            self.log.warning(
                "Generation %s of an earlier attempt ended with status %s: submitting afresh.",
                uuid,
                record.get("status"),
            )
            self.forget()
            return None
        return record

    # --- around the paid request ------------------------------------------------------------

    def record_intent(self) -> str:
        """Save the intent before the paid request is sent; return when it is sent (UTC, ISO)."""
        submitted_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._intent = {"request_hash": self.fingerprint, "uuid": None, "submitted_at": submitted_at}
        self._write(self._intent)
        return submitted_at

    def record_uuid(self, uuid: str) -> None:
        """Save the generation 1min.ai accepted: later tries resume it instead of paying again."""
        assert self._intent is not None, "record_intent() comes first"
        self._write({**self._intent, "uuid": uuid})

    def submission_failed(self, error: OneMinError) -> None:
        """
        The paid request failed with ``error``. An unknown outcome keeps the intent: a later try
        must not pay again blindly. Any other error means nothing runs (refused, 400, 401, 422,
        429 after retries...), so the record goes and a clear of the task may submit afresh.
        """
        if not isinstance(error, OneMinUnknownOutcomeError):
            self.forget()
