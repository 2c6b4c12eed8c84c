"""
How long to wait before the next attempt of a request, or why to stop, and how to say so.

Both hooks run their attempts on tenacity (``Retrying`` on workers, ``AsyncRetrying`` in the
triggerer) with the options of :func:`retrying_options`; these functions are the one policy they
apply: exponential backoff with jitter, a ``Retry-After`` never cut short, a cap on attempts and
on the total time slept, and for a poll also the wait's deadline.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_onemin.exceptions import OneMinAPIError, OneMinError
from airflow_provider_onemin.hooks.answers import readable_seconds

if TYPE_CHECKING:
    import logging

    from tenacity import RetryCallState

    from airflow_provider_onemin.hooks.client_settings import OneMinClientSettings


class Retryable(Exception):
    """Internal wrapper: the wrapped error may be retried; carries an optional wait hint."""

    def __init__(self, error: OneMinError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def retry_delay(
    settings: OneMinClientSettings, attempt_number: int, retry_after: float | None, slept: float
) -> tuple[float, str | None]:
    """
    How long to wait before attempt ``attempt_number + 1``, or why not to make it.

    Exponential backoff from ``backoff_initial`` (capped at ``backoff_max``) with equal jitter; a
    ``Retry-After`` is never cut short, so when it does not fit in what is left of
    ``max_retry_wait`` the request is given up; a plain backoff is shortened to fit instead.

    :return: ``(seconds, None)`` to retry, or ``(0, reason)`` to give up.
    """
    if attempt_number >= settings.max_attempts:
        return 0.0, f"max_attempts={settings.max_attempts} reached"
    remaining = settings.max_retry_wait - slept
    if retry_after is not None and retry_after > remaining:
        return 0.0, (
            f"1min.ai asked to wait {readable_seconds(retry_after)} s (Retry-After), more than the "
            f"{readable_seconds(max(remaining, 0.0))} s left of max_retry_wait={settings.max_retry_wait:g} s"
        )
    if remaining <= 0:
        return 0.0, f"max_retry_wait={settings.max_retry_wait:g} s of waiting spent"
    backoff = min(settings.backoff_max, settings.backoff_initial * 2 ** min(attempt_number - 1, 32))
    delay = backoff / 2 + random.uniform(0, backoff / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, remaining), None


def short_error(error: OneMinError) -> str:
    """One line for a retry warning: the status and the answer's gist, or the error's first sentence."""
    if isinstance(error, OneMinAPIError) and error.summary:
        return f"HTTP {error.status_code}: {error.summary}"
    return str(error).split(". ", 1)[0]


def gave_up(error: OneMinError, what: str, attempts: int, elapsed: float, reason: str) -> OneMinError:
    """
    ``error`` with a first sentence saying how many attempts were made and why they stopped; its
    own message stays in ``error.last_error``.
    """
    plural = "s" if attempts != 1 else ""
    error.last_error = str(error)  # type: ignore[attr-defined]
    error.args = (
        f"{what}: gave up after {attempts} attempt{plural} in {elapsed:.1f} s ({reason}). "
        f"Last error: {error}",
    )
    error.attempts = attempts  # type: ignore[attr-defined]
    return error


def retrying_options(
    settings: OneMinClientSettings, what: str, log: logging.Logger, *, deadline: float | None = None
) -> dict[str, Any]:
    """
    Keyword arguments for tenacity's ``Retrying`` or ``AsyncRetrying``: the policy, in one place.

    Only errors wrapped in :class:`Retryable` are retried; :func:`retry_delay` decides how long to
    wait or why to stop, once per attempt, whatever order tenacity asks in. ``deadline`` (epoch
    seconds, for polls) also ends the retries when the next wait would pass it.
    """
    from tenacity import retry_if_exception_type

    started = time.monotonic()
    decisions: dict[int, tuple[float, str | None]] = {}

    def decide(state: RetryCallState) -> tuple[float, str | None]:
        if state.attempt_number not in decisions:
            retryable = state.outcome.exception() if state.outcome else None
            retry_after = retryable.retry_after if isinstance(retryable, Retryable) else None
            delay, reason = retry_delay(settings, state.attempt_number, retry_after, state.idle_for)
            if reason is None and deadline is not None and time.time() + delay > deadline:
                delay, reason = 0.0, "poll_timeout reached"
            decisions[state.attempt_number] = (delay, reason)
        return decisions[state.attempt_number]

    def before_sleep(state: RetryCallState) -> None:
        retryable = state.outcome.exception() if state.outcome else None
        error = retryable.error if isinstance(retryable, Retryable) else retryable
        log.warning(
            "%s: attempt %d of %d failed (%s); retrying in %.2f s.",
            what,
            state.attempt_number,
            settings.max_attempts,
            short_error(error) if isinstance(error, OneMinError) else error,
            decide(state)[0],
        )

    def give_up(state: RetryCallState) -> NoReturn:
        retryable = state.outcome.exception() if state.outcome else None
        assert isinstance(retryable, Retryable)
        reason = decide(state)[1] or "retries exhausted"
        elapsed = time.monotonic() - started
        raise gave_up(retryable.error, what, state.attempt_number, elapsed, reason) from None

    return {
        "retry": retry_if_exception_type(Retryable),
        "wait": lambda state: decide(state)[0],
        "stop": lambda state: decide(state)[1] is not None,
        "before_sleep": before_sleep,
        "retry_error_callback": give_up,
    }
