"""
How long a deferred task stays deferred at least: a guard against Airflow's stale-deferral race.

When a task defers, its worker process exits, and the executor reports the end of that run to
the scheduler a little later: once the worker's supervisor has noticed the exit (it looks at
least every ``[workers] min_heartbeat_interval``) and the scheduler's next loop has read the
report. If the trigger fires before that, the task is queued again for its resume by the time the
report is read, and the scheduler takes the stale "success" for a task killed from outside and
fails it (apache/airflow#72716, #71580, and the queued variant #67287).

The provider cannot see when the scheduler has read that report. What it can do is not report a
generation's end before the report has had time to arrive: the operator stamps the deferral with
an earliest resume time, and the trigger holds back an event that is ready sooner until then.
Generations that run longer than that cost nothing more; shorter ones resume a little later, with
their worker slot free meanwhile. This lowers the odds and cannot rule the race out: keep
``retries >= 1`` (a retry resumes the same generation; it never pays again).
"""

from __future__ import annotations

import asyncio
import time

#: The worker's supervisor looks at its task process at least this often, in seconds, when
#: ``[workers] min_heartbeat_interval`` cannot be read (Airflow's own default).
_FALLBACK_HEARTBEAT_INTERVAL = 5.0


def default_min_defer_time() -> float:
    """
    Seconds to stay deferred at least, from this worker's Airflow configuration.

    Twice ``[workers] min_heartbeat_interval``: one interval for the supervisor to notice that
    the deferring run exited, and as much again for the executor's report to reach and be read
    by the scheduler's loop (which takes longer on a busy scheduler).
    """
    from airflow.configuration import conf

    try:
        interval = conf.getfloat("workers", "min_heartbeat_interval", fallback=_FALLBACK_HEARTBEAT_INTERVAL)
    except Exception:  # a malformed setting: the supervisor would not start either; keep the default
        interval = _FALLBACK_HEARTBEAT_INTERVAL
    return 2 * max(interval, 0.0)


def resolve_min_defer_time(min_defer_time: float | None) -> float:
    """
    The operator's ``min_defer_time`` in seconds. None means :func:`default_min_defer_time`, or 0
    under ``dag.test()`` / ``airflow dags test``, where the task and its trigger run inline in one
    process and no executor reports anything late.

    :raises ValueError: a negative or non-numeric value.
    """
    if min_defer_time is None:
        return 0.0 if _runs_in_one_process() else default_min_defer_time()
    try:
        seconds = float(min_defer_time)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:  # also refuses NaN
        raise ValueError(f"min_defer_time must be a number of seconds >= 0, not {min_defer_time!r}")
    return seconds


def _runs_in_one_process() -> bool:
    """True when this task runs under ``dag.test()`` (an in-process supervisor, no executor)."""
    try:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms
    except ImportError:
        return False
    return isinstance(getattr(task_runner, "SUPERVISOR_COMMS", None), InProcessSupervisorComms)


async def hold_until(not_before: float | None, longest: float) -> float:
    """
    Sleep until ``not_before`` (epoch seconds) when it is still ahead, but never longer than
    ``longest`` seconds (the worker that set it may have another clock); return the seconds held.
    """
    if not_before is None:
        return 0.0
    held = min(not_before - time.time(), longest)
    if held <= 0:
        return 0.0
    await asyncio.sleep(held)
    return held
