"""
What ``dry_run=True`` tells the user: the request that would be sent, and what it would cost.

Nothing here uploads, pays or reads the connection: the local images are read and checked, the
body is logged as it would be POSTed, and the reuse index (with ``reuse``) says whether an earlier
generation would serve the request.
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
) -> None:
    """
    Check the local images and log the request that would be sent; send nothing.

    The API key is never part of the body (it travels in a header), so nothing is masked here.

    :param body: the validated request body.
    :param output_path: where the results would be stored, if anywhere.
    :param reuse_key: the request's key with ``reuse``, else ``None``.
    :param outlets: the task's outlets, named as getting no asset event.
    :param log: the task's logger.
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
    log.info("Dry run: %s.", dry_run_report(output_path, reuse_key, num_images))
    if outlets:
        log.info("Dry run: no asset event for %s.", ", ".join(map(str, outlets)))
