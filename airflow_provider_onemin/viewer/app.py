"""
The viewer's FastAPI app, mounted by the api-server under :data:`URL_PREFIX`.

Every route is guarded by the api-server's own dependencies: the caller is the user of the
request's ``Authorization: Bearer`` token or of the UI's session cookie, and must be allowed to
read the DAG's task instances and XComs (the same check as the REST API's). Anonymous requests
answer 401, users without that access 403, unknown runs, tasks or files 404.

Images are streamed from where the operator stored them: only the files in that task instance's
``stored_paths``, addressed by position, only when they lie inside a folder of the deployment's
``[onemin] viewer_locations`` (read with the connection configured there, never one named by
XCom: :mod:`~airflow_provider_onemin.viewer.locations`), and only when their content is a PNG,
JPEG or WebP image (:mod:`.serving`). The channel view's routes (renditions beside their source
photo) follow the same rules: :mod:`.channel_routes`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

# This module is imported by the api-server only (the plugin builds the app lazily), and FastAPI
# reads the route signatures' annotations from the module: these imports must live here.
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from airflow_provider_onemin.viewer import channels_path, viewer_path
from airflow_provider_onemin.viewer.channel_routes import add_channel_routes
from airflow_provider_onemin.viewer.channels import run_has_renditions
from airflow_provider_onemin.viewer.locations import Allowed, check_owner
from airflow_provider_onemin.viewer.results import TaskResults, run_results
from airflow_provider_onemin.viewer.serving import (
    DagId,
    ImageIndex,
    MapIndex,
    MapIndexPath,
    OwnerCheck,
    RunId,
    TaskId,
    not_found,
    root_path,
    servable_in,
    stream_image,
)

if TYPE_CHECKING:
    from jinja2 import Environment

log = logging.getLogger(__name__)


def _template_environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True),
    )


def _result_owner(result: TaskResults) -> OwnerCheck:
    """The naming check of ``result``'s stored files (``.../result-<i>.<ext>``)."""

    def owner(allowed: Allowed) -> None:
        check_owner(
            allowed,
            dag_id=result.dag_id,
            run_id=result.run_id,
            task_id=result.task_id,
            map_index=result.map_index,
        )

    return owner


def create_app() -> FastAPI:
    """Build the viewer app (called once, in the api-server)."""
    templates = _template_environment()
    # Reading a result is reading the task instance and its XComs: both must be allowed.
    guards = [
        Depends(requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)),
        Depends(requires_access_dag("GET", DagAccessEntity.XCOM)),
    ]
    app = FastAPI(
        title="1min.ai results viewer",
        description="Images stored by the 1min.ai Background Replacer, guarded by Airflow's auth.",
        dependencies=guards,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def page(
        request: Request,
        title: str,
        results: list[TaskResults],
        run_page: str | None,
        embed: bool,
        channels_page: str | None,
    ) -> HTMLResponse:
        servable = servable_in({r.dag_id for r in results})
        body = templates.get_template("gallery.html").render(
            title=title,
            results=results,
            run_page=run_page,
            embed=embed,
            image_count=sum(len(r.images) for r in results),
            image_path=lambda r, i: (
                f"{root_path(request)}{viewer_path(r.dag_id, r.run_id, r.task_id)}/images/{r.map_index}/{i.index}"
            ),
            task_page=lambda r: (
                f"{root_path(request)}{viewer_path(r.dag_id, r.run_id, r.task_id, r.map_index)}"
            ),
            servable=lambda r, i: servable(r.dag_id, i.uri, r.storage_conn_id, _result_owner(r)),
            channels_page=channels_page,
        )
        return HTMLResponse(body)

    @app.get("/dags/{dag_id}/runs/{run_id}", response_class=HTMLResponse)
    def run_gallery(
        request: Request, dag_id: DagId, run_id: RunId, session: SessionDep, embed: bool = False
    ) -> HTMLResponse:
        """Every result of a DAG run, all mapped instances together."""
        results = run_results(session, dag_id, run_id)
        if results is None:
            raise not_found("DAG run")
        channels_page = _channels_page(request, session, dag_id, run_id)
        return page(request, f"{dag_id} / {run_id}", results, None, embed, channels_page)

    @app.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}", response_class=HTMLResponse)
    def task_gallery(
        request: Request,
        dag_id: DagId,
        run_id: RunId,
        task_id: TaskId,
        session: SessionDep,
        map_index: MapIndex = -1,
        embed: bool = False,
    ) -> HTMLResponse:
        """The results of one task instance (``map_index`` for a mapped one)."""
        results = run_results(session, dag_id, run_id, task_id, map_index)
        if results is None:
            raise not_found("Task instance")
        title = f"{dag_id} / {run_id} / {task_id}" + (f" [{map_index}]" if map_index >= 0 else "")
        run_page = f"{root_path(request)}{viewer_path(dag_id, run_id)}"
        channels_page = _channels_page(request, session, dag_id, run_id, task_id)
        return page(request, title, results, run_page, embed, channels_page)

    @app.get("/dags/{dag_id}/runs/{run_id}/results.json")
    def run_results_json(dag_id: DagId, run_id: RunId, session: SessionDep) -> JSONResponse:
        """The run's results as JSON (what the run page shows)."""
        results = run_results(session, dag_id, run_id)
        if results is None:
            raise not_found("DAG run")
        return JSONResponse([r.as_dict() for r in results])

    @app.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/images/{map_index}/{index}")
    def image(
        dag_id: DagId,
        run_id: RunId,
        task_id: TaskId,
        map_index: MapIndexPath,
        index: ImageIndex,
        session: SessionDep,
    ) -> StreamingResponse:
        """The ``index``-th file this task instance stored, streamed from its storage."""
        results = run_results(session, dag_id, run_id, task_id, map_index)
        stored = results[0].image(index) if results else None
        if stored is None:
            raise not_found("Image")
        result = results[0]
        return stream_image(dag_id, stored.uri, result.storage_conn_id, _result_owner(result))

    add_channel_routes(app, templates)
    return app


def _channels_page(
    request: Request, session: SessionDep, dag_id: str, run_id: str, task_id: str | None = None
) -> str | None:
    """The run's channel view, when the run (or the task) stored renditions."""
    if not run_has_renditions(session, dag_id, run_id, task_id):
        return None
    return f"{root_path(request)}{channels_path(dag_id, run_id)}"
