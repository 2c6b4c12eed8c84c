"""
How long to wait before the next attempt of a request, or why to stop, and how to say so.

The hook runs its attempts on tenacity; these functions are the policy it applies: exponential
backoff with jitter, a ``Retry-After`` never cut short, a cap on attempts and on the total time
slept.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from airflow_provider_onemin.exceptions import OneMinAPIError, OneMinError
from airflow_provider_onemin.hooks.answers import readable_seconds

if TYPE_CHECKING:
    from airflow_provider_onemin.hooks.client_settings import OneMinClientSettings

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
    """``error`` with a first sentence saying how many attempts were made and why they stopped."""
    plural = "s" if attempts != 1 else ""
    error.args = (
        f"{what}: gave up after {attempts} attempt{plural} in {elapsed:.1f} s ({reason}). "
        f"Last error: {error}",
    )
    error.attempts = attempts  # type: ignore[attr-defined]
    return error
