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
JPEG or WebP image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

# This module is imported by the api-server only (the plugin builds the app lazily), and FastAPI
# reads the route signatures' annotations from the module: these imports must live here.
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from airflow_provider_onemin.storage.content_types import sniff_image_type
from airflow_provider_onemin.viewer import URL_PREFIX, viewer_path
from airflow_provider_onemin.viewer.locations import (
    Allowed,
    Location,
    LocationRefused,
    check_owner,
    configured_locations,
    describe,
    open_allowed,
    resolve,
)
from airflow_provider_onemin.viewer.results import StoredImage, TaskResults, run_results

if TYPE_CHECKING:
    from jinja2 import Environment

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_SNIFF_BYTES = 16
#: Airflow's own rule for DAG and task ids (KEY_REGEX), and a bound on run ids.
_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,250}$"
_RUN_ID_PATTERN = r"^[^/\x00-\x1f]{1,250}$"

DagId = Annotated[str, PathParam(pattern=_ID_PATTERN)]
TaskId = Annotated[str, PathParam(pattern=_ID_PATTERN)]
RunId = Annotated[str, PathParam(pattern=_RUN_ID_PATTERN)]
MapIndex = Annotated[int, Query(ge=-1, le=1_000_000)]


def _template_environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True),
    )


def _dag_team(dag_id: str) -> str | None:
    """The team owning the DAG in multi-team mode (Airflow 3.2+), else ``None``."""
    from airflow.configuration import conf

    if not conf.getboolean("core", "multi_team", fallback=False):
        return None
    from airflow.models.dag import DagModel

    get_team_name = getattr(DagModel, "get_team_name", None)
    return get_team_name(dag_id) if get_team_name is not None else None


def _locations(dag_id: str) -> tuple[str | None, list[Location] | None]:
    """The DAG's team and the folders the viewer may read for it (``None``: a malformed setting)."""
    team = _dag_team(dag_id)
    try:
        return team, configured_locations(team)
    except ValueError as exc:  # refuse everything rather than apply half of the setting
        log.error("Refusing to serve any image of DAG %s (team %s): %s", dag_id, team, exc)
        return team, None


def _allowed(result: TaskResults, uri: str) -> Allowed:
    """Where the api-server may read ``uri`` for this task instance, or 403 (logged, without secrets)."""
    dag_id = result.dag_id
    team, locations = _locations(dag_id)
    if locations is not None:
        try:
            return _resolve(result, uri, locations)
        except LocationRefused as exc:
            log.warning(
                "Refusing to serve %s for DAG %s (team %s): %s; see [onemin] viewer_locations",
                describe(uri),
                dag_id,
                team,
                exc,
            )
    raise HTTPException(
        status.HTTP_403_FORBIDDEN, "The stored file is outside the viewer's configured locations"
    )


def _resolve(result: TaskResults, uri: str, locations: list[Location]) -> Allowed:
    allowed = resolve(uri, result.storage_conn_id, locations)
    check_owner(
        allowed,
        dag_id=result.dag_id,
        run_id=result.run_id,
        task_id=result.task_id,
        map_index=result.map_index,
    )
    return allowed


def _servable(results: list[TaskResults]) -> Callable[[TaskResults, StoredImage], bool]:
    """Whether the page may show an image (else it says why instead of a broken picture)."""
    by_dag = {dag_id: _locations(dag_id)[1] for dag_id in {r.dag_id for r in results}}

    def servable(result: TaskResults, image: StoredImage) -> bool:
        locations = by_dag.get(result.dag_id)
        if locations is None:
            return False
        try:
            _resolve(result, image.uri, locations)
        except LocationRefused:
            return False
        return True

    return servable


def _stream(handle: Any, head: bytes) -> Iterator[bytes]:
    try:
        yield head
        while chunk := handle.read(_CHUNK):
            yield chunk
    finally:
        handle.close()


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


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
        request: Request, title: str, results: list[TaskResults], run_page: str | None, embed: bool
    ) -> HTMLResponse:
        body = templates.get_template("gallery.html").render(
            title=title,
            results=results,
            run_page=run_page,
            embed=embed,
            image_count=sum(len(r.images) for r in results),
            image_path=lambda r, i: (
                f"{_root(request)}{viewer_path(r.dag_id, r.run_id, r.task_id)}/images/{r.map_index}/{i.index}"
            ),
            task_page=lambda r: f"{_root(request)}{viewer_path(r.dag_id, r.run_id, r.task_id, r.map_index)}",
            servable=_servable(results),
        )
        return HTMLResponse(body)

    @app.get("/dags/{dag_id}/runs/{run_id}", response_class=HTMLResponse)
    def run_gallery(
        request: Request, dag_id: DagId, run_id: RunId, session: SessionDep, embed: bool = False
    ) -> HTMLResponse:
        """Every result of a DAG run, all mapped instances together."""
        results = run_results(session, dag_id, run_id)
        if results is None:
            raise _not_found("DAG run")
        return page(request, f"{dag_id} / {run_id}", results, None, embed)

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
            raise _not_found("Task instance")
        title = f"{dag_id} / {run_id} / {task_id}" + (f" [{map_index}]" if map_index >= 0 else "")
        run_page = f"{_root(request)}{viewer_path(dag_id, run_id)}"
        return page(request, title, results, run_page, embed)

    @app.get("/dags/{dag_id}/runs/{run_id}/results.json")
    def run_results_json(dag_id: DagId, run_id: RunId, session: SessionDep) -> JSONResponse:
        """The run's results as JSON (what the run page shows)."""
        results = run_results(session, dag_id, run_id)
        if results is None:
            raise _not_found("DAG run")
        return JSONResponse([r.as_dict() for r in results])

    @app.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/images/{map_index}/{index}")
    def image(
        dag_id: DagId,
        run_id: RunId,
        task_id: TaskId,
        map_index: Annotated[int, PathParam(ge=-1, le=1_000_000)],
        index: Annotated[int, PathParam(ge=0, le=1000)],
        session: SessionDep,
    ) -> StreamingResponse:
        """The ``index``-th file this task instance stored, streamed from its storage."""
        results = run_results(session, dag_id, run_id, task_id, map_index)
        stored = results[0].image(index) if results else None
        if stored is None:
            raise _not_found("Image")
        allowed = _allowed(results[0], stored.uri)
        try:
            handle = open_allowed(allowed)
        except FileNotFoundError:
            raise _not_found("Stored file") from None
        except LocationRefused as exc:
            log.warning("Refusing to serve %s: %s", describe(stored.uri), exc)
            raise _not_found("Stored file") from None
        except Exception as exc:
            # The reason may name a bucket or a connection problem: log it, answer without it.
            log.warning("Cannot open %s (connection %s): %s", describe(allowed.uri), allowed.conn_id, exc)
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, "The stored file cannot be read") from None
        head = handle.read(_SNIFF_BYTES)
        mime_type = sniff_image_type(head)
        if mime_type is None:
            handle.close()
            log.warning("Refusing to serve %s: not a PNG, JPEG or WebP image", describe(stored.uri))
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "The stored file is not an image")
        return StreamingResponse(
            _stream(handle, head),
            media_type=mime_type,
            headers={
                "Cache-Control": "private, max-age=300",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'",
            },
        )

    return app


def _root(request: Request) -> str:
    """The api-server's own base path (the viewer is mounted at ``<base>/onemin``)."""
    mounted_at = str(request.scope.get("root_path", "")).rstrip("/")
    return mounted_at[: -len(URL_PREFIX)] if mounted_at.endswith(URL_PREFIX) else ""
