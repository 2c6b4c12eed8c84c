"""
The Airflow plugin that brings the results viewer with the provider.

Registered through the ``airflow.plugins`` entry point (``pyproject.toml``), so installing the
provider is enough: nothing to copy into ``plugins/``. Every Airflow process loads plugins, so
this module stays light: the FastAPI app is built only when the api-server asks for it.

From Airflow 3.1 the plugin also adds a "1min.ai results" tab to the DAG run and task instance
pages (``external_views``: the UI shows the viewer's page in a frame, with its session cookie).
It also makes the connection list's *Test* button work for 1min.ai connections (a root middleware,
:mod:`~airflow_provider_onemin.viewer.connection_test`). On Airflow 3.0 the viewer is not registered (see
:func:`~airflow_provider_onemin.compat.plugin_pages_supported`).
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_onemin.compat import plugin_pages_supported
from airflow_provider_onemin.viewer import URL_PREFIX
from airflow_provider_onemin.viewer.connection_test import HiddenPortConnectionTestMiddleware

_TAB_NAME = "1min.ai results"


def _base_path() -> str:
    """The path part of ``[api] base_url`` (an api-server behind a proxy under a prefix)."""
    from urllib.parse import urlsplit

    from airflow.configuration import conf

    base_url = conf.get("api", "base_url", fallback="") or ""
    return urlsplit(base_url).path.rstrip("/") if "://" in base_url else base_url.rstrip("/")


def external_views() -> list[dict[str, Any]]:
    """The tabs on the DAG run and task instance pages (the UI fills in the ids)."""
    root = _base_path() + URL_PREFIX
    return [
        {
            "name": _TAB_NAME,
            "href": root + "/dags/{DAG_ID}/runs/{RUN_ID}?embed=true",
            "destination": "dag_run",
            "url_route": "onemin_results_run",
        },
        {
            "name": _TAB_NAME,
            "href": root + "/dags/{DAG_ID}/runs/{RUN_ID}/tasks/{TASK_ID}?map_index={MAP_INDEX}&embed=true",
            "destination": "task_instance",
            "url_route": "onemin_results_task_instance",
        },
    ]


class OneMinViewerPlugin(AirflowPlugin):
    """The 1min.ai results viewer: a page of the stored images of a task instance or a DAG run."""

    name = "onemin_results_viewer"
    #: The connection list's Test button for 1min.ai connections (see viewer/connection_test.py).
    fastapi_root_middlewares = [
        {
            "middleware": HiddenPortConnectionTestMiddleware,
            "args": [],
            "kwargs": {},
            "name": "1min.ai connection test: drop the hidden port",
        }
    ]

    def __init__(self) -> None:
        super().__init__()
        self._apps: list[dict[str, Any]] | None = None
        self.external_views = external_views() if plugin_pages_supported() else []

    @property  # type: ignore[override]
    def fastapi_apps(self) -> list[dict[str, Any]]:
        """The viewer app, built on first use (only the api-server mounts it)."""
        if not plugin_pages_supported():
            return []
        if self._apps is None:
            from airflow_provider_onemin.viewer.app import create_app

            self._apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "1min.ai results viewer"}]
        return self._apps
