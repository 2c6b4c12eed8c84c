"""
Everything that differs between the Airflow 3 minors this provider runs on (3.0 to 3.3), in one place.

Checks ask what Airflow has, never which version it is. Imports that moved between minors come
from ``apache-airflow-providers-common-compat``, the layer Airflow's own providers use; this
module adds only what that package does not map. docs/compatibility.md has the table.

* ``conf`` is in ``airflow.sdk`` from 3.2, ``BaseHook`` from 3.1, and the exceptions moved to
  ``airflow.sdk.exceptions`` over 3.1 and 3.2: common-compat picks the right module.
* Async connection look-ups (``aget_connection`` from 3.1, ``aextra_dejson`` from 3.3.2):
  common-compat runs the sync call in a thread where the async one is missing.
* ``amask_secret`` (3.3): the sync ``mask_secret`` runs in a thread where it is missing.
* The task state store (3.3) keeps the submission record; without it the record lives in an
  Airflow Variable (:mod:`airflow_provider_onemin.submissions.variable_store`); the ledger's
  ``submission_store`` picks.
* ``ObjectStoragePath`` refuses an unknown scheme when built on 3.3, only when used before, and
  has a ``conn_id`` attribute from 3.2 (before, the id sits in ``storage_options``).
* The connection form: 3.2+ reads ``conn-fields`` from the provider info; 3.0 and 3.1 call the
  hook's ``get_connection_form_widgets``, built here from the same declaration.
* A ``None`` XCom: 3.0's execution API refuses it (3.1 stores it); there it is left out, which
  ``xcom_pull`` reads as ``None`` all the same.
* An ``AssetAlias`` event: 3.0's API server groups them by their extra as a set of its items, so
  an extra holding a list fails there; such an event carries the extra's scalar values only.
* Plugin pages a user of the UI can open (the results viewer) and human-in-the-loop (the review
  step): from 3.1.
* A test run (``dag.test()``, ``airflow dags test``): no minor tells a task so; every one runs
  its tasks in-process there, talking to an in-process supervisor (:func:`in_test_run`).
* Local paths: every minor resolves a scheme's filesystem by first importing each installed
  provider's filesystem module (:func:`attach_local_filesystem` says why that is skipped for
  ``file://``).
* Reading an ``ObjectStoragePath``: every minor records the read into a hook lineage collector,
  and builds even its no-op stand-in by importing every installed provider's asset URI handlers
  (:func:`open_storage_path` says why that is skipped when no reader listens). From 3.2 the
  readers are asked of ``airflow.sdk.plugins_manager``, before of ``airflow.plugins_manager``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    BaseHook,
    TaskDeferred,
    conf,
)

__all__ = [
    "alias_event_extra",
    "attach_local_filesystem",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "BaseHook",
    "TaskDeferred",
    "amask_secret",
    "conf",
    "get_async_connection",
    "get_async_extra_dejson",
    "hitl_operator",
    "in_test_run",
    "legacy_connection_form_widgets",
    "object_storage_path",
    "plugin_pages_supported",
    "push_optional_xcom",
    "storage_path_conn_id",
]


async def get_async_connection(conn_id: str) -> Any:
    """The connection, looked up without blocking the event loop on every minor."""
    from airflow.providers.common.compat.connection import get_async_connection as lookup

    return await lookup(conn_id)


async def get_async_extra_dejson(conn: Any) -> dict[str, Any]:
    """The connection's extra, its secrets masked without blocking the event loop on every minor."""
    from airflow.providers.common.compat.connection import get_async_extra_dejson as extra

    return await extra(conn)


async def amask_secret(secret: Any) -> None:
    """Mask ``secret`` in logs without blocking the event loop on every minor."""
    try:
        from airflow.sdk.log import amask_secret as mask
    except ImportError:  # before 3.3: the sync call talks to the supervisor, so not on the loop
        import asyncio

        from airflow.sdk.log import mask_secret

        await asyncio.to_thread(mask_secret, secret)
    else:
        await mask(secret)


