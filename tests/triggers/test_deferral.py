"""
The guard against Airflow's stale-deferral race: a deferred task stays deferred at least
``min_defer_time`` seconds, so the scheduler reads the end of the deferring run before the trigger
reports the generation's end (apache/airflow#72716). How often Airflow still fails a task with and
without it is measured by ``benchmarks/bench_race.py``; these tests check the mechanism.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
import time
from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_onemin.compat import TaskDeferred
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from airflow_provider_onemin.triggers import deferral
from airflow_provider_onemin.triggers.background_replacer import OneMinResultTrigger
from tests.support.airflow_helpers import serde

#: Runs on every older Airflow minor in the CI matrix (.ci/legs/30-airflow-matrix.sh): 3.0 and 3.1
#: lack Airflow's own stale-deferral guard, so this one matters most there.
pytestmark = pytest.mark.compat

BODY = {
    "type": "BACKGROUND_REPLACER",
    "model": "ideogram-3",
    "async": True,
    "promptObject": {"prompt": "a beach at dawn", "imageUrl": "development/images/mug.png", "num_images": 1},
}


def _first_event(trigger: OneMinResultTrigger) -> tuple[dict[str, Any], float]:
    """The trigger's first event and the wall-clock time it was yielded."""

    async def first() -> tuple[dict[str, Any], float]:
        async for event in trigger.run():
            return event.payload, time.time()
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(first(), 60))


def _finished_generation(emulator: Any) -> str:
    from airflow_provider_onemin.hooks.onemin import OneMinHook

    uuid = OneMinHook().run_feature(dict(BODY))["uuid"]
    assert emulator.record(uuid).status == "SUCCESS"  # zero latency: done at once
    return uuid


def test_an_end_seen_sooner_is_held_until_the_guard_ends(onemin_conn_env, onemin_emulator):
    uuid = _finished_generation(onemin_emulator)
    trigger = OneMinResultTrigger(uuid, poll_interval=0.05, min_defer_time=1.5)
    not_before = trigger.not_before
    assert not_before is not None

    payload, sent_at = _first_event(trigger)

    assert payload["status"] == "success"
    assert sent_at >= not_before  # a lower bound: a loaded machine can only make it later
    assert onemin_emulator.charges() == 1


def test_no_hold_without_the_guard(onemin_conn_env, onemin_emulator, monkeypatch):
    uuid = _finished_generation(onemin_emulator)
    holds: list[float | None] = []
    real_hold = deferral.hold_until

    async def recording_hold(not_before: float | None, longest: float) -> float:
        holds.append(not_before)
        return await real_hold(not_before, longest)

    monkeypatch.setattr("airflow_provider_onemin.triggers.background_replacer.hold_until", recording_hold)
    trigger = OneMinResultTrigger(uuid, poll_interval=0.05, min_defer_time=0)
    assert trigger.not_before is None
    assert _first_event(trigger)[0]["status"] == "success"
    assert holds == [None]


def test_a_triggerer_restart_keeps_the_same_end_of_the_guard():
    serialize, deserialize = serde()
    trigger = OneMinResultTrigger("u-1", min_defer_time=10)
    classpath, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    time.sleep(0.01)
    module, _, name = classpath.rpartition(".")
    again = getattr(importlib.import_module(module), name)(**deserialize(serialize(kwargs)))
    assert again.not_before == trigger.not_before
    assert again.min_defer_time == 10


def test_a_trigger_row_from_before_the_guard_still_loads():
    # Rows written by the previous release have neither key: no hold, as before.
    old = OneMinResultTrigger("u-1", poll_interval=5, timeout=60, deadline=time.time() + 60)
    assert (old.min_defer_time, old.not_before) == (0.0, None)


def test_the_hold_is_never_longer_than_min_defer_time(monkeypatch):
    # A worker whose clock runs ahead of the triggerer's must not stretch the hold.
    slept: list[float] = []
    real_sleep, this_thread = asyncio.sleep, threading.get_ident()

    async def fake_sleep(seconds: float, *args: Any, **kwargs: Any) -> Any:
        # asyncio.sleep is patched for the whole process: an event loop of another thread (Airflow's
        # in-process execution API, kept between tests) must keep sleeping for real, or it spins.
        if threading.get_ident() != this_thread:
            return await real_sleep(seconds, *args, **kwargs)
        slept.append(seconds)
        return None

    monkeypatch.setattr(deferral.asyncio, "sleep", fake_sleep)
    held = asyncio.run(deferral.hold_until(time.time() + 3600, longest=10))
    assert held == 10
    assert slept == [10]
    assert asyncio.run(deferral.hold_until(time.time() - 1, longest=10)) == 0
    assert asyncio.run(deferral.hold_until(None, longest=10)) == 0
    assert slept == [10]


def _deferred_trigger(operator: BackgroundReplacerOperator) -> OneMinResultTrigger:
    with pytest.raises(TaskDeferred) as caught:
        operator._defer("u-1")
    trigger = caught.value.trigger
    assert isinstance(trigger, OneMinResultTrigger)
    return trigger


def _operator(**kwargs: Any) -> BackgroundReplacerOperator:
    with DAG(dag_id="guard", schedule=None, start_date=datetime(2026, 1, 1)):
        return BackgroundReplacerOperator(
            task_id="replace",
            prompt="a beach",
            image_url="development/images/mug.png",
            deferrable=True,
            **kwargs,
        )


def test_default_guard_is_twice_the_workers_heartbeat_interval(onemin_conn_env, monkeypatch):
    monkeypatch.setenv("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", "3")
    trigger = _deferred_trigger(_operator())
    assert trigger.min_defer_time == 6
    assert trigger.not_before == pytest.approx(time.time() + 6, abs=5)


def test_min_defer_time_is_passed_on_and_zero_turns_the_guard_off(onemin_conn_env):
    assert _deferred_trigger(_operator(min_defer_time=2.5)).min_defer_time == 2.5
    off = _deferred_trigger(_operator(min_defer_time=0))
    assert (off.min_defer_time, off.not_before) == (0.0, None)


def test_no_guard_when_the_task_runs_inline(monkeypatch):
    # dag.test() / `airflow dags test`: one process, no executor to report anything late.
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms

    monkeypatch.setattr(
        task_runner, "SUPERVISOR_COMMS", object.__new__(InProcessSupervisorComms), raising=False
    )
    assert deferral.resolve_min_defer_time(None) == 0
    assert deferral.resolve_min_defer_time(4) == 4


@pytest.mark.parametrize("bad", [-1, "soon", float("nan")])
def test_a_bad_min_defer_time_fails_the_dag_import(bad):
    with pytest.raises(ValueError, match="min_defer_time"):
        _operator(min_defer_time=bad)
