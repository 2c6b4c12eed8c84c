"""Operator extra link: open the result of a Background Replacer task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


def result_link(ti: Any, stored_paths: Sequence[str], api_urls: Iterable[str | None]) -> str | None:
    """
    Where "1min.ai result" points for a task instance that finished its generation.

    * Something stored, Airflow 3.1+: the results viewer's page of this task instance, an
      ``http(s)`` URL under ``[api] base_url`` (or a same-origin path when it is unset). The UI
      renders both, whatever the storage scheme (``file://``, ``s3://``...).
    * Something stored, Airflow 3.0 (no viewer there): the first stored file's URI, which the UI
      shows only when it is ``http(s)``.
    * Nothing stored: 1min.ai's asset URL of the first result, never a signed link (the value is
      kept in XCom, and a signature is a credential).

    :param ti: the running task instance (``dag_id``, ``run_id``, ``task_id``, ``map_index``).
    :param stored_paths: the stored files' URIs, in result order.
    :param api_urls: 1min.ai's URLs of the results, without signatures.
    """
    if stored_paths:
        from airflow_provider_onemin.compat import plugin_pages_supported
        from airflow_provider_onemin.viewer import viewer_url

        if not plugin_pages_supported():
            return stored_paths[0]
        map_index = getattr(ti, "map_index", None)
        return viewer_url(ti.dag_id, ti.run_id, ti.task_id, map_index if isinstance(map_index, int) else None)
    return next((url for url in api_urls if url), None)


class OneMinResultLink(BaseOperatorLink):
    """
    "1min.ai result": the results viewer's page when results were stored, else 1min.ai's URL.

    Airflow 3 calls :meth:`get_link` on the worker when the task ends and keeps the answer in XCom
    under :attr:`xcom_key` (``_link_OneMinResultLink``); the UI shows that value later, without
    importing this provider on the API server. See :func:`result_link` for what it points at.
    Empty when the task failed before a result existed.
    """

    name = "1min.ai result"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The link the operator recorded while finishing (see the class docstring)."""
        return getattr(operator, "result_link", None) or ""
