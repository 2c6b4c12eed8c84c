"""
Trigger that waits for a 1min.ai generation in the triggerer, freeing the worker slot.

It only ever polls ``GET /api/results/{uuid}``, which is free: a triggerer restart re-polls and
never re-submits. It serialises the uuid, the connection id and its poll settings, nothing else
(the API key is read from the connection in the triggerer, never stored in the trigger row).

Events (plain JSON, so they survive the trigger table and ``dag.test()``):

* ``{"status": "success", "uuid", "record"}``: the generation succeeded; ``record`` is the aiRecord.
* ``{"status": "failure", "uuid", "record"}``: it ended with FAILURE (or another final status).
* ``{"status": "timeout", "uuid", "message"}``: still running at the deadline. Re-polling is free.
* ``{"status": "error", "uuid", "error", "message", "status_code"}``: waiting cannot go on (bad key,
  missing connection, a refused poll, the record vanished); ``error`` names the exception class.

:func:`record_from_event` turns an event back into the record or the matching exception.
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_onemin.exceptions import (
    OneMinAPIError,
    OneMinAuthenticationError,
    OneMinConfigurationError,
    OneMinError,
    OneMinGenerationFailedError,
    OneMinMalformedResponseError,
    OneMinOutOfCreditsError,
    OneMinRequestRejectedError,
    OneMinTimeoutError,
    OneMinUnsafeContentError,
)

if TYPE_CHECKING:
    import httpx

    from airflow_provider_onemin.hooks.client_settings import OneMinClientSettings

#: Errors an event may name; anything else comes back as a plain (retryable) OneMinError.
_EVENT_ERRORS: dict[str, type[OneMinError]] = {
    cls.__name__: cls
    for cls in (
        OneMinAuthenticationError,
        OneMinConfigurationError,
        OneMinRequestRejectedError,
        OneMinUnsafeContentError,
        OneMinOutOfCreditsError,
        OneMinMalformedResponseError,
        OneMinError,
    )
}
#: ``aiRecord: null`` this many times in a row: the record is gone, waiting longer will not help.
_MAX_MISSING = 3


class _Transient(Exception):
    """A poll failed in a way the next poll may not: carries the error and an optional wait hint."""

    def __init__(self, error: OneMinError | str, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.retry_after = retry_after


class _Stop(Exception):
    """Waiting cannot go on: carries the event to send."""

    def __init__(self, event: TriggerEvent) -> None:
        super().__init__(event.payload)
        self.event = event


class OneMinResultTrigger(BaseTrigger):
    """
    Poll a generation until it is ``SUCCESS``, ``FAILURE`` or the deadline passes.

    Transient failures (connection errors, 429, 5xx, garbled answers) are retried with
    exponential backoff and jitter (the connection's ``backoff_initial``/``backoff_max``, and
    ``Retry-After`` when sent) until the deadline; polling is free, so they never end the wait
    early. Only what no further poll can fix (a refused key, a missing connection, a refused
    request, a record that vanished) ends it with an error event.

    :param uuid: the generation's uuid (from the async submission).
    :param onemin_conn_id: the Airflow connection holding the API key and host.
    :param poll_interval: seconds between polls while the generation runs.
    :param timeout: seconds to wait in all, counted from the first deferral.
    :param deadline: absolute end of the wait (epoch seconds); set on the first deferral and kept
        across triggerer restarts so that a restart does not extend the wait.
    """

    def __init__(
        self,
        uuid: str,
        onemin_conn_id: str = "onemin_default",
        poll_interval: float = 5.0,
        timeout: float = 3600.0,
        deadline: float | None = None,
    ) -> None:
        super().__init__()
        self.uuid = uuid
        self.onemin_conn_id = onemin_conn_id
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.deadline = float(deadline) if deadline is not None else time.time() + self.timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "uuid": self.uuid,
                "onemin_conn_id": self.onemin_conn_id,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
                "deadline": self.deadline,
            },
        )

    # --- events -----------------------------------------------------------------------------

    def _event(self, status: str, **payload: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "uuid": self.uuid, **payload})

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
        yield event

    async def _wait(self) -> TriggerEvent:
        import httpx

        from airflow_provider_onemin import __version__

        base_url, api_key, settings = await self._connection_settings()
        self.log.info("Polling generation %s every %.1f s.", self.uuid, self.poll_interval)
        async with httpx.AsyncClient(
            base_url=base_url,
            headers={
                "API-KEY": api_key,
                "Accept": "application/json",
                "User-Agent": f"airflow-provider-onemin/{__version__} python-httpx/{httpx.__version__}",
            },
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            proxy=settings.proxy,
            verify=_tls_context(settings.ca_bundle, settings.verify_ssl, settings.proxy is None),
            # Connection settings decide, like the hook: environment proxies would win otherwise.
            trust_env=settings.proxy is None,
        ) as client:
            failures = 0
            missing = 0
            while True:
                wait = self.poll_interval
                try:
                    record = await self._poll(client)
                except _Transient as problem:
                    failures += 1
                    wait = max(_backoff(settings, failures), problem.retry_after or 0.0)
                    self.log.warning("Polling %s: %s; retrying in %.1f s.", self.uuid, problem, wait)
                except _Stop as stop:
                    return stop.event
                else:
                    failures = 0
                    if record is None:
                        missing += 1
                        if missing >= _MAX_MISSING:
                            raise OneMinMalformedResponseError(
                                f"1min.ai has no record of generation {self.uuid} (aiRecord: null, "
                                f"{missing} times). It may have been deleted; check the 1min.ai history."
                            )
                    else:
                        missing = 0
                        event = self._final_event(record)
                        if event is not None:
                            return event
                if time.time() + wait > self.deadline:
                    return self._timeout_event()
                await asyncio.sleep(wait)

    async def _connection_settings(self) -> tuple[str, str, OneMinClientSettings]:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        from airflow_provider_onemin.hooks.client_settings import OneMinClientSettings, parse_base_url

        try:
            # The async variant: the sync one would block the triggerer's event loop (and can
            # deadlock on the supervisor channel).
            conn = await BaseHook.aget_connection(self.onemin_conn_id)
        except AirflowNotFoundException:
            conn = await _connection_from_in_process_supervisor(self.onemin_conn_id)
            if conn is None:
                raise OneMinConfigurationError(
                    f"Connection {self.onemin_conn_id!r} is not defined where the triggerer can see it."
                ) from None
        if not conn.password:
            raise OneMinConfigurationError(
                f"Connection {self.onemin_conn_id!r} has no API key: put the 1min.ai API key in the "
                "connection's password field ('API Key' in the form)."
            )
        # Not extra_dejson: its sync secret masking can deadlock the triggerer's supervisor channel.
        extra = await conn.aextra_dejson()
        settings, _ = OneMinClientSettings.from_extra(extra or {}, self.onemin_conn_id)
        return parse_base_url(conn.host, conn.port, self.onemin_conn_id), conn.password, settings

    async def _poll(self, client: httpx.AsyncClient) -> dict[str, Any] | None:
        """One poll: the record, None when unknown; raise _Transient or _Stop otherwise."""
        import httpx

        from airflow_provider_onemin.hooks.answers import classify_answer
        from airflow_provider_onemin.hooks.onemin import RESULTS_PATH
        from airflow_provider_onemin.validation import record_or_none

        path = RESULTS_PATH.format(uuid=self.uuid)
        # A hung request must not outlive the deadline by a whole read timeout.
        remaining = max(1.0, self.deadline - time.time())
        try:
            response = await client.get(path, timeout=_capped_timeout(client.timeout, remaining))
        except httpx.TransportError as exc:
            raise _Transient(f"{type(exc).__name__} (no answer)") from None
        if response.status_code != 200:
            error = classify_answer(response, "GET", path)
            if error.final:
                raise _Stop(self._error_event(error))
            raise _Transient(error, getattr(error, "retry_after", None))
        try:
            answer = response.json()
        except ValueError:
            raise _Transient(f"the answer is not JSON ({len(response.content)} bytes)") from None
        try:
            return record_or_none(answer, what=f"GET {path}")
        except OneMinMalformedResponseError as error:
            raise _Transient(error) from None

    def _final_event(self, record: dict[str, Any]) -> TriggerEvent | None:
        """The event for a finished generation, or None while it runs."""
        from airflow_provider_onemin.hooks.onemin import generation_state

        state = generation_state(record)
        if state == "success":
            self.log.info("Generation %s succeeded.", self.uuid)
            return self._event("success", record=record)
        if state == "pending":
            self.log.debug("Generation %s is %s.", self.uuid, record.get("status"))
            return None
        self.log.info("Generation %s ended with status %s.", self.uuid, record.get("status"))
        return self._event("failure", record=record)


async def _connection_from_in_process_supervisor(conn_id: str) -> Any:
    """
    The connection through the sync channel when the trigger runs inline in ``dag.test()``.

    There (and in ``airflow dags test``) Airflow 3.3 runs the trigger with an in-process
    supervisor channel that has no ``asend``, so ``aget_connection`` silently skips the metadata
    database and only sees environment variables and external secrets backends. The sync lookup
    works there; it runs in a thread so the event loop is not blocked. None elsewhere.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.execution_time import task_runner

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is None or hasattr(comms, "asend"):
        return None
    try:
        return await asyncio.to_thread(BaseHook.get_connection, conn_id)
    except AirflowNotFoundException:
        return None


