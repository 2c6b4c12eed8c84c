"""
Where a task instance's submission record lives (:mod:`.ledger` decides what it says): Airflow's
task state store on 3.3+ (:class:`TaskStateStore`), Airflow Variables before
(:mod:`.variable_store`). :func:`submission_store` is the one place that picks it;
:func:`release_after_success` drops the record where Airflow never cleans it up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Key of the record in the store; per task instance and map index, never per try.
STATE_KEY = "onemin_submission"


class SubmissionStore(Protocol):
    """Where the ledger keeps its record: JSON dicts by key."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any]) -> None: ...

    def delete(self, key: str) -> None: ...


class TaskStateStore:
    """
    :class:`SubmissionStore` over Airflow 3.3's ``task_state_store``: survives retries and
    clears of the task instance, kept with retention ``NEVER_EXPIRE``.

    :param store: the context's ``task_state_store``.
    """

    def __init__(self, store: Any) -> None:
        self._store = store

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._store.get(key)
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        from airflow.sdk.execution_time.context import NEVER_EXPIRE

        self._store.set(key, value, retention=NEVER_EXPIRE)

    def delete(self, key: str) -> None:
        self._store.delete(key)


def submission_store(context: Mapping[str, Any]) -> SubmissionStore | None:
    """
    The store of this task instance's submission record, or None when there is none.

    The one place that picks it: the context's ``task_state_store`` where Airflow has one (3.3+),
    else Airflow Variables (:mod:`~airflow_provider_onemin.submissions.variable_store`), which also survive
    retries and are shared by every worker. None only outside a task instance.
    """
    store = context.get("task_state_store")
    if store is not None:
        return TaskStateStore(store)
    if context.get("ti") is None:
        return None
    from airflow_provider_onemin.submissions.variable_store import VariableSubmissionStore

    return VariableSubmissionStore.for_task_instance(context["ti"])


def release_after_success(context: Mapping[str, Any]) -> None:
    """
    Airflow recorded the task's success: drop the record where Airflow never cleans it up.

    The task state store (3.3+) keeps it until its DAG run goes, so clearing a succeeded task
    resumes its generation for free. Variables (3.0-3.2) are never cleaned, so the record goes
    now, after the success is recorded (a worker lost before that still resumes): clearing a
    succeeded task then pays for a new generation.
    """
    store = submission_store(context)
    if store is not None and not getattr(store, "keeps_record_after_success", True):
        store.delete(STATE_KEY)


def with_record_release(callbacks: Any) -> list[Any]:
    """The operator's ``on_success_callback``: the user's callbacks, then :func:`release_after_success`."""
    if callbacks is None:
        callbacks = []
    elif not isinstance(callbacks, list):
        callbacks = [callbacks]
    return [c for c in callbacks if c is not release_after_success] + [release_after_success]
