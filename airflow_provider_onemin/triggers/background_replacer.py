"""
Trigger that waits for a 1min.ai generation in the triggerer, freeing the worker slot.

It only ever polls ``GET /api/results/{uuid}``, which is free: a triggerer restart re-polls and
never re-submits. It serialises the uuid, the connection id and its poll settings, nothing else
(the API key is read from the connection in the triggerer, never stored in the trigger row).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_onemin.exceptions import (
    OneMinAuthenticationError,
    OneMinError,
    OneMinGenerationFailedError,
    OneMinMalformedResponseError,
    OneMinOutOfCreditsError,
    OneMinRequestRejectedError,
    OneMinTimeoutError,
)

#: Event error kinds -> the error raised on the worker when the task resumes.
_ERROR_KINDS: dict[str, type[OneMinError]] = {
    "authentication": OneMinAuthenticationError,
    "rejected": OneMinRequestRejectedError,
    "out_of_credits": OneMinOutOfCreditsError,
    "malformed": OneMinMalformedResponseError,
}
_MAX_MISSING = 3


class OneMinResultTrigger(BaseTrigger):
    """
    Poll a generation until it is ``SUCCESS``, ``FAILURE`` or the deadline passes.

    Transient failures (connection errors, 429, 5xx, garbled answers) are retried with
    exponential backoff and jitter; they never end the wait early.

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

    async def _connection_settings(self) -> tuple[str, str, Any]:
        from airflow.sdk import BaseHook

        from airflow_provider_onemin.hooks.onemin import OneMinClientSettings, parse_base_url

        conn = await BaseHook.aget_connection(self.onemin_conn_id)
        if not conn.password:
            raise OneMinAuthenticationError(
                f"Connection {self.onemin_conn_id!r} has no API key (password field).", status_code=None
            )
        settings, _ = OneMinClientSettings.from_extra(conn.extra_dejson or {}, self.onemin_conn_id)
        return parse_base_url(conn.host, conn.port, self.onemin_conn_id), conn.password, settings

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import httpx

        from airflow_provider_onemin import __version__
        from airflow_provider_onemin.hooks.onemin import (
            PENDING_STATUSES,
            RESULTS_PATH,
            SUCCESS_STATUS,
            classify_answer,
        )

        try:
            base_url, api_key, settings = await self._connection_settings()
        except OneMinError as exc:
            yield self._error_event("authentication", str(exc))
            return
        path = RESULTS_PATH.format(uuid=self.uuid)
        failures = 0
        missing = 0
        headers = {"API-KEY": api_key, "User-Agent": f"airflow-provider-onemin/{__version__} httpx"}
        timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
        async with httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            proxy=settings.proxy,
            verify=settings.ca_bundle or settings.verify_ssl,
            trust_env=settings.proxy is None,
        ) as client:
            while True:
                wait = self.poll_interval
                try:
                    response = await client.get(path)
                except httpx.TransportError as exc:
                    failures += 1
                    wait = self._backoff(settings, failures)
                    self.log.warning("Polling %s failed (%s); retrying in %.1f s.", self.uuid, type(exc).__name__, wait)
                else:
                    if response.status_code != 200:
                        error = classify_answer(response, "GET", path)
                        if getattr(error, "final", False):
                            kind = next((k for k, c in _ERROR_KINDS.items() if type(error) is c), "rejected")
                            yield self._error_event(kind, str(error))
                            return
                        failures += 1
                        wait = max(self._backoff(settings, failures), getattr(error, "retry_after", None) or 0)
                        self.log.warning("Polling %s: %s; retrying in %.1f s.", self.uuid, error, wait)
                    else:
                        try:
                            record = response.json()["aiRecord"]
                        except (ValueError, KeyError, TypeError):
                            failures += 1
                            wait = self._backoff(settings, failures)
                            self.log.warning("Polling %s: garbled answer; retrying in %.1f s.", self.uuid, wait)
                        else:
                            failures = 0
                            if record is None:
                                missing += 1
                                if missing >= _MAX_MISSING:
                                    yield self._error_event(
                                        "malformed",
                                        f"1min.ai has no record of generation {self.uuid} "
                                        f"(aiRecord: null, {missing} times).",
                                    )
                                    return
                            else:
                                missing = 0
                                status = str(record.get("status", "")).upper()
                                if status == SUCCESS_STATUS:
                                    yield TriggerEvent({"status": "success", "uuid": self.uuid, "record": record})
                                    return
                                if status not in PENDING_STATUSES:
                                    yield TriggerEvent({"status": "failure", "uuid": self.uuid, "record": record})
                                    return
                if time.time() + wait > self.deadline:
                    yield TriggerEvent(
                        {
                            "status": "timeout",
                            "uuid": self.uuid,
                            "message": f"Generation {self.uuid} did not finish within {self.timeout:g} s.",
                        }
                    )
                    return
                await asyncio.sleep(wait)

    @staticmethod
    def _backoff(settings: Any, failures: int) -> float:
        backoff = min(settings.backoff_max, settings.backoff_initial * 2 ** (failures - 1))
        return backoff / 2 + random.uniform(0, backoff / 2)

    def _error_event(self, kind: str, message: str) -> TriggerEvent:
        return TriggerEvent({"status": "error", "kind": kind, "uuid": self.uuid, "message": message})


def record_from_event(event: dict[str, Any]) -> dict[str, Any]:
    """The record of a finished generation from a trigger event; raise the matching error otherwise."""
    status = event.get("status")
    uuid = event.get("uuid")
    if status == "success":
        return event["record"]
    if status == "failure":
        from airflow_provider_onemin.hooks.onemin import OneMinHook

        OneMinHook.check_status(event["record"])  # raises OneMinGenerationFailedError
        raise OneMinGenerationFailedError(f"Generation {uuid} failed.", uuid=uuid)
    if status == "timeout":
        raise OneMinTimeoutError(
            f"{event.get('message')} Polling is free: retry the task (it resumes this generation) or "
            "raise poll_timeout.",
            uuid=uuid,
        )
    error_class = _ERROR_KINDS.get(str(event.get("kind")), OneMinMalformedResponseError)
    raise error_class(str(event.get("message") or f"Waiting for generation {uuid} failed."))
