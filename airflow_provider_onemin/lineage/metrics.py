"""
What the pipelines spend, counted through Airflow's own metrics client.

Airflow sends these wherever the deployment sends its own metrics (StatsD, Datadog or
OpenTelemetry, as ``[metrics]`` configures it), under its ``statsd_prefix`` (``airflow`` by
default). Plain StatsD drops tags, so the model is part of each name::

    onemin.<model>.submitted        counter  paid requests sent (each may be charged)
    onemin.<model>.succeeded        counter  generations that ended with their images
    onemin.<model>.failed           counter  generations refused or ended in failure
    onemin.<model>.unknown_outcome  counter  requests whose outcome is unknown (may be charged)
    onemin.<model>.reused           counter  generations served from earlier results, unpaid
    onemin.<model>.images_paid      counter  images of succeeded paid generations
    onemin.<model>.images_reused    counter  images served from earlier results
    onemin.<model>.credits_spent    counter  credits succeeded paid generations cost (as reported)
    onemin.<model>.credits_unknown  counter  succeeded paid generations whose cost was not reported
    onemin.<model>.render_duration  timer    from submission to success (ms)
    onemin.<model>.store_duration   timer    downloading and storing the results (ms)

The render time starts at the submission time kept in the submission record, not in memory: a
deferred task submits on one worker and resumes in another process, maybe on another machine.

A metric is never worth a failed task: an error while emitting one is logged and swallowed, so a
generation that was paid for is never retried because of a metrics backend.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

#: First part of every metric name (after the deployment's own ``statsd_prefix``).
NAMESPACE = "onemin"
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")


@cache
def _stats() -> Any:
    """Airflow's metrics client, from where this Airflow minor keeps it."""
    try:
        # Airflow 3.2+ (the task SDK); the old location still works there but warns.
        from airflow.sdk.observability.stats import Stats
    except ImportError:
        # Airflow 3.0 and 3.1.
        from airflow.stats import Stats
    return Stats


def metric_name(model: str, event: str) -> str:
    """
    The name of ``event``'s metric for ``model``: ``onemin.<model>.<event>``.

    :param model: the model name; characters a metric name cannot hold (``.`` included, which would
        add a level to the StatsD hierarchy) become ``_``.
    :param event: the metric's last part, ``submitted``, ``render_duration``...
    """
    return f"{NAMESPACE}.{_NOT_IN_NAME.sub('_', model) or '_'}.{event}"


def _incr(model: str, event: str, count: int = 1) -> None:
    if count <= 0:
        return
    name = metric_name(model, event)
    try:
        _stats().incr(name, count)
    except Exception:
        log.warning("Could not emit metric %s", name, exc_info=True)


def _timing(model: str, event: str, elapsed: timedelta) -> None:
    name = metric_name(model, event)
    try:
        _stats().timing(name, max(elapsed, timedelta(0)))
    except Exception:
        log.warning("Could not emit metric %s", name, exc_info=True)


def generation_submitted(model: str) -> None:
    """A paid request was sent: count it whatever its answer, it may have been charged."""
    _incr(model, "submitted")


def generation_succeeded(model: str, images: int) -> None:
    """
    A paid generation ended with its images.

    :param model: the model.
    :param images: how many images it returned (counted as paid for).
    """
    _incr(model, "succeeded")
    _incr(model, "images_paid", images)


def credits_spent(model: str, credits: float | None) -> None:
    """
    What a succeeded paid generation cost, as 1min.ai reported it (``metadata.credit``).

    :param model: the model.
    :param credits: the credits, rounded to a whole number (a StatsD counter counts integers);
        ``None`` when 1min.ai did not report them: ``credits_unknown`` counts the generation
        instead, so a dashboard can tell an incomplete sum from a small one.
    """
    if credits is None:
        _incr(model, "credits_unknown")
    else:
        _incr(model, "credits_spent", round(credits))


def generation_failed(model: str) -> None:
    """A generation was refused or ended in failure."""
    _incr(model, "failed")


def generation_unknown_outcome(model: str) -> None:
    """A request ended without knowing whether 1min.ai processed (and charged) it."""
    _incr(model, "unknown_outcome")


def generation_reused(model: str, images: int) -> None:
    """
    Earlier results were served instead of paying for a new generation.

    :param model: the model.
    :param images: how many images were reused.
    """
    _incr(model, "reused")
    _incr(model, "images_reused", images)


def _as_datetime(moment: datetime | str) -> datetime:
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def render_time(model: str, submitted_at: datetime | str | None, *, now: datetime | None = None) -> None:
    """
    Time from the submission to now, when the generation is seen to have succeeded.

    :param model: the model.
    :param submitted_at: the submission time from the submission record (ISO 8601 text or a
        datetime; naive means UTC). Nothing is emitted without it.
    :param now: the end of the interval (default: now).
    """
    if not submitted_at:
        return
    try:
        start = _as_datetime(submitted_at)
    except (TypeError, ValueError):
        log.warning("Submission time %r is not ISO 8601: no render time metric.", submitted_at)
        return
    _timing(model, "render_duration", (now or datetime.now(timezone.utc)) - start)


def store_time(model: str, elapsed: timedelta | float) -> None:
    """
    Time spent downloading and storing the results.

    :param model: the model.
    :param elapsed: the duration, as a timedelta or in seconds.
    """
    _timing(
        model, "store_duration", elapsed if isinstance(elapsed, timedelta) else timedelta(seconds=elapsed)
    )


@contextmanager
def storing(model: str) -> Iterator[None]:
    """Time the block (downloading and storing the results) as :func:`store_time`, if it succeeds."""
    started = time.monotonic()
    yield
    store_time(model, time.monotonic() - started)
