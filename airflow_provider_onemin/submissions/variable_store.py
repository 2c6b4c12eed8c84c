"""
Submission records in Airflow Variables, for Airflow minors without the task state store (3.0-3.2).

Variables live in the metadata database: every worker sees them and they survive retries, which
is what the paid-call rules need. They come with traps, each handled here:

* Before 3.3 a ``Variable.set`` that the API server refused is only logged, and a secrets backend
  holding the same key silently wins over the database. So every write is read back and compared:
  a record that did not stick raises :class:`OneMinSubmissionStoreError` *before* anything is paid.
* Keys are at most 250 characters and 3.0 refuses ``/`` in them, while DAG, task and run ids may
  carry both. The key is a SHA-256 of the task instance's identity and the record's name; the
  readable identity goes into the Variable's description.
* Variables are never cleaned up by Airflow. The record is deleted once the task succeeded (so
  clearing a succeeded task pays again on these minors) or once nothing runs any more (a refused
  request, a failed generation). What stays is a record a person must look at: a generation
  that may have been charged and whose task failed. docs/compatibility.md says how to list them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

from airflow_provider_onemin.exceptions import OneMinSubmissionStoreError

log = logging.getLogger(__name__)


class VariableSubmissionStore:
    """
    A task instance's records, one Airflow Variable each (JSON), verified after every write.

    :param dag_id: the task instance's DAG.
    :param task_id: its task.
    :param run_id: its DAG run.
    :param map_index: its map index (-1 when not mapped).
    """

    #: Airflow never cleans Variables up: the ledger drops the record once the task succeeded.
    keeps_record_after_success = False

    def __init__(self, *, dag_id: str, task_id: str, run_id: str, map_index: int = -1) -> None:
        self._identity = (dag_id, task_id, run_id, map_index)

    @classmethod
    def for_task_instance(cls, ti: Any) -> VariableSubmissionStore:
        map_index = getattr(ti, "map_index", -1)
        return cls(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=map_index if isinstance(map_index, int) else -1,
        )

    def variable_key(self, key: str) -> str:
        """
        The Variable holding ``key``: ``<key>__<sha256 of the task instance and key>``, at most
        106 characters of letters, digits, ``_``, ``.`` and ``-``.
        """
        digest = hashlib.sha256(json.dumps([*self._identity, key]).encode()).hexdigest()
        readable = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:40]
        return f"{readable}__{digest}"

    def describe(self, key: str) -> str:
        """Where the record is, for a person who has to look at it or delete it."""
        return f"the Airflow Variable {self.variable_key(key)!r}"

    def release_hint(self, key: str) -> str:
        """What the ledger tells a person to delete to release this task instance."""
        return f"its Airflow Variable (airflow variables delete {self.variable_key(key)})"

    def _description(self, key: str) -> str:
        dag_id, task_id, run_id, map_index = self._identity
        return (
            f"1min.ai submission record {key!r} of dag_id={dag_id} task_id={task_id} run_id={run_id} "
            f"map_index={map_index}. Deleting it lets the next try pay for a new generation."
        )

    def _read(self, variable_key: str) -> Any:
        from airflow.sdk import Variable

        try:
            return Variable.get(variable_key, default=None, deserialize_json=True)
        except ValueError as error:  # not JSON: someone else's value under our key
            raise OneMinSubmissionStoreError(
                f"{variable_key!r} does not hold a submission record ({error}); refusing to guess."
            ) from None

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._read(self.variable_key(key))
        if value is None:
            return None
        if not isinstance(value, dict):
            raise OneMinSubmissionStoreError(
                f"{self.describe(key)} holds {type(value).__name__}, not a submission record; "
                "refusing to guess."
            )
        return value

    def set(self, key: str, value: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        variable_key = self.variable_key(key)
        expected = json.loads(json.dumps(value))
        try:
            Variable.set(variable_key, expected, description=self._description(key), serialize_json=True)
        except Exception as error:  # 3.3 raises; older minors only log (hence the read-back)
            raise OneMinSubmissionStoreError(
                f"Could not save {self.describe(key)}: {type(error).__name__}: {error}"
            ) from error
        stored = self._read(variable_key)
        if stored != expected:
            raise OneMinSubmissionStoreError(
                f"Saving {self.describe(key)} did not stick: reading it back gave "
                f"{'nothing' if stored is None else 'another value'}. Airflow logs why just above (the "
                "API server refused it, or a secrets backend defines the same key and wins over the "
                "database). Nothing was sent to 1min.ai on the strength of it."
            )

    def delete(self, key: str) -> None:
        from airflow.sdk import Variable

        variable_key = self.variable_key(key)
        try:
            Variable.delete(variable_key)
        except Exception as error:  # a stale record only means a resume later, never a payment
            log.warning("Could not delete %s: %s", self.describe(key), error)
            return
        if self._read(variable_key) is not None:
            log.warning(
                "%s is still there after deleting it; delete it by hand (airflow variables delete %s).",
                self.describe(key),
                variable_key,
            )