@functools.lru_cache(maxsize=8)
def _tls_context(ca_bundle: str | None, verify_ssl: bool, trust_env: bool) -> ssl.SSLContext:
    """
    One TLS context per setting, shared by all triggers: building one loads the CA bundle (~30 ms
    of blocked event loop), which httpx would otherwise do for every trigger that starts.
    """
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    import httpx

    return httpx.create_ssl_context(verify=verify_ssl, trust_env=trust_env)


def _capped_timeout(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    import httpx

    def cap(value: float | None) -> float:
        return seconds if value is None else min(value, seconds)

    return httpx.Timeout(
        connect=cap(timeout.connect), read=cap(timeout.read), write=cap(timeout.write), pool=cap(timeout.pool)
    )


def _backoff(settings: OneMinClientSettings, failures: int) -> float:
    backoff = min(settings.backoff_max, settings.backoff_initial * 2 ** (failures - 1))
    return backoff / 2 + random.uniform(0, backoff / 2)


def record_from_event(event: dict[str, Any]) -> dict[str, Any]:
    """
    The record of a succeeded generation from a trigger event; raise the matching error otherwise.

    A timeout raises :class:`OneMinTimeoutError`, which is not final: an Airflow retry resumes the
    same generation from the task state store, without paying again.
    """
    status = event.get("status") if isinstance(event, dict) else None
    uuid = event.get("uuid") if isinstance(event, dict) else None
    if status == "success" and isinstance(event.get("record"), dict):
        return event["record"]
    if status == "failure" and isinstance(event.get("record"), dict):
        from airflow_provider_onemin.hooks.onemin import OneMinHook

        OneMinHook.check_status(event["record"])  # raises OneMinGenerationFailedError
        raise OneMinGenerationFailedError(f"Generation {uuid} failed.", uuid=uuid)
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
        raise error_class(message)
    raise OneMinMalformedResponseError(
        f"Unexpected event from the 1min.ai result trigger: {str(event)[:200]}. Retry the task: it "
        "resumes the same generation without paying again."
    )
