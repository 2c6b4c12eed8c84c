"""
Where the viewer may read: the deployment's ``[onemin] viewer_locations``, never a task's XCom.

A task's XCom (``stored_paths``, ``storage_conn_id``) is written by the task, and by anyone allowed
to edit XCom on its DAG: it says *which* stored file a page shows, but the api-server opens it
only when it lies inside a location the deployment configured, and only with the connection
configured for that location. Anything else is refused (:class:`LocationRefused`).

The setting is a comma- or newline-separated list of folders, written as ``output_path`` is::

    [onemin]
    viewer_locations = /data/out, s3://aws_marketing@marketing-assets/backgrounds/

* a local folder: an absolute path or ``file:///...``; a stored file is inside when its real path
  (symlinks resolved) is under the folder's real path;
* an object store folder: ``<scheme>://[<conn_id>@]<bucket>/<prefix>``; a stored file is inside
  when it is in that bucket and its key starts with the prefix's path segments. The api-server
  reads it with ``conn_id`` (none: the default credentials). A result whose XCom names another
  ``storage_conn_id`` is refused: the configuration does not vouch for files written through a
  connection it does not name.

In multi-team mode (Airflow 3.2+) a DAG owned by a team reads the team's own setting
(``AIRFLOW__<TEAM>___ONEMIN__VIEWER_LOCATIONS`` or the ``[<team>=onemin]`` section), as Airflow
reads team settings: a team without one gets the default, not another team's folders.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from airflow_provider_onemin import DEFAULT_VIEWER_LOCATIONS

SECTION = "onemin"
OPTION = "viewer_locations"
#: Unset: the example DAGs' folder, local only. A deployment that stores elsewhere (another folder,
#: S3...) sets ``viewer_locations``.
DEFAULT_LOCATIONS = DEFAULT_VIEWER_LOCATIONS

_LOCAL_SCHEMES = frozenset({"file", "local"})


class LocationRefused(Exception):
    """A stored URI the viewer must not open; the message names no secret (it may be logged)."""


@dataclass(frozen=True)
class Location:
    """One configured folder: ``scheme`` ``file`` (``root`` a real local path) or an object store."""

    scheme: str
    bucket: str
    root: tuple[str, ...]
    conn_id: str | None
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Allowed:
    """A stored file the viewer may open: where, and with which configured connection."""

    uri: str
    conn_id: str | None
    local_path: str | None
    location: Location


def _segments(path: str, what: str) -> tuple[str, ...]:
    parts = tuple(p for p in path.split("/") if p)
    if any(p in (".", "..") for p in parts):
        raise LocationRefused(f"{what} has a '.' or '..' segment")
    return parts


def _local_path(text: str, what: str) -> str:
    """An absolute local path, from ``/x`` or ``file:///x`` (``file://localhost/x``)."""
    if "://" not in text:
        path = text
    else:
        parts = urlsplit(text)
        if parts.scheme.lower() not in _LOCAL_SCHEMES or parts.netloc not in ("", "localhost"):
            raise LocationRefused(f"{what} is not a local file URI")
        if parts.query or parts.fragment:
            raise LocationRefused(f"{what} has a query or fragment")
        path = parts.path
    if not os.path.isabs(path):
        raise LocationRefused(f"{what} is not an absolute path")
    return path


def parse_location(text: str) -> Location:
    """
    One entry of ``viewer_locations``.

    :param text: ``/data/out``, ``file:///data/out`` or ``s3://[conn_id@]bucket/prefix``.
    :raises ValueError: the entry is not a folder as described in the module's docstring.
    """
    text = text.strip()
    try:
        if "://" not in text or urlsplit(text).scheme.lower() in _LOCAL_SCHEMES:
            real = os.path.realpath(_local_path(text, f"viewer location {text!r}"))
            return Location("file", "", _segments(real, "location"), None, text)
        parts = urlsplit(text)
        if parts.query or parts.fragment or parts.port is not None or parts.password:
            raise LocationRefused("a query, fragment, port or password")
        if not parts.hostname:
            raise LocationRefused("no bucket")
        # urlsplit lower-cases hostname; bucket names are case sensitive in some stores.
        bucket = parts.netloc.rpartition("@")[2]
        root = _segments(parts.path, "location")
        return Location(parts.scheme.lower(), bucket, root, parts.username or None, text)
    except LocationRefused as exc:
        raise ValueError(f"[{SECTION}] {OPTION}: {describe(text)!r} is not a folder URI ({exc})") from None


