"""Operator extra link: open the result of a Background Replacer task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


class OneMinResultLink(BaseOperatorLink):
    """
    "1min.ai result": the first stored file when results were stored, else the first result's URL.

    The result URL comes from 1min.ai and may expire; a stored file stays where it was written.
    Airflow calls :meth:`get_link` on the worker when the task ends and keeps the answer in XCom
    under :attr:`xcom_key`, which is what the UI shows later.
    """

    name = "1min.ai result"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return getattr(operator, "result_link", None) or ""
