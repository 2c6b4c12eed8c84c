"""
Helpers for pipelines built around the operators, as the example marketing pipeline uses them.

Everything here is public API: DAGs may import it, and it changes only with a deprecation.

* :func:`results_asset`: the Asset announced for everything stored under an ``output_path``.
* :func:`preview_costs`: what a batch of requests would cost with ``reuse=True`` (how many images
  would be paid for, which would be reused, how many credits), before anything is paid.
* :func:`combined_preview`: one preview of requests to several features (the remover's and the
  replacer's), whose cap counts them all.
* :func:`mapped_values`: a mapped task's XComs by map index, ``None`` where a line has none.
* :func:`run_file` and :func:`write_run_file`: a file beside a run's results (a manifest).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Asset, ObjectStoragePath

    from airflow_provider_onemin.reuse.policy import ReusePreview

__all__ = [
    "combined_preview",
    "mapped_values",
    "preview_costs",
    "results_asset",
    "run_file",
    "write_run_file",
]


def results_asset(output_path: Any) -> Asset:
    """
    The Asset that stands for everything stored under ``output_path`` (the operators' outlet).

    :param output_path: the operators' ``output_path`` (a local path or an object-storage URL).
    """
    from airflow_provider_onemin.storage.location import asset_for_output

    return asset_for_output(output_path)


def preview_costs(
    output_path: Any,
    requests: Iterable[Mapping[str, Any]],
    model: str | None = None,
    *,
    onemin_conn_id: str | None = "onemin_default",
    feature: str = "BACKGROUND_REPLACER",
) -> ReusePreview:
    """
    What these requests would cost with ``reuse=True``, looked up in the reuse index; nothing is paid.

    The result has ``new_images`` (images that would be paid for), ``lines`` (one per request, with
    the generation it would reuse and its credit estimate), ``new_credits`` and
    ``unknown_credit_lines`` (docs/models.md, "Credits"), ``summary()``, ``credits_text()`` and
    ``check_cap(max_new_images, max_credits, allow_unknown_credits=...)``, which raises before
    anything is paid when a run would buy more images, or spend more credits, than allowed.

    :param output_path: the operators' ``output_path``.
    :param requests: the operators' arguments, rendered (``prompt``, ``image_url``, ``num_images``,
        ``seed``...); each is validated like the operator's.
    :param model: the operators' model (default: the feature's default model).
    :param onemin_conn_id: the connection whose public model list (read without the key) gives
        credit estimates; None: estimates come from earlier paid calls only.
    :param feature: ``BACKGROUND_REPLACER`` (default) or ``BACKGROUND_REMOVER`` for the
        ``BackgroundRemoverOperator``'s arguments (``image_url``, ``output_format``): a remover
        line is one image, and counts toward ``max_new_images`` like a replacer's.
    :raises OneMinValidationError: when a request is invalid.
    """
    from airflow_provider_onemin.reuse.policy import preview

    return preview(output_path, requests, model, onemin_conn_id=onemin_conn_id, feature=feature)


def combined_preview(*previews: ReusePreview) -> ReusePreview:
    """
    One preview of the lines of several (one per feature), in the order given: its counts, credits
    and ``check_cap`` cover them all.

    :param previews: what :func:`preview_costs` returned for each feature.
    """
    from airflow_provider_onemin.reuse.policy import ReusePreview

    return ReusePreview(lines=[line for item in previews for line in item.lines])


def mapped_values(mapped: Any, count: int) -> list[Any]:
    """
    A mapped task's values by map index, ``None`` where a map index stored none.

    Airflow 3.0 stores no ``None`` XCom, so a pulled list can be shorter than the number of lines.

    :param mapped: the pulled XCom of a mapped task (a lazy sequence or a list).
    :param count: how many map indexes the task had.
    """
    from airflow_provider_onemin.compat import mapped_values as compat_mapped_values

    return compat_mapped_values(mapped, count)


def run_file(output_path: Any, dag_id: str, run_id: str, name: str) -> ObjectStoragePath:
    """
    The path of a file beside a run's results: ``<output_path>/<dag_id>/<run_id>/<name>``.

    :param output_path: the operators' ``output_path``.
    :param dag_id: the run's DAG id; made safe for a path like the results' folders.
    :param run_id: the run id; likewise.
    :param name: the file's name.
    """
    from airflow_provider_onemin.storage.location import as_storage_path
    from airflow_provider_onemin.storage.results import safe_part

    return as_storage_path(output_path) / safe_part(dag_id) / safe_part(run_id) / name


def write_run_file(output_path: Any, dag_id: str, run_id: str, name: str, data: bytes) -> str:
    """
    Write a file beside a run's results, whole or not at all, and return its plain URI.

    The URI is what other tools accept (``s3://bucket/key``, ``file:///...``), without the
    connection id that an ``ObjectStoragePath`` carries.

    :param data: the file's bytes.
    """
    from airflow_provider_onemin.storage.location import plain_uri
    from airflow_provider_onemin.storage.results import write_file_atomically

    target = run_file(output_path, dag_id, run_id, name)
    write_file_atomically(target, data)
    return plain_uri(target)
