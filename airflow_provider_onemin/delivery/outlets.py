"""
The operator's asset outlets: the output folder's asset when it is known at parse time, and the
metadata its events carry once results are stored.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.exceptions import OneMinError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow.sdk import Asset


def literal_output_asset(output_path: Any) -> Asset | None:
    """The Asset of ``output_path`` when it is known at parse time, else ``None``."""
    if output_path is None or isinstance(output_path, bool):
        return None
    if isinstance(output_path, str):
        if not output_path.strip() or "{{" in output_path or "{%" in output_path:
            return None
    else:
        from airflow.sdk import ObjectStoragePath

        if not isinstance(output_path, (ObjectStoragePath, os.PathLike)):
            return None  # an XComArg or another value only known at run time
    from airflow_provider_onemin.storage.results import asset_for_output

    try:
        return asset_for_output(output_path)
    except (ValueError, OneMinError):
        return None  # relative, or a scheme unknown here: the task says so before paying


def asset_event_extra(
    prompt: Any,
    seed: Any,
    seeds: list[Any],
    uuid: str | None,
    stored_paths: list[str],
    storage_conn_id: str | None = None,
) -> dict[str, Any]:
    """
    What an asset event of stored results carries, for a consumer that does not read XCom: the
    plain URIs (``s3://bucket/key``) and, beside them, the connection id that reaches them.
    """
    return {
        "prompt": prompt,
        "seed": seed,
        "seeds": seeds,
        "uuid": uuid,
        "count": len(stored_paths),
        "stored_paths": stored_paths,
        "storage_conn_id": storage_conn_id,
    }


def annotate_asset_events(
    context: Mapping[str, Any], outlets: Iterable[Any], output_path: Any, extra: dict[str, Any]
) -> None:
    """
    Give the asset events of a task what a consumer needs to find the files.

    An ``Asset`` outlet gets ``extra`` as its event's extra; an ``AssetAlias`` outlet gets an
    event for the asset of the (rendered) output folder, with the same extra (on Airflow 3.0 its
    scalar values only: :func:`~airflow_provider_onemin.compat.alias_event_extra`).
    """
    from airflow.sdk import Asset, AssetAlias

    from airflow_provider_onemin.compat import alias_event_extra
    from airflow_provider_onemin.storage.results import asset_for_output

    outlet_events = context.get("outlet_events")
    if outlet_events is None:
        return
    for outlet in outlets or ():
        if isinstance(outlet, AssetAlias):
            outlet_events[outlet].add(asset_for_output(output_path), extra=alias_event_extra(extra))
        elif isinstance(outlet, Asset):
            outlet_events[outlet].extra.update(extra)
