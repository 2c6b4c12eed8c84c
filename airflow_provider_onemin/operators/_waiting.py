"""
Waiting for a paid generation to end, for
:class:`~airflow_provider_onemin.operators.base_generation.OneMinGenerationOperator`: polling on
the worker, or deferring to the triggerer and reading the trigger's event when the task resumes.

Waiting is free and decides nothing: it hands the operator the generation's last record, and the
operator's ledger decides what that record allows (deliver, fail, or pay for this try's request).
Imported only by a running task, never when a DAG file builds the operator. It takes the operator
as ``Any``: importing its class here, even for type checking, would be an import circle.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from airflow_provider_onemin.exceptions import OneMinTimeoutError
    from airflow_provider_onemin.submissions.ledger import SubmissionLedger

__all__ = ["defer_to_trigger", "ended_record", "wait_for_end"]


def wait_for_end(operator: Any, ledger: SubmissionLedger, uuid: str) -> dict[str, Any]:
    """
    Poll ``uuid`` to its end (in the triggerer when the operator is deferrable) and return its last record.

    :param operator: the task's operator (its hook, its deferral and polling settings).
    :param ledger: the task instance's submission record (it judges a generation 1min.ai forgot).
    :param uuid: the generation to wait for.
    """
    from airflow_provider_onemin.exceptions import OneMinRecordMissingError

    if operator.deferrable:
        operator._defer(uuid)
    try:
        return operator.hook.wait_for_end(
            uuid, poll_interval=operator.poll_interval, timeout=operator.poll_timeout
        )
    except OneMinRecordMissingError as missing:
        ledger.generation_missing(missing)


def defer_to_trigger(operator: Any, uuid: str) -> NoReturn:
    """
    Defer the task to the trigger that polls ``uuid`` in the triggerer; it resumes in
    ``execute_complete`` with the request's key (the key at submission, not one built anew).

    :param operator: the task's operator.
    :param uuid: the generation the trigger polls (it never submits).
    """
    from airflow_provider_onemin.triggers.background_replacer import OneMinResultTrigger
    from airflow_provider_onemin.triggers.deferral import resolve_min_defer_time

    settings = operator.hook.settings
    poll_interval = settings.poll_interval if operator.poll_interval is None else operator.poll_interval
    poll_timeout = settings.poll_timeout if operator.poll_timeout is None else operator.poll_timeout
    operator.log.info("Deferring: the triggerer polls generation %s every %.1f s.", uuid, poll_interval)
    operator.defer(
        trigger=OneMinResultTrigger(
            uuid=uuid,
            onemin_conn_id=operator.onemin_conn_id,
            poll_interval=poll_interval,
            timeout=poll_timeout,
            min_defer_time=resolve_min_defer_time(operator.min_defer_time),
        ),
        method_name="execute_complete",
        kwargs={"reuse_key": dataclasses.asdict(operator.reuse_key)} if operator.reuse_key else None,
    )


def ended_record(operator: Any, ledger: SubmissionLedger, event: dict[str, Any] | None) -> dict[str, Any]:
    """
    The last record of the generation the trigger's ``event`` says has ended.

    A generation 1min.ai no longer knows is judged by the ledger (an earlier try's fails closed);
    a timeout raises a retryable error unless the generation has ended since.

    :param operator: the task's operator (its hook, for one free look after a timeout).
    :param ledger: the task instance's submission record.
    :param event: the trigger's event, as ``execute_complete`` received it.
    """
    from airflow_provider_onemin.exceptions import OneMinRecordMissingError, OneMinTimeoutError
    from airflow_provider_onemin.triggers.background_replacer import ended_record_from_event

    try:
        return ended_record_from_event(event or {})
    except OneMinRecordMissingError as missing:
        ledger.generation_missing(missing)
    except OneMinTimeoutError as timeout:
        # Airflow 3.0 hands every retry this same event (its next_method outlives the failed
        # try), so the retry would never resume: one free look at the generation first.
        return _ended_after_timeout(operator, timeout)


def _ended_after_timeout(operator: Any, timeout: OneMinTimeoutError) -> dict[str, Any]:
    """The generation's record if it has ended since the wait timed out; else the timeout."""
    from airflow_provider_onemin.hooks.records import generation_state

    record = operator.hook.get_result(timeout.uuid) if timeout.uuid else None
    if record is None or generation_state(record) == "pending":
        raise timeout
    return record