def configured_locations(team_name: str | None = None) -> list[Location]:
    """
    The folders the viewer may read for a DAG of ``team_name`` (``None``: no team).

    Read on every call, through Airflow's configuration (file, ``AIRFLOW__ONEMIN__VIEWER_LOCATIONS``,
    team sections), so a changed setting applies without rebuilding the app.

    :raises ValueError: an entry is malformed (the whole setting is refused, not half-applied).
    """
    from airflow.configuration import conf

    kwargs: dict[str, Any] = {"team_name": team_name} if team_name else {}
    raw = conf.get(SECTION, OPTION, fallback=DEFAULT_LOCATIONS, **kwargs)
    entries = [e for e in (raw or "").replace("\n", ",").split(",") if e.strip()]
    return [parse_location(e) for e in entries]


def _inside(parts: tuple[str, ...], root: tuple[str, ...]) -> bool:
    # Segment by segment: /out does not contain /out-sibling, and a folder is not its own file.
    return len(parts) > len(root) and parts[: len(root)] == root


def resolve(uri: str, xcom_conn_id: str | None, locations: list[Location]) -> Allowed:
    """
    Where a stored URI (from XCom) may be read, or why not.

    :param uri: a ``stored_paths`` entry.
    :param xcom_conn_id: the task instance's ``storage_conn_id`` XCom (never used to read).
    :param locations: :func:`configured_locations`.
    :raises LocationRefused: outside every location, a crafted URI, or another connection.
    """
    if not isinstance(uri, str) or not uri or any(c in uri for c in "\x00\\"):
        raise LocationRefused("not a URI")
    if "://" not in uri or urlsplit(uri).scheme.lower() in _LOCAL_SCHEMES:
        real = os.path.realpath(_local_path(uri, "the stored URI"))
        parts = _segments(real, "the stored path")
        for location in locations:
            if location.scheme == "file" and _inside(parts, location.root):
                if xcom_conn_id:
                    raise LocationRefused(f"a local file stored through connection {xcom_conn_id!r}")
                return Allowed(f"file://{real}", None, real, location)
        raise LocationRefused("outside every configured viewer location")
    split = urlsplit(uri)
    if "@" in split.netloc:
        # ObjectStoragePath would read a connection id from the user part: never take one from XCom.
        raise LocationRefused("the URI names a connection or credentials")
    if split.query or split.fragment or split.port is not None:
        raise LocationRefused("the URI has a query, fragment or port")
    scheme, bucket = split.scheme.lower(), split.netloc
    key = split.path
    if "//" in key:
        raise LocationRefused("the URI has an empty segment")
    parts = _segments(key, "the stored URI")
    for location in locations:
        if location.scheme == scheme and location.bucket == bucket and _inside(parts, location.root):
            if (xcom_conn_id or None) != location.conn_id:
                raise LocationRefused(
                    f"stored through connection {xcom_conn_id!r}; the viewer location {location} "
                    f"is configured with {location.conn_id!r}"
                )
            return Allowed(f"{scheme}://{bucket}/{'/'.join(parts)}", location.conn_id, None, location)
    raise LocationRefused("outside every configured viewer location")


def _owner_folder(dag_id: str, run_id: str, task_id: str, map_index: int) -> list[str]:
    """``<dag>/<run>/<task>[/map-<k>]`` as path segments: the task instance's own folder."""
    from airflow_provider_onemin.storage.results import safe_part

    owner = [safe_part(dag_id), safe_part(run_id), safe_part(task_id)]
    if map_index >= 0:
        owner.append(f"map-{map_index}")
    return owner


def _path_parts(allowed: Allowed) -> list[str]:
    return (allowed.local_path or urlsplit(allowed.uri).path).split("/")


