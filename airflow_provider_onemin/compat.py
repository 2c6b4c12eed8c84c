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
  Airflow Variable (:mod:`airflow_provider_onemin.variable_store`); the ledger's
  ``submission_store`` picks.
* ``ObjectStoragePath`` refuses an unknown scheme when built on 3.3, only when used before.
* The connection form: 3.2+ reads ``conn-fields`` from the provider info; 3.0 and 3.1 call the
  hook's ``get_connection_form_widgets``, built here from the same declaration.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    BaseHook,
    conf,
)

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "BaseHook",
    "amask_secret",
    "conf",
    "get_async_connection",
    "get_async_extra_dejson",
    "legacy_connection_form_widgets",
    "object_storage_path",
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


def object_storage_path(url: str) -> Any:
    """
    ``ObjectStoragePath(url)``, refusing a scheme that no filesystem serves as Airflow 3.3 does when
    it builds one (older minors only fail on first use, after a task may have paid).
    """
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(url)
    if path.protocol:
        import fsspec

        if path.protocol not in fsspec.available_protocols():
            raise ValueError(f"Unsupported filesystem: {path.protocol!r}")
    return path


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
