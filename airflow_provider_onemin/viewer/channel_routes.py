"""
The channel view's routes: a run's renditions per product, beside the source photo (before/after).

Added to the viewer's app by :func:`add_channel_routes`, so the app's guards (read access to the
DAG's task instances and XComs) apply to every route here. The files served are those of
:mod:`.channels`: a rendition is addressed by task instance, channel and position in that task
instance's ``return_value``; the source photo by task instance (its ``source`` XCom). Each is
opened under the rules of :mod:`.serving` (configured locations, that folder's connection, the
operator's naming of that task instance's files, an image's content).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

# FastAPI reads the route signatures' annotations from the module: these imports must live here.
from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from airflow_provider_onemin.viewer import viewer_path
from airflow_provider_onemin.viewer.channels import (
    CHANNEL_PATTERN,
    ProductChannels,
    Rendition,
    RenditionTask,
    run_channels,
)
from airflow_provider_onemin.viewer.locations import Allowed, check_rendition_owner, check_source_owner
from airflow_provider_onemin.viewer.serving import (
    DagId,
    ImageIndex,
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
    from fastapi import FastAPI
    from jinja2 import Environment

Channel = Annotated[str, PathParam(pattern=CHANNEL_PATTERN)]


def rendition_owner(task: RenditionTask, channel: str) -> OwnerCheck:
    """The naming check of ``task``'s renditions of ``channel``."""

    def owner(allowed: Allowed) -> None:
        check_rendition_owner(
            allowed,
            dag_id=task.dag_id,
            run_id=task.run_id,
            task_id=task.task_id,
            map_index=task.map_index,
            channel=channel,
        )

    return owner


def source_owner(task: RenditionTask) -> OwnerCheck:
    """The naming check of ``task``'s source copy."""

    def owner(allowed: Allowed) -> None:
        check_source_owner(
            allowed, dag_id=task.dag_id, run_id=task.run_id, task_id=task.task_id, map_index=task.map_index
        )

    return owner


def _task(session: SessionDep, dag_id: str, run_id: str, task_id: str, map_index: int) -> RenditionTask:
    products = run_channels(session, dag_id, run_id, task_id, map_index)
    task = next((t for p in products or [] for t in p.tasks), None)
    if task is None:
        raise not_found("Renditions")
    return task


def render_channels(
    templates: Environment,
    request: Request,
    dag_id: str,
    run_id: str,
    products: list[ProductChannels],
    embed: bool,
) -> str:
    """The channel view's HTML (also used by the unit tests, without an api-server)."""
    root = root_path(request)
    servable = servable_in({dag_id})
    base = lambda t: f"{root}{viewer_path(t.dag_id, t.run_id, t.task_id)}"  # noqa: E731
    return templates.get_template("channels.html").render(
        title=f"{dag_id} / {run_id}",
        products=products,
        embed=embed,
        run_page=f"{root}{viewer_path(dag_id, run_id)}",
        rendition_count=sum(len(rs) for p in products for t in p.tasks for rs in t.channels.values()),
        rendition_path=lambda t, r: f"{base(t)}/renditions/{t.map_index}/{r.channel}/{r.index}",
        source_path=lambda t: f"{base(t)}/source/{t.map_index}",
        rendition_servable=lambda t, r: servable(
            t.dag_id, r.uri, t.storage_conn_id, rendition_owner(t, r.channel)
        ),
        source_servable=lambda t: (
            t.source is not None and servable(t.dag_id, t.source, t.storage_conn_id, source_owner(t))
        ),
    )


def add_channel_routes(app: FastAPI, templates: Environment) -> None:
    """Add the channel view's routes to the viewer's (guarded) app."""

    @app.get("/dags/{dag_id}/runs/{run_id}/channels", response_class=HTMLResponse)
    def channel_view(
        request: Request, dag_id: DagId, run_id: RunId, session: SessionDep, embed: bool = False
    ) -> HTMLResponse:
        """Every renditions task of the run, per product: the source photo beside each channel."""
        products = run_channels(session, dag_id, run_id)
        if products is None:
            raise not_found("DAG run")
        return HTMLResponse(render_channels(templates, request, dag_id, run_id, products, embed))

    @app.get("/dags/{dag_id}/runs/{run_id}/channels.json")
    def channel_view_json(dag_id: DagId, run_id: RunId, session: SessionDep) -> JSONResponse:
        """The channel view as JSON (what the page shows)."""
        products = run_channels(session, dag_id, run_id)
        if products is None:
            raise not_found("DAG run")
        return JSONResponse([p.as_dict() for p in products])

    @app.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/renditions/{map_index}/{channel}/{index}")
    def rendition(
        dag_id: DagId,
        run_id: RunId,
        task_id: TaskId,
        map_index: MapIndexPath,
        channel: Channel,
        index: ImageIndex,
        session: SessionDep,
    ) -> StreamingResponse:
        """The ``index``-th rendition of ``channel`` this task instance stored."""
        task = _task(session, dag_id, run_id, task_id, map_index)
        found: Rendition | None = task.rendition(channel, index)
        if found is None:
            raise not_found("Rendition")
        return stream_image(dag_id, found.uri, task.storage_conn_id, rendition_owner(task, channel))

    @app.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/source/{map_index}")
    def source(
        dag_id: DagId, run_id: RunId, task_id: TaskId, map_index: MapIndexPath, session: SessionDep
    ) -> StreamingResponse:
        """The copy of the source photo this task instance stored (its ``source`` XCom)."""
        task = _task(session, dag_id, run_id, task_id, map_index)
        if task.source is None:
            raise not_found("Source photo")
        return stream_image(dag_id, task.source, task.storage_conn_id, source_owner(task))


__all__ = ["add_channel_routes", "render_channels"]
