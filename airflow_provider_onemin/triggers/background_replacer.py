"""
Trigger that waits for a 1min.ai generation in the triggerer, freeing the worker slot.

It only ever polls ``GET /api/results/{uuid}``, which is free: a triggerer restart re-polls and
never re-submits. It serialises the uuid, the connection id and its poll settings, nothing else
(the API key is read from the connection in the triggerer, never stored in the trigger row).

Events (plain JSON, so they survive the trigger table and ``dag.test()``):

* ``{"status": "success", "uuid", "record"}``: the generation succeeded; ``record`` is the aiRecord
  without its signed links (no ``temporaryUrl``, no query strings: see
  :func:`~airflow_provider_onemin.hooks.signatures.without_signatures`).
* ``{"status": "failure", "uuid", "record"}``: it ended with FAILURE (or another final status).
* ``{"status": "timeout", "uuid", "message"}``: still running at the deadline. Re-polling is free.
* ``{"status": "error", "uuid", "error", "message", "status_code"}``: waiting cannot go on (bad key,
  missing connection, a refused poll, the record vanished); ``error`` names the exception class.

:func:`record_from_event` turns an event back into the record or the matching exception.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_onemin.exceptions import (
    OneMinAPIError,
    OneMinAuthenticationError,
    OneMinConfigurationError,
    OneMinError,
    OneMinMalformedResponseError,
    OneMinOutOfCreditsError,
    OneMinRecordMissingError,
    OneMinRequestRejectedError,
    OneMinTimeoutError,
    OneMinUnsafeContentError,
)
from airflow_provider_onemin.hooks.records import check_status, generation_state
from airflow_provider_onemin.hooks.signatures import without_signatures
from airflow_provider_onemin.triggers.deferral import hold_until

#: Errors an event may name; anything else comes back as a plain (retryable) OneMinError.
_EVENT_ERRORS: dict[str, type[OneMinError]] = {
    cls.__name__: cls
    for cls in (
        OneMinAuthenticationError,
        OneMinConfigurationError,
        OneMinRequestRejectedError,
        OneMinUnsafeContentError,
        OneMinOutOfCreditsError,
        OneMinRecordMissingError,
        OneMinMalformedResponseError,
        OneMinError,
    )
}


class OneMinResultTrigger(BaseTrigger):
    """
    Poll a generation until it is ``SUCCESS``, ``FAILURE`` or the deadline passes.

    It polls through :class:`~airflow_provider_onemin.hooks.onemin.OneMinAsyncHook`, with the same
    retry policy as the worker: a poll that fails transiently (connection errors, 429, 5xx,
    garbled answers) is retried with backoff within ``max_attempts`` and ``max_retry_wait``, each
    poll with a fresh budget, never past the deadline. What no further poll can fix (a refused
    key, a missing connection, a refused request, a record that vanished, a poll that used up its
    retries) ends the wait with an error event.

    :param uuid: the generation's uuid (from the async submission).
    :param onemin_conn_id: the Airflow connection holding the API key and host.
    :param poll_interval: seconds between polls while the generation runs.
    :param timeout: seconds to wait in all, counted from the first deferral.
    :param deadline: absolute end of the wait (epoch seconds); set on the first deferral and kept
        across triggerer restarts so that a restart does not extend the wait.
    :param min_defer_time: seconds after the deferral before which no event is sent: an end seen
        sooner is held back until then, so that the scheduler has read the end of the deferring
        run before the task resumes (see :mod:`airflow_provider_onemin.triggers.deferral`). 0: no hold.
    :param not_before: the moment (epoch seconds) that hold ends; set on the first deferral from
        ``min_defer_time`` and kept across triggerer restarts.
    """

    def __init__(
        self,
        uuid: str,
        onemin_conn_id: str = "onemin_default",
        poll_interval: float = 5.0,
        timeout: float = 3600.0,
        deadline: float | None = None,
        min_defer_time: float = 0.0,
        not_before: float | None = None,
    ) -> None:
        super().__init__()
        self.uuid = uuid
        self.onemin_conn_id = onemin_conn_id
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.deadline = float(deadline) if deadline is not None else time.time() + self.timeout
        self.min_defer_time = max(float(min_defer_time), 0.0)
        if not_before is None and self.min_defer_time > 0:
            not_before = time.time() + self.min_defer_time
        self.not_before = float(not_before) if not_before is not None else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "uuid": self.uuid,
                "onemin_conn_id": self.onemin_conn_id,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
                "deadline": self.deadline,
                "min_defer_time": self.min_defer_time,
                "not_before": self.not_before,
            },
        )

    # --- events -----------------------------------------------------------------------------

    def _event(self, status: str, **payload: Any) -> TriggerEvent:
        # An event is kept (next_kwargs, logs; Airflow 3.0 hands it to later tries too): no signed
        # link goes in. The task renews one by polling the uuid when it downloads.
        return TriggerEvent(without_signatures({"status": status, "uuid": self.uuid, **payload}))

    def _error_event(self, error: OneMinError) -> TriggerEvent:
        name = type(error).__name__ if type(error).__name__ in _EVENT_ERRORS else "OneMinError"
        return self._event(
            "error", error=name, message=str(error), status_code=getattr(error, "status_code", None)
        )

    def _timeout_event(self) -> TriggerEvent:
        return self._event(
            "timeout", message=f"Generation {self.uuid} did not finish within {self.timeout:g} s."
        )

    # --- the wait ---------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except OneMinError as error:
            event = self._error_event(error)
        except Exception as error:
            # An unexpected failure must reach the task as a retryable error (a retry resumes the
            # same generation for free), not as an opaque trigger crash.
            self.log.exception("Waiting for generation %s failed unexpectedly.", self.uuid)
            event = self._error_event(
                OneMinError(f"Waiting for generation {self.uuid} failed: {type(error).__name__}: {error}")
            )
        # Any event resumes the task, so every one waits out the hold.
        held = await hold_until(self.not_before, self.min_defer_time)
        if held:
            self.log.info(
                "Generation %s: event held %.1f s so the task resumes no sooner than %.1f s after "
                "deferring (Airflow's stale-deferral race).",
                self.uuid,
                held,
                self.min_defer_time,
            )
        yield event

    async def _wait(self) -> TriggerEvent:
        from airflow_provider_onemin.hooks.onemin import OneMinAsyncHook

        self.log.info("Polling generation %s every %.1f s.", self.uuid, self.poll_interval)
        async with OneMinAsyncHook(self.onemin_conn_id) as hook:
            try:
                record = await hook.wait_for_end(
                    self.uuid, poll_interval=self.poll_interval, deadline=self.deadline, timeout=self.timeout
                )
            except OneMinTimeoutError:
                return self._timeout_event()
        if generation_state(record) == "success":
            self.log.info("Generation %s succeeded.", self.uuid)
            return self._event("success", record=record)
        self.log.info("Generation %s ended with status %s.", self.uuid, record.get("status"))
        return self._event("failure", record=record)


def record_from_event(event: dict[str, Any]) -> dict[str, Any]:
    """
    The record of a succeeded generation from a trigger event; raise the matching error otherwise.

    A timeout raises :class:`OneMinTimeoutError`, which is not final: an Airflow retry resumes the
    same generation from the task state store, without paying again.
    """
    record = ended_record_from_event(event)
    check_status(record)  # raises OneMinGenerationFailedError for a failure
    return record


def ended_record_from_event(event: dict[str, Any]) -> dict[str, Any]:
    """The last record of a generation that ended (success or failure); raise for other events."""
    status = event.get("status") if isinstance(event, dict) else None
    uuid = event.get("uuid") if isinstance(event, dict) else None
    if status in ("success", "failure") and isinstance(event.get("record"), dict):
        return event["record"]
    if status == "timeout":
        raise OneMinTimeoutError(
            f"{event.get('message') or f'Generation {uuid} timed out.'} Polling is free: retry the task "
            "(it resumes this generation without paying again) or raise poll_timeout.",
            uuid=uuid,
        )
    if status == "error":
        error_class = _EVENT_ERRORS.get(str(event.get("error")), OneMinError)
        message = str(event.get("message") or f"Waiting for generation {uuid} failed.")
        if issubclass(error_class, OneMinAPIError):
            raise error_class(message, status_code=event.get("status_code"))
        if error_class is OneMinRecordMissingError:
            raise OneMinRecordMissingError(message, uuid=uuid)
        raise error_class(message)
    raise OneMinMalformedResponseError(
        f"Unexpected event from the 1min.ai result trigger: {str(event)[:200]}. Retry the task: it "
        "resumes the same generation without paying again."
    )