@cache
def attach_local_filesystem() -> None:
    """
    Attach fsspec's ``LocalFileSystem`` (the class behind Airflow's own ``file`` scheme) as the
    store of ``file://`` and ``local://`` paths in this process, once.

    Without it, a task's first local ``ObjectStoragePath`` resolves its filesystem through
    Airflow's registry, which first imports every installed provider's filesystem module (the
    amazon provider's brings boto3 and aiobotocore, a few hundred modules): CPU spent in every task
    process only to read or write a local folder. A store already attached for the scheme (by the
    user, or by an earlier path) is left as it is.
    """
    from airflow.sdk.io.store import attach
    from fsspec.implementations.local import LocalFileSystem

    for protocol in ("file", "local"):
        attach(protocol, fs=LocalFileSystem())


def object_storage_path(url: str) -> Any:
    """
    ``ObjectStoragePath(url)``, refusing a scheme that no filesystem serves as Airflow 3.3 does when
    it builds one (older minors only fail on first use, after a task may have paid).
    """
    from airflow.sdk import ObjectStoragePath

    attach_local_filesystem()
    path = ObjectStoragePath(url)
    if path.protocol:
        import fsspec

        if path.protocol not in fsspec.available_protocols():
            raise ValueError(f"Unsupported filesystem: {path.protocol!r}")
    return path


def hook_lineage_is_read() -> bool:
    """
    Whether a hook lineage reader (the OpenLineage provider's, or a plugin's) receives what
    Airflow's hook lineage collector records in this process; the same question Airflow asks
    before it picks a real collector or a no-op one.
    """
    try:  # Airflow 3.2+
        from airflow.sdk.plugins_manager import get_hook_lineage_readers_plugins
    except ImportError:  # 3.0 and 3.1
        from airflow import plugins_manager

        plugins_manager.initialize_hook_lineage_readers_plugins()
        return bool(plugins_manager.hook_lineage_reader_classes)
    return bool(get_hook_lineage_readers_plugins())


def open_storage_path(path: Any, mode: str = "rb") -> Any:
    """
    Open an ``ObjectStoragePath`` as ``path.open(mode)`` does, through Airflow's hook-lineage
    wrapper only when a hook lineage reader would receive the read.

    Without a reader the wrapper records into a no-op collector, which Airflow builds all the same
    on the first read of a process by importing every installed provider's asset URI handlers
    (the amazon provider's imports boto3): CPU in every task process, and nothing recorded. With a
    reader (OpenLineage), the path is opened as Airflow opens it and the read is collected.

    :param path: an ``ObjectStoragePath``.
    :param mode: as for ``open``.
    """
    if hook_lineage_is_read():
        return path.open(mode)
    return path.fs.open(path.path, mode=mode)


def read_storage_path(path: Any) -> bytes:
    """The whole content of an ``ObjectStoragePath``, opened by :func:`open_storage_path`."""
    with open_storage_path(path, "rb") as handle:
        return handle.read()


def storage_path_conn_id(path: Any) -> str | None:
    """
    The Airflow connection id an ``ObjectStoragePath`` reaches its store with (``None``: default
    credentials). An attribute from Airflow 3.2; before, a storage option the path keeps.

    :param path: an ``ObjectStoragePath``.
    """
    try:
        return path.conn_id
    except AttributeError:
        return path.storage_options.get("conn_id")


@cache
def plugin_pages_supported() -> bool:
    """
    Whether a plugin's pages in the api-server open for a user of the UI: from Airflow 3.1, which
    authenticates them with the UI's session cookie and shows them as tabs (a plugin's
    ``external_views``, the feature asked here). 3.0's UI keeps its token out of cookies, so a
    plugin page opened from it arrives anonymous.
    """
    from airflow.plugins_manager import AirflowPlugin

    return hasattr(AirflowPlugin, "external_views")


def hitl_operator() -> type | None:
    """
    Airflow's human-in-the-loop ``HITLOperator`` (standard provider, Airflow 3.1+), or ``None``.

    Imported on demand, not with this module: the operator's own import stays light.
    """
    try:
        from airflow.providers.standard.operators.hitl import HITLOperator
    except Exception:  # ImportError, or the standard provider's "needs Airflow 3.1+" on 3.0
        return None
    return HITLOperator


