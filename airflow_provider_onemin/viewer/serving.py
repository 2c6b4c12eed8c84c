"""
How the viewer's routes serve a stored file: the location rules, then a checked stream.

Shared by the results gallery (:mod:`.app`) and the channel view (:mod:`.channel_routes`): a file
is opened only when its URI came from the task instance's own XCom, lies inside a folder of the
deployment's ``[onemin] viewer_locations`` (read with the connection configured there, never one
named by XCom: :mod:`.locations`), is named as the operator names that task instance's files (the
``owner`` check), and its content is a PNG, JPEG or WebP image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from airflow_provider_onemin.storage.content_types import sniff_image_type
from airflow_provider_onemin.viewer import URL_PREFIX
from airflow_provider_onemin.viewer.locations import (
    Allowed,
    Location,
    LocationRefused,
    configured_locations,
    describe,
    open_allowed,
    resolve,
)

log = logging.getLogger(__name__)

#: Airflow's own rule for DAG and task ids (KEY_REGEX), and a bound on run ids.
_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,250}$"
_RUN_ID_PATTERN = r"^[^/\x00-\x1f]{1,250}$"

DagId = Annotated[str, PathParam(pattern=_ID_PATTERN)]
TaskId = Annotated[str, PathParam(pattern=_ID_PATTERN)]
RunId = Annotated[str, PathParam(pattern=_RUN_ID_PATTERN)]
MapIndex = Annotated[int, Query(ge=-1, le=1_000_000)]
MapIndexPath = Annotated[int, PathParam(ge=-1, le=1_000_000)]
ImageIndex = Annotated[int, PathParam(ge=0, le=1000)]

_CHUNK = 256 * 1024
_SNIFF_BYTES = 16

#: Raises :class:`LocationRefused` when an allowed file is not one the task instance stores there.
OwnerCheck = Callable[[Allowed], None]


def dag_team(dag_id: str) -> str | None:
    """The team owning the DAG in multi-team mode (Airflow 3.2+), else ``None``."""
    from airflow.configuration import conf

    if not conf.getboolean("core", "multi_team", fallback=False):
        return None
    from airflow.models.dag import DagModel

    get_team_name = getattr(DagModel, "get_team_name", None)
    return get_team_name(dag_id) if get_team_name is not None else None


def dag_locations(dag_id: str) -> tuple[str | None, list[Location] | None]:
    """The DAG's team and the folders the viewer may read for it (``None``: a malformed setting)."""
    team = dag_team(dag_id)
    try:
        return team, configured_locations(team)
    except ValueError as exc:  # refuse everything rather than apply half of the setting
        log.error("Refusing to serve any image of DAG %s (team %s): %s", dag_id, team, exc)
        return team, None


def checked(uri: str, conn_id: str | None, locations: list[Location], owner: OwnerCheck) -> Allowed:
    """
    Where ``uri`` may be read, or :class:`LocationRefused`.

    :param uri: a URI from the task instance's XCom.
    :param conn_id: the task instance's ``storage_conn_id`` XCom (compared, never used to read).
    :param locations: the DAG's configured folders.
    :param owner: the naming check for this kind of file.
    """
    allowed = resolve(uri, conn_id, locations)
    owner(allowed)
    return allowed


def servable_in(dag_ids: set[str]) -> Callable[[str, str, str | None, OwnerCheck], bool]:
    """
    ``servable(dag_id, uri, conn_id, owner)``: whether a page may show a file (else it says why
    instead of a broken picture). Each DAG's setting is read once per page.
    """
    by_dag = {dag_id: dag_locations(dag_id)[1] for dag_id in dag_ids}

    def servable(dag_id: str, uri: str, conn_id: str | None, owner: OwnerCheck) -> bool:
        locations = by_dag.get(dag_id)
        if locations is None:
            return False
        try:
            checked(uri, conn_id, locations, owner)
        except LocationRefused:
            return False
        return True

    return servable


def allowed_or_403(dag_id: str, uri: str, conn_id: str | None, owner: OwnerCheck) -> Allowed:
    """Where the api-server may read ``uri`` for a task instance of ``dag_id``, or 403 (logged)."""
    team, locations = dag_locations(dag_id)
    if locations is not None:
        try:
            return checked(uri, conn_id, locations, owner)
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


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


def _stream(handle: Any, head: bytes) -> Iterator[bytes]:
    try:
        yield head
        while chunk := handle.read(_CHUNK):
            yield chunk
    finally:
        handle.close()


def stream_image(dag_id: str, uri: str, conn_id: str | None, owner: OwnerCheck) -> StreamingResponse:
    """
    The stored image at ``uri`` (from the task instance's XCom), streamed, when every rule allows.

    :raises HTTPException: 403 outside the locations or not the task instance's file, 404 gone,
        415 not an image, 502 the store cannot be read (its reason is logged, not answered).
    """
    allowed = allowed_or_403(dag_id, uri, conn_id, owner)
    try:
        handle = open_allowed(allowed)
    except FileNotFoundError:
        raise not_found("Stored file") from None
    except LocationRefused as exc:
        log.warning("Refusing to serve %s: %s", describe(uri), exc)
        raise not_found("Stored file") from None
    except Exception as exc:
        # The reason may name a bucket or a connection problem: log it, answer without it.
        log.warning("Cannot open %s (connection %s): %s", describe(allowed.uri), allowed.conn_id, exc)
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, "The stored file cannot be read") from None
    head = handle.read(_SNIFF_BYTES)
    mime_type = sniff_image_type(head)
    if mime_type is None:
        handle.close()
        log.warning("Refusing to serve %s: not a PNG, JPEG or WebP image", describe(uri))
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


def root_path(request: Request) -> str:
    """The api-server's own base path (the viewer is mounted at ``<base>/onemin``)."""
    mounted_at = str(request.scope.get("root_path", "")).rstrip("/")
    return mounted_at[: -len(URL_PREFIX)] if mounted_at.endswith(URL_PREFIX) else ""
