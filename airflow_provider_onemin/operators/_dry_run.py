"""
What ``dry_run=True`` tells the user: the request that would be sent, and what it would cost.

Nothing here uploads or pays: the local images are read and checked, the body is logged as it
would be POSTed, the reuse index (with ``reuse``) says whether an earlier generation would serve
the request, and what it would cost in credits is estimated (docs/models.md, "Credits"): from
1min.ai's public model list (read with the connection's host, without the key), else from earlier
paid calls with the same options under ``output_path``, else "unknown".
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.reuse.policy import dry_run_report

if TYPE_CHECKING:
    import logging
    from collections.abc import Sequence

    from airflow_provider_onemin.reuse.policy import RequestKey


def log_dry_run(
    body: dict[str, Any],
    *,
    output_path: Any,
    reuse_key: RequestKey | None,
    outlets: Sequence[Any],
    log: logging.Logger,
    onemin_conn_id: str | None = None,
) -> None:
    """
    Check the local images and log the request that would be sent; send nothing.

    The API key is never part of the body (it travels in a header), so nothing is masked here.

    :param body: the validated request body.
    :param output_path: where the results would be stored, if anywhere.
    :param reuse_key: the request's key with ``reuse``, else ``None``.
    :param outlets: the task's outlets, named as getting no asset event.
    :param log: the task's logger.
    :param onemin_conn_id: the connection whose model list gives the credit estimate (None: the
        list is not read).
    """
    from airflow_provider_onemin.inputs.uploads import read_local_images

    for field, _, image in read_local_images(body):
        size, name, mime = len(image.data), image.filename, image.mime_type
        log.info("Dry run: %s would be uploaded first (%s, %d bytes, %s).", field, name, size, mime)
    log.info(
        "Dry run: nothing uploaded, nothing paid. This body would be POSTed to %s:\n%s",
        "/api/features",
        json.dumps({**body, "async": True}, indent=2),
    )
    if output_path is not None and output_path != "":
        log.info("Dry run: results would be stored under %s", output_path)
    from airflow_provider_onemin.schemas.models import images_requested

    num_images = images_requested(body)  # under the model's own field, or 1
    report = dry_run_report(output_path, reuse_key, num_images)
    log.info("Dry run: %s.", report)
    if report.startswith("would reuse"):
        log.info("Dry run: would spend 0 credits (reused).")
    else:
        log.info("Dry run: would spend %s.", _estimate(body, output_path, onemin_conn_id, log).describe())
    if outlets:
        log.info("Dry run: no asset event for %s.", ", ".join(map(str, outlets)))


def _estimate(body: dict[str, Any], output_path: Any, onemin_conn_id: str | None, log: logging.Logger) -> Any:
    """What the request would cost (:func:`~airflow_provider_onemin.reuse.credits.estimate`)."""
    from airflow_provider_onemin.reuse.credits import estimate, read_model_list

    model_list = None
    if onemin_conn_id is not None:
        model_list = read_model_list(onemin_conn_id, body["type"], body["model"], log)
    return estimate(
        body["model"],
        body["promptObject"],
        model_list=model_list,
        output_path=output_path,
        feature=body["type"],
    )