def push_optional_xcom(ti: Any, key: str, value: Any) -> None:
    """
    ``ti.xcom_push(key, value)`` for a value that may be ``None``.

    Airflow 3.0's execution API refuses an XCom whose value is ``None`` (the body is required; 3.1
    made it optional) and the task fails; Airflow itself never pushes one there. So on 3.0 a
    ``None`` is left out: ``xcom_pull`` of the key answers ``None`` all the same, but indexing a
    mapped task's XComs raises for that map index; read those with :func:`mapped_values`. The
    difference lies in the API server, which a worker cannot ask, so this one check reads the version.
    """
    if value is None and _airflow_minor() < (3, 1):
        return
    ti.xcom_push(key=key, value=value)


def mapped_values(mapped: Any, count: int) -> list[Any]:
    """
    The values of a mapped task's XCom for map indexes ``0 .. count - 1``, ``None`` where there is none.

    A map index has no value when its task failed, or, on Airflow 3.0, when the value was ``None``
    (see :func:`push_optional_xcom`). Indexes are read one by one: iterating the sequence probes
    past its end.

    :param mapped: the resolved XComArg of a mapped task (e.g. ``task.output["key"]`` in a task).
    :param count: how many map indexes to read.
    """
    values = []
    for index in range(count):
        try:
            values.append(mapped[index])
        except (IndexError, KeyError):
            values.append(None)
    return values


@cache
def _airflow_minor() -> tuple[int, int]:
    from airflow import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


def alias_event_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """
    The extra of an asset event announced through an ``AssetAlias``.

    Airflow 3.0's API server files alias events under ``frozenset(extra.items())``: a list or a
    dict among the values raises there, and no event is recorded. On 3.0 such values are left out
    (the event keeps its scalar values); 3.1 files them by their JSON and keeps the whole extra. A
    server-side difference, so the version is read.

    :param extra: the event's extra (JSON values).
    """
    if _airflow_minor() >= (3, 1):
        return extra
    return {key: value for key, value in extra.items() if not isinstance(value, (list, dict))}


def legacy_connection_form_widgets(
    conn_fields: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """
    The connection form's extra fields as wtforms fields, for Airflow 3.0 and 3.1.

    Those minors build the form from the hook's ``get_connection_form_widgets`` and accept only
    string, integer, password and boolean fields: a number becomes an integer field (whole
    seconds; the extra JSON still takes fractions). Airflow 3.1's API server stands in for wtforms
    when it is missing; 3.0 needs wtforms installed (it comes with the FAB provider), and without
    it the form shows the standard fields only. 3.2+ reads ``conn-fields`` and never calls this.

    :param conn_fields: the ``conn-fields`` declaration of the provider info.
    """
    from wtforms import BooleanField, IntegerField, PasswordField, StringField
    from wtforms.validators import Optional

    widgets: dict[str, Any] = {}
    for name, field in conn_fields.items():
        schema = field.get("schema", {})
        types = schema.get("type", "string")
        types = set(types) if isinstance(types, list) else {types}
        if schema.get("format") == "password":
            field_class = PasswordField
        elif "boolean" in types:
            field_class = BooleanField
        elif types & {"integer", "number"}:
            field_class = IntegerField
        else:
            field_class = StringField
        widgets[name] = field_class(
            field.get("label", name),
            validators=[Optional()],
            description=field.get("description", ""),
            default=schema.get("default"),
        )
    return widgets


def in_test_run() -> bool:
    """
    Whether the running task is part of a test run: ``dag.test()`` or ``airflow dags test``
    (without ``--use-executor``).

    Airflow marks such a run ``triggered_by=test`` in its database, but the task's context does
    not carry that on any minor. What every minor (3.0 to 3.3) does in a test run is to run the
    task in the caller's process with an ``InProcessSupervisorComms`` as the task's link to its
    supervisor; a task in a deployment talks to a supervisor process over a socket instead.
    """
    import sys

    # Looked up, not imported: a task in a deployment has no reason to load the supervisor's module.
    supervisor = sys.modules.get("airflow.sdk.execution_time.supervisor")
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    in_process = getattr(supervisor, "InProcessSupervisorComms", None)
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    return in_process is not None and isinstance(comms, in_process)