def _numbered(name: str, prefix: str) -> bool:
    """``<prefix><digits>.<alnum>``, e.g. ``result-0.png``."""
    stem, _, extension = name.partition(".")
    return stem.startswith(prefix) and stem.removeprefix(prefix).isdigit() and extension.isalnum()


def check_owner(allowed: Allowed, *, dag_id: str, run_id: str, task_id: str, map_index: int) -> None:
    """
    Refuse a file that is not one the operator stores for this task instance.

    The operator names every result ``<output_path>/<dag>/<run>/<task>[/map-<k>]/result-<i>.<ext>``
    (:func:`~airflow_provider_onemin.storage.results.result_stem`; reused results are copied there too), so
    a task instance's XCom cannot show another DAG's, run's or task's file from the same folder.

    :raises LocationRefused: the file's folder is not the task instance's own.
    """
    owner = _owner_folder(dag_id, run_id, task_id, map_index)
    parts = _path_parts(allowed)
    if parts[-1 - len(owner) : -1] != owner or not _numbered(parts[-1], "result-"):
        raise LocationRefused("not a result stored by this task instance")


def check_rendition_owner(
    allowed: Allowed, *, dag_id: str, run_id: str, task_id: str, map_index: int, channel: str
) -> None:
    """
    Refuse a file that is not a rendition the RenditionsOperator stores for this task instance
    and channel: ``<output_path>/<dag>/<run>/<task>[/map-<k>]/<channel>/image-<i>.<ext>``.

    :param channel: the channel the task instance's XCom files the URI under.
    :raises LocationRefused: another folder, another channel's folder, or another name.
    """
    from airflow_provider_onemin.storage.results import safe_part

    owner = [*_owner_folder(dag_id, run_id, task_id, map_index), safe_part(channel)]
    parts = _path_parts(allowed)
    if parts[-1 - len(owner) : -1] != owner or not _numbered(parts[-1], "image-"):
        raise LocationRefused(f"not a {channel} rendition stored by this task instance")


def check_source_owner(allowed: Allowed, *, dag_id: str, run_id: str, task_id: str, map_index: int) -> None:
    """
    Refuse a file that is not the copy of the source photo the RenditionsOperator stores for this
    task instance: ``<output_path>/<dag>/<run>/<task>[/map-<k>]/source.<ext>``.

    :raises LocationRefused: another folder or another name.
    """
    owner = _owner_folder(dag_id, run_id, task_id, map_index)
    parts = _path_parts(allowed)
    stem, _, extension = parts[-1].partition(".")
    if parts[-1 - len(owner) : -1] != owner or stem != "source" or not extension.isalnum():
        raise LocationRefused("not the source copy stored by this task instance")


def open_allowed(allowed: Allowed) -> IO[bytes]:
    """Open an :class:`Allowed` file for reading (a local one must be a regular file)."""
    if allowed.local_path is not None:
        # O_NOFOLLOW: the resolved path's last part may not have become a symlink since the check.
        fd = os.open(
            allowed.local_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise LocationRefused("not a regular file")
        return os.fdopen(fd, "rb")
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.compat import open_storage_path

    path = (
        ObjectStoragePath(allowed.uri, conn_id=allowed.conn_id)
        if allowed.conn_id
        else ObjectStoragePath(allowed.uri)
    )
    return open_storage_path(path)


def describe(uri: str) -> str:
    """``uri`` for a log line: without user part, query or fragment (they may hold secrets)."""
    if not isinstance(uri, str):
        return repr(type(uri).__name__)
    if "://" not in uri:
        return uri
    split = urlsplit(uri)
    host = split.netloc.rpartition("@")[2]
    return f"{split.scheme}://{host}{split.path}" + (" (query dropped)" if split.query else "")


__all__ = [
    "DEFAULT_LOCATIONS",
    "Allowed",
    "Location",
    "LocationRefused",
    "check_owner",
    "check_rendition_owner",
    "check_source_owner",
    "configured_locations",
    "describe",
    "open_allowed",
    "parse_location",
    "resolve",
]
