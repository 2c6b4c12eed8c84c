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

    Airflow 3 calls :meth:`get_link` on the worker when the task ends and keeps the answer in XCom
    under :attr:`xcom_key` (``_link_OneMinResultLink``); the UI shows that value later, without
    importing this provider on the API server.

    * With ``output_path``: the stored file's URI (``s3://...``, ``file:///...``). It stays valid,
      but only ``http(s)`` URIs open in a browser.
    * Without: 1min.ai's download URL of the first result (its signed ``temporaryUrl`` when the API
      gave one, else the asset URL). It may expire: store results you want to keep.
    * Empty when the task failed before a result existed.
    """

    name = "1min.ai result"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The link the operator recorded while finishing (see the class docstring)."""
        return getattr(operator, "result_link", None) or ""
