"""
The submission ledger: what this task instance has paid for, and whether it may pay again.

Like an idempotency key, the record is written before the paid request is sent and consulted
by every later try before paying. It is one small dict per task instance (map index included,
try number not), under :data:`STATE_KEY`:

* ``request_key``: the identity of the request paid for (:func:`~airflow_provider_onemin.reuse.key.request_key`: its
  images by their content, so a photo replaced at the same path is another request); records
  written by earlier versions have ``request_hash`` instead (:func:`request_hash`, image paths),
  which is still matched so that they resume after an upgrade;
* ``submitted_at``: when the paid request was (about to be) sent, in UTC;
* ``try_number``: the try that sent it;
* ``uuid``: the generation 1min.ai accepted, ``None`` while its answer is not known;
* ``outcome``: ``succeeded`` or ``failed`` once this task instance saw that generation end.

The rule it applies: a new paid request is sent only when no earlier try may still be producing
a paid result. An intent without a uuid blocks (unknown outcome); a generation not known to have
ended is polled to its end first; only one that ended (a failure, or a success for a request that
changed since) lets a new request be paid for.

:class:`SubmissionLedger` owns every read, write and decision about that record; the operator
only asks it. It talks to its store through ``get``, ``set`` and ``delete`` only
(:class:`SubmissionStore`), so the store can be Airflow's task state store or anything with the
same three calls; :func:`~airflow_provider_onemin.submissions.stores.submission_store` is the one
place that picks it (:mod:`~airflow_provider_onemin.submissions.stores`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_onemin.exceptions import (
    OneMinError,
    OneMinRecordMissingError,
    OneMinUnknownOutcomeError,
)
from airflow_provider_onemin.lineage import metrics
from airflow_provider_onemin.reuse.key import legacy_request_hash
from airflow_provider_onemin.submissions.stores import (
    STATE_KEY,
    SubmissionStore,
    TaskStateStore,
    release_after_success,
    submission_store,
    with_record_release,
)

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping


def request_hash(model: str, prompt_object: dict[str, Any]) -> str:
    """
    The identity records written before ``request_key`` had (image references as given, not their
    content). Only to match such records: see :func:`~airflow_provider_onemin.reuse.key.legacy_request_hash`.
    """
    return legacy_request_hash(model, prompt_object)


@dataclass(frozen=True)
class EarlierGeneration:
    """A generation an earlier try of this task instance submitted, not known to have ended."""

    uuid: str
    submitted_at: str | None
    same_request: bool


class SubmissionLedger:
    """
    The submission record of one task instance, and the decisions taken from it.

    :param store: where the record lives; None (no store in the context) keeps nothing, and a
        retry could then pay again: the ledger warns once.
    :param fingerprint: the identity of this try's request (``request_key(...).digest``, images by
        content), written in the record as ``request_key``; or a function that computes it, called
        once, when a decision first needs it (resuming a generation needs no image read).
    :param try_number: this try's number; the record keeps it, so that a generation this try
        submitted is never taken for an earlier try's (a template may render differently when a
        deferred task resumes).
    :param log: the operator's logger.
    :param model: the model, named in the metrics each decision emits (:mod:`~airflow_provider_onemin.lineage.metrics`).
    :param legacy_fingerprint: :func:`request_hash` of this try's request, to match a record written
        by an earlier version (``request_hash``, no ``request_key``); ``None`` matches none.
    """

    def __init__(
        self,
        store: SubmissionStore | None,
        fingerprint: str | Callable[[], str],
        *,
        try_number: int | None = None,
        log: logging.Logger,
        model: str = "unknown",
        legacy_fingerprint: str | None = None,
    ) -> None:
        self.store = store
        self._fingerprint = fingerprint
        self.legacy_fingerprint = legacy_fingerprint
        self.try_number = try_number
        self.log = log
        self.model = model
        self._intent: dict[str, Any] | None = None

    @property
    def fingerprint(self) -> str:
        """The identity of this try's request (computed on first use when given as a function)."""
        if callable(self._fingerprint):
            self._fingerprint = self._fingerprint()
        return self._fingerprint

    def _read(self) -> dict[str, Any] | None:
        return None if self.store is None else self.store.get(STATE_KEY)

    def _write(self, record: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.set(STATE_KEY, record)

    def _where(self) -> str:
        """Where the record is, in words a person can act on."""
        release_hint = getattr(self.store, "release_hint", None)
        if release_hint is not None:
            return release_hint(STATE_KEY)
        return (
            f"its task state store key {STATE_KEY!r} (Airflow REST API: DELETE .../taskInstances/"
            "{task_id}/state-store/" + STATE_KEY + ", with ?map_index=N for a mapped task)"
        )

    def forget(self) -> None:
        """Delete the record: nothing of this task instance is running or may still be charged."""
        if self.store is not None:
            self.store.delete(STATE_KEY)

    # --- before paying ----------------------------------------------------------------------

    def earlier_generation(self, *, retry_unknown_outcome: bool) -> EarlierGeneration | None:
        """
        The generation of an earlier try that must be polled to its end before anything else, or
        None when this try may pay for its own request.

        An intent without a uuid (an earlier try sent the paid request and stopped before the
        answer was saved) blocks whatever this try's request is: it raises
        :class:`OneMinUnknownOutcomeError`, unless ``retry_unknown_outcome`` is set.
        """
        if self.store is None:
            self.log.warning(
                "No task_state_store in the context: a retry of this task cannot resume a paid "
                "generation and would submit it again."
            )
            return None
        earlier = self._read()
        if not earlier:
            return None
        uuid, submitted_at = earlier.get("uuid"), earlier.get("submitted_at")
        if not uuid:
            if retry_unknown_outcome:
                self.log.warning(
                    "An earlier attempt sent a request at %s and its outcome is unknown; "
                    "retry_unknown_outcome is set, so this one is sent (it may be charged twice).",
                    submitted_at,
                )
                return None
            raise self._unknown_outcome(
                f"An earlier attempt of this task sent a paid request at {submitted_at} and stopped "
                "before 1min.ai's answer was saved: that generation may have been charged and may "
                "still be running, so nothing is sent now, whatever this attempt's request is."
            )
        same_request = self._same_request(earlier)
        outcome = earlier.get("outcome")
        if outcome == "failed" or (outcome == "succeeded" and not same_request):
            self.log.info(
                "Generation %s of an earlier attempt ended (%s) and this request differs or failed "
                "there: submitting it.",
                uuid,
                outcome,
            )
            return None
        if same_request:
            self.log.info(
                "Resuming generation %s submitted by an earlier attempt; nothing is paid again.", uuid
            )
        else:
            self.log.warning(
                "The request changed since generation %s was submitted at %s. That generation is "
                "polled to its end first; the new request is paid for only once it has ended.",
                uuid,
                submitted_at,
            )
        return EarlierGeneration(uuid=uuid, submitted_at=submitted_at, same_request=same_request)

    def may_submit_after(self, record: dict[str, Any]) -> bool:
        """
        An earlier try's generation ended with ``record``: True when this try may now pay for its
        own request (that generation failed, or succeeded for a request that changed since).
        """
        from airflow_provider_onemin.hooks.records import generation_state

        self.record_outcome(record)
        earlier = self._read() or {}
        if earlier.get("uuid") != record.get("uuid"):
            # Another generation than the one on record (Airflow 3.0 hands a retry an earlier try's
            # event): it says nothing about the recorded one, which may still run.
            self.log.warning(
                "The answer names generation %s, but the record names %s: it permits no new payment.",
                record.get("uuid"),
                earlier.get("uuid"),
            )
            return False
        if not self.submitted_by_earlier_try():
            return False
        if generation_state(record) == "failed":
            self.log.warning(
                "Generation %s of an earlier attempt ended with status %s: submitting afresh.",
                record.get("uuid"),
                record.get("status"),
            )
            return True
        if not self._same_request(earlier):
            self.log.info(
                "Generation %s of an earlier attempt succeeded, but for the request as it was then: "
                "submitting this attempt's request.",
                record.get("uuid"),
            )
            return True
        return False

    def _same_request(self, earlier: Mapping[str, Any]) -> bool:
        """True when ``earlier`` (a record) is about this try's request."""
        if earlier.get("request_key") is not None:
            return earlier["request_key"] == self.fingerprint
        # Written by an earlier version: only its path-based hash is there to compare.
        legacy = earlier.get("request_hash")
        return legacy is not None and legacy == self.legacy_fingerprint

    def recorded_uuid(self) -> str | None:
        """The generation on record, or ``None`` (no record, or an intent whose answer was never saved)."""
        return (self._read() or {}).get("uuid")

    def has_record(self) -> bool:
        """True when a record exists (an intent or a generation)."""
        return bool(self._read())

    def paid_identity(self, uuid: str | None) -> str | None:
        """
        The identity (``request_key``) that generation ``uuid`` was paid for, or ``None`` when the
        record does not say (another generation, or a record written by an earlier version).
        """
        record = self._read() or self._intent or {}
        if uuid is None or record.get("uuid") != uuid:
            return None
        return record.get("request_key")

    def submitted_by_earlier_try(self) -> bool:
        """
        True when the recorded generation was submitted by an earlier try of this task instance.
        A record that does not say (or no try number here) counts as this try's: it never pays.
        """
        earlier = self._read() or {}
        return None not in (earlier.get("try_number"), self.try_number) and (
            earlier.get("try_number") != self.try_number
        )

    def generation_missing(self, error: OneMinRecordMissingError) -> NoReturn:
        """
        1min.ai no longer knows the recorded generation. An earlier try's fails closed (an
        unknown outcome: it may have been charged); this try's stays a retryable error.
        """
        if not self.submitted_by_earlier_try():
            raise error
        uuid = error.uuid or (self._read() or {}).get("uuid")
        earlier = self._read() or {}
        raise self._unknown_outcome(
            f"Generation {uuid}, submitted by an earlier attempt at {earlier.get('submitted_at')}, is "
            "unknown to 1min.ai now (aiRecord: null): whether it was charged or still runs cannot be "
            "told, so nothing is sent now.",
            uuid=uuid,
            # retry_unknown_outcome only lets an intent without a uuid be sent again: this record
            # names a uuid, and every try would poll it and end here again.
            release=f"delete {self._where()} and clear it (a new generation is then paid for)",
        ) from error

    def _unknown_outcome(
        self, happened: str, *, uuid: str | None = None, release: str | None = None
    ) -> OneMinUnknownOutcomeError:
        self._count_unknown_outcome()
        earlier = self._read() or {}
        release = release or (
            f'delete {self._where()} and clear it, or set "retry_unknown_outcome": true in the '
            "connection's extra knowingly (it may then be charged twice)"
        )
        return OneMinUnknownOutcomeError(
            f"{happened} Check the 1min.ai history for a generation at that time. To release this "
            f"task instance: {release}.",
            uuid=uuid,
            sent_at=earlier.get("submitted_at"),
        )

    def generation_empty(self, record: Mapping[str, Any]) -> None:
        """
        The recorded generation succeeded without a usable image: note it as failed, so the next
        clear of the task pays for a fresh one instead of resuming this one for ever.
        """
        stored = self._read()
        if stored and stored.get("uuid") == record.get("uuid"):
            self._write({**stored, "outcome": "failed"})

    # --- around the paid request ------------------------------------------------------------

    def record_intent(self) -> str:
        """Save the intent before the paid request is sent; return when it is sent (UTC, ISO)."""
        # Milliseconds: the render-time metric starts here.
        submitted_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        self._intent = {
            "request_key": self.fingerprint,
            "uuid": None,
            "submitted_at": submitted_at,
            "try_number": self.try_number,
        }
        self._write(self._intent)
        metrics.generation_submitted(self.model)
        return submitted_at

    def record_uuid(self, uuid: str) -> None:
        """Save the generation 1min.ai accepted: later tries resume it instead of paying again."""
        assert self._intent is not None, "record_intent() comes first"
        self._intent = {**self._intent, "uuid": uuid}
        self._write(self._intent)

    def record_outcome(self, record: dict[str, Any]) -> None:
        """
        Save how the recorded generation ended; a record still pending changes nothing. The first
        time a generation is seen to end, it is counted (and its render time, from the recorded
        submission time, measured), once however many tries or processes see it.
        """
        from airflow_provider_onemin.hooks.records import generation_state

        state = generation_state(record)
        stored = self._read()
        if state == "pending" or not stored or stored.get("uuid") != record.get("uuid"):
            if state != "pending" and self.store is None:
                self._count_outcome(state, record, self._intent or {})  # nothing to count it once against
            return
        self._write({**stored, "outcome": "succeeded" if state == "success" else "failed"})
        if stored.get("outcome") in (None, "unknown"):
            self._count_outcome(state, record, stored)

    def _count_outcome(self, state: str, record: dict[str, Any], submission: dict[str, Any]) -> None:
        from airflow_provider_onemin.hooks.records import reported_credit, result_fields

        if state != "success":
            metrics.generation_failed(self.model)
            return
        metrics.generation_succeeded(self.model, images=len(result_fields(record)[0]))
        # Once per generation, like the counts above: a retry that resumes it pays nothing more.
        metrics.credits_spent(self.model, reported_credit(record))
        metrics.render_time(self.model, submission.get("submitted_at"))

    def _count_unknown_outcome(self) -> None:
        """Count an unknown outcome once per submission: the record remembers it was counted."""
        stored = self._read()
        if stored is not None and stored.get("outcome") == "unknown":
            return
        metrics.generation_unknown_outcome(self.model)
        if stored is not None:
            self._write({**stored, "outcome": "unknown"})

    def submission_failed(self, error: OneMinError) -> None:
        """
        The paid request failed with ``error``. An unknown outcome keeps the intent: a later try
        must not pay again blindly. Any other error means nothing runs (refused, 400, 401, 422,
        429 after retries...), so the record goes and a clear of the task may submit afresh.
        """
        if isinstance(error, OneMinUnknownOutcomeError):
            self._count_unknown_outcome()
            return
        metrics.generation_failed(self.model)
        self.forget()


# The store's names stay importable from here, where they lived before stores.py.
__all__ = [
    "STATE_KEY",
    "EarlierGeneration",
    "SubmissionLedger",
    "SubmissionStore",
    "TaskStateStore",
    "release_after_success",
    "request_hash",
    "submission_store",
    "with_record_release",
]
