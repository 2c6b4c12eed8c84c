"""
Fault rows end to end: one real DAG run (``dag.test()``, real task state store, real Airflow
retries) against the emulator, with its charge counter as the judge.

How the interruptions are staged: ``dag.test()`` runs every task in the test process, so a real
``kill -9`` of the worker would kill the test too. What a killed worker leaves behind is what
matters here: the task state store as it was at that instant, and a try that ended without a
final error, so Airflow schedules the next try of the same task instance. An operator subclass
reproduces exactly that by raising an ordinary (non-final) exception at the chosen instant:

* ``crash_after_uuid``: try 1 raises right after ``_submit`` saved the uuid; try 2 must resume
  from the task state store, poll the same generation and pay nothing more (one charge).
* ``crash_before_uuid``: try 1 raises after 1min.ai accepted (and charged) the request but before
  the uuid was saved; try 2 finds only the intent and must fail with an unknown outcome rather
  than pay again (at most one charge). Also with a seed that renders differently on each try.
* ``random_seed_deferred``: deferrable, a seed that renders differently on each try; try 1 raises
  right after the uuid was saved; try 2 polls that generation to its end in the triggerer and
  only then pays for its own request (two charges, the second after the first ended).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import run_dag

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat

START = datetime(2026, 1, 1)
#: Renders differently on (almost) every try, as a template with random() or now() does.
RANDOM_SEED = "{{ range(0, 99999) | random }}"
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "max_retry_wait": 2, "poll_interval": 0.05}

#: The emulator the staged operators inject their faults into (same process as dag.test()).
_EMULATOR: Any = None


class StagedOperator(BackgroundReplacerOperator):
    """Queues ``faults_on_first_try`` on the emulator when try 1 starts; remembers the try number."""

    def __init__(self, *, faults_on_first_try: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults_on_first_try = faults_on_first_try or []
        self.try_number = 0

    def execute(self, context: Any) -> list[str]:
        self.try_number = context["ti"].try_number
        if self.try_number == 1:
            for fault in self.faults_on_first_try:
                _EMULATOR.add_fault(**fault)
        return super().execute(context)

    def execute_complete(self, context: Any, event: Any = None) -> list[str]:
        self.try_number = context["ti"].try_number
        return super().execute_complete(context, event)


class CrashAfterUuidSaved(StagedOperator):
    def _submit(self, ledger: Any, body: dict[str, Any]) -> dict[str, Any]:
        record = super()._submit(ledger, body)
        if self.try_number == 1:
            raise RuntimeError("staged worker crash: the uuid is saved, the result never polled")
        return record


class CrashBeforeUuidSaved(StagedOperator):
    def execute(self, context: Any) -> list[str]:
        if context["ti"].try_number == 1:
            submit = self.hook.run_feature

            def submit_then_crash(body: dict[str, Any]) -> dict[str, Any]:
                submit(body)  # 1min.ai accepts and charges the generation...
                raise RuntimeError("staged worker crash: charged, but the uuid was never saved")

            self.hook.run_feature = submit_then_crash  # type: ignore[method-assign]
        return super().execute(context)


def _charged(prompt: str) -> int:
    return sum(1 for g in _EMULATOR.records if g.prompt == prompt and g.charged)


@pytest.mark.e2e
def test_interrupted_and_faulty_tasks_end_classified_and_pay_at_most_once(
    airflow_db, onemin_emulator, monkeypatch
):
    global _EMULATOR
    _EMULATOR = onemin_emulator
    conn = {
        "conn_type": "onemin",
        "host": onemin_emulator.url,
        "password": onemin_emulator.api_key,
        "extra": FAST,
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    common = {"image_url": "development/images/mug.png", "retries": 1, "retry_delay": timedelta(0)}

    with DAG(dag_id="reliability_fault_rows", schedule=None, start_date=START) as dag:
        CrashAfterUuidSaved(task_id="crash_after_uuid", prompt="resume: a harbour at dusk", **common)
        CrashBeforeUuidSaved(task_id="crash_before_uuid", prompt="intent only: a snowy cabin", **common)
        CrashBeforeUuidSaved(
            task_id="crash_before_uuid_random_seed",
            prompt="intent only, random seed: a foggy pier",
            seed=RANDOM_SEED,
            **common,
        )
        CrashAfterUuidSaved(
            task_id="random_seed_deferred",
            prompt="deferred, random seed: a lighthouse",
            seed=RANDOM_SEED,
            deferrable=True,
            poll_interval=0.05,
            **common,
        )
        StagedOperator(
            task_id="server_error_502",
            prompt="unknown: a desert road",
            faults_on_first_try=[{"kind": "status", "code": 502}],
            **{**common, "retries": 3},
        )
        StagedOperator(
            task_id="rate_limited_then_ok",
            prompt="rate limited: a green meadow",
            faults_on_first_try=[{"kind": "status", "count": 2, "code": 429}],
            **common,
        )
        StagedOperator(
            task_id="reset_while_polling",
            prompt="poll reset: a city rooftop",
            faults_on_first_try=[{"kind": "reset_after_charge", "endpoint": "results"}],
            **common,
        )

    result = run_dag(dag)

    resumed = result.task("crash_after_uuid")
    assert resumed.state == "success"
    assert resumed.try_number == 2, "try 1 was staged to crash"
    assert _charged("resume: a harbour at dusk") == 1, "try 2 must resume, not pay again"
    (record,) = [g for g in onemin_emulator.records if g.prompt == "resume: a harbour at dusk"]
    assert resumed.xcom["ai_record_uuid"] == record.uuid
    assert resumed.xcom["return_value"] == record.result_keys

    intent_only = result.task("crash_before_uuid")
    assert intent_only.state == "failed"
    assert intent_only.try_number == 2, "try 2 ran and refused to pay again"
    assert _charged("intent only: a snowy cabin") <= 1
    assert len([g for g in onemin_emulator.records if g.prompt == "intent only: a snowy cabin"]) == 1

    # Failed before the fix: try 2's request looked new, so it was paid for again (two charges).
    intent_random = result.task("crash_before_uuid_random_seed")
    assert (intent_random.state, intent_random.try_number) == ("failed", 2)
    assert (
        len([g for g in onemin_emulator.records if g.prompt == "intent only, random seed: a foggy pier"]) == 1
    )

    deferred = result.task("random_seed_deferred")
    assert (deferred.state, deferred.try_number) == ("success", 2)
    first, second = [g for g in onemin_emulator.records if g.prompt == "deferred, random seed: a lighthouse"]
    assert first.charged and second.charged, "the earlier generation ended; the new request is paid"
    assert deferred.xcom["ai_record_uuid"] == second.uuid
    assert second.seed != first.seed

    unknown = result.task("server_error_502")
    assert unknown.state == "failed"
    assert unknown.try_number == 1, "an unknown outcome is final: no Airflow retry may pay again"
    assert _charged("unknown: a desert road") == 0

    for task_id, prompt in (
        ("rate_limited_then_ok", "rate limited: a green meadow"),
        ("reset_while_polling", "poll reset: a city rooftop"),
    ):
        ti = result.task(task_id)
        assert (ti.state, ti.try_number) == ("success", 1), task_id
        assert _charged(prompt) == 1, task_id

    assert onemin_emulator.charges() == 7
    assert onemin_emulator.faults == []
