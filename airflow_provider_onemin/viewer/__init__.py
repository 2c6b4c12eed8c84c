"""
The results viewer: a page of the images a Background Replacer task stored, inside Airflow.

An Airflow plugin (:mod:`airflow_provider_onemin.viewer.plugin`, registered through the
``airflow.plugins`` entry point) mounts a FastAPI app in the api-server under :data:`URL_PREFIX`;
the api-server's own auth decides who sees a page (read access to the DAG's task instances and
XComs). This module is imported by workers (the extra link builds the viewer's URL), so it
imports nothing heavy.

Pages (all under :data:`URL_PREFIX`)::

    /dags/<dag_id>/runs/<run_id>                          every result of the run
    /dags/<dag_id>/runs/<run_id>/tasks/<task_id>          one task instance (?map_index=k)
    .../tasks/<task_id>/results.json                      the same, as JSON
    .../tasks/<task_id>/images/<map_index>/<n>            the n-th stored file, streamed
    /dags/<dag_id>/runs/<run_id>/channels                 the run's renditions per product and
                                                          channel, beside the source photo
    /dags/<dag_id>/runs/<run_id>/channels.json            the same, as JSON
    .../tasks/<task_id>/renditions/<map_index>/<channel>/<n>  the n-th rendition of a channel
    .../tasks/<task_id>/source/<map_index>                the stored copy of the source photo
"""

from __future__ import annotations

from urllib.parse import quote

#: Where the api-server mounts the viewer.
URL_PREFIX = "/onemin"


def _quoted(part: str) -> str:
    return quote(part, safe="")


def viewer_path(dag_id: str, run_id: str, task_id: str | None = None, map_index: int | None = None) -> str:
    """
    The viewer page of a DAG run, or of one task instance, as a path from the api-server's root.

    :param dag_id: the DAG's id.
    :param run_id: the run's id.
    :param task_id: a task's id, for its page (else the run's page).
    :param map_index: with ``task_id``: one mapped instance (``-1`` or ``None``: not mapped).
    """
    path = f"{URL_PREFIX}/dags/{_quoted(dag_id)}/runs/{_quoted(run_id)}"
    if task_id is None:
        return path
    path += f"/tasks/{_quoted(task_id)}"
    if map_index is not None and map_index >= 0:
        path += f"?map_index={int(map_index)}"
    return path


def channels_path(dag_id: str, run_id: str) -> str:
    """
    The channel view of a DAG run (its renditions per product and channel), from the api-server's root.

    :param dag_id: the DAG's id.
    :param run_id: the run's id.
    """
    return viewer_path(dag_id, run_id) + "/channels"


def viewer_url(
    dag_id: str,
    run_id: str,
    task_id: str | None = None,
    map_index: int | None = None,
    base_url: str | None = None,
    *,
    channels: bool = False,
) -> str:
    """
    :func:`viewer_path` (or :func:`channels_path`) under Airflow's ``[api] base_url``: an
    ``http(s)`` URL when it is set (with its path prefix, for an api-server behind a proxy), else
    the same-origin path. The UI opens both.

    :param base_url: overrides ``[api] base_url``.
    :param channels: the run's channel view instead (``task_id`` and ``map_index`` unused).
    """
    if base_url is None:
        from airflow_provider_onemin.compat import conf

        base_url = conf.get("api", "base_url", fallback="") or ""
    path = channels_path(dag_id, run_id) if channels else viewer_path(dag_id, run_id, task_id, map_index)
    return base_url.rstrip("/") + path
