"""RenditionsOperator: stored images into every channel's size, format and rules (local work, nothing paid)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# Only what building the operator needs is imported here: Pillow, jsonschema, storage and the
# rendering code load inside execute (tests/operators/test_operator_import.py guards it).
from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["RenditionsOperator"]

#: Must equal compliance.DEFAULT_FIDELITY_THRESHOLD (kept here so the DAG file loads no Pillow code).
DEFAULT_FIDELITY_THRESHOLD = 0.08


def _literal(value: Any) -> bool:
    """True when ``value`` is known when the DAG is parsed (no template, no XComArg)."""
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    if isinstance(value, dict):
        return all(_literal(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_literal(v) for v in value)
    return isinstance(value, (int, float, bool)) or value is None


class RenditionsOperator(BaseOperator):
    """
    Render stored images into channel renditions (docs/renditions.md): a marketplace main image
    on pure white, square shop images, social crops, WebP thumbnails, each checked against its
    channel's rule. Local work with Pillow; nothing is paid.

    Returns (XCom ``return_value``) ``{channel: [uri, ...]}``, one URI per image in input order.
    Also pushed: ``compliance`` (``{channel: [report, ...]}``, same order; the report's fields are
    in docs/renditions.md), ``storage_conn_id`` (the output's connection, None for default
    credentials) and, when given, ``product`` and ``source`` (the stored copy of ``source_image``).

    Everything is checked before anything is stored: an unknown preset or a bad custom one, a
    source that is missing, too small (more than 2x enlargement) or, for ``amazon_main``, neither a
    cut-out nor white-bordered, and every rendition against its channel's rule. Renditions are
    stored whole or not at all (as results are), named
    ``<output_path>/<dag>/<run>/<task>[/map-<k>]/<channel>/image-<i>.<ext>``.

    :param images: the source images: one URI, a list of URIs (``s3://``, ``file://``, an
        absolute path, any fsspec scheme), or an upstream's ``stored_paths``
        (``replace.output["stored_paths"]``; a mapped upstream's lists are flattened in map-index
        order). Mappable with ``.expand(images=...)``. (templated)
    :param channels: preset names (``amazon_main``, ``amazon_lifestyle``, ``shopify_square``,
        ``instagram_portrait``, ``instagram_story``, ``web_thumbnail``) and custom presets
        (mappings: ``name``, ``width``, ``height``, ``fit``, ``format``, ``quality``,
        ``background``). Checked when the DAG is parsed when literal. (templated)
    :param output_path: where renditions are stored: an ``ObjectStoragePath``, a URL
        (``s3://bucket/prefix``, ``s3://<conn_id>@bucket/prefix``) or an absolute local path, as for
        the Background Replacer. (templated)
    :param storage_conn_id: the connection that reads ``images`` (and ``product_masks``). Default:
        the connection of the upstream tasks' ``output_path`` as the DAG declares it (the
        replacer's and the remover's: what they push as XCom ``storage_conn_id``, but read from the
        DAG, never from XCom), when they agree; else the URI's own or default credentials. (templated)
    :param product_masks: the cut-out of each image's product (the Background Remover's result for
        the same photo): one URI for every image, or a list aligned with ``images`` (None where
        there is none). With it, each report has the product-fidelity score. (templated)
    :param fidelity_threshold: a result whose product-fidelity score is above it (0 identical, 1
        opposite) is flagged ``needs_review: true`` (docs/renditions.md).
    :param source_image: the original photo the images were made from (the "before" picture).
        A copy of it, at most 768 px on its longest side, is stored beside the renditions as
        ``source.jpg`` (``source.png`` with transparency) and its URI pushed as XCom ``source``, so
        the results viewer can show before and after. Read with the same connection as ``images``;
        it is read before anything is stored. (templated)
    :param product: what the images show, as the viewer and the review name it (for example
        ``{"sku": "MUG-001", "name": "Stoneware mug"}``); pushed as XCom ``product`` as given. A
        label only: nothing is read or stored by it. (templated)
    """

    template_fields: Sequence[str] = (
        "images",
        "channels",
        "output_path",
        "storage_conn_id",
        "product_masks",
        "source_image",
        "product",
    )
    template_fields_renderers = {
        "images": "json",
        "channels": "json",
        "product_masks": "json",
        "product": "json",
    }
    ui_color = "#fdf1e0"

    def __init__(
        self,
        *,
        images: Any,
        channels: Any,
        output_path: Any,
        storage_conn_id: str | None = None,
        product_masks: Any = None,
        fidelity_threshold: float = DEFAULT_FIDELITY_THRESHOLD,
        source_image: str | None = None,
        product: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.images = images
        self.channels = channels
        self.output_path = output_path
        self.storage_conn_id = storage_conn_id
        self.product_masks = product_masks
        self.source_image = source_image
        self.product = product
        if (
            isinstance(fidelity_threshold, bool)
            or not isinstance(fidelity_threshold, (int, float))
            or not (0 <= fidelity_threshold <= 1)
        ):
            from airflow_provider_onemin.exceptions import OneMinConfigurationError

            raise OneMinConfigurationError(
                f"fidelity_threshold: a number from 0 to 1 (got {fidelity_threshold!r}); docs/renditions.md"
            )
        self.fidelity_threshold = float(fidelity_threshold)
        if _literal(channels):
            from airflow_provider_onemin.renditions.presets import resolve_channels

            resolve_channels(channels)  # a bad literal fails the DAG import, as it would at run time

    def execute(self, context: Context) -> dict[str, list[str]]:
        from airflow_provider_onemin.compat import push_optional_xcom
        from airflow_provider_onemin.renditions.batch import Names, run_batch
        from airflow_provider_onemin.renditions.presets import resolve_channels
        from airflow_provider_onemin.renditions.sources import as_uri_list
        from airflow_provider_onemin.storage.results import check_output_writable, storage_conn_id

        presets = resolve_channels(self.channels)
        images = as_uri_list(self.images)
        masks = self._masks(len(images))
        check_output_writable(self.output_path)  # a missing bucket fails before any rendering
        ti = context["ti"]
        conn_id = self.storage_conn_id or self._upstream_conn_id()
        names = Names(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1))
        source_copy = None
        if self.source_image:
            from airflow_provider_onemin.renditions.source_copy import make_source_copy

            source_copy = make_source_copy(self.source_image, conn_id)  # read before anything is stored
        stored, reports = run_batch(
            images,
            presets,
            self.output_path,
            names,
            conn_id=conn_id,
            masks=masks,
            threshold=self.fidelity_threshold,
            log=self.log,
        )
        ti.xcom_push(key="compliance", value=reports)
        push_optional_xcom(ti, "storage_conn_id", storage_conn_id(self.output_path))
        if source_copy is not None:
            from airflow_provider_onemin.renditions.source_copy import store_source_copy

            ti.xcom_push(key="source", value=store_source_copy(source_copy, self.output_path, names))
        if self.product is not None:
            ti.xcom_push(key="product", value=self.product)
        flagged = sum(report["needs_review"] for entries in reports.values() for report in entries)
        self.log.info(
            "Stored %d rendition(s) of %d image(s) for %s; %d need review (product fidelity)",
            sum(len(uris) for uris in stored.values()),
            len(images),
            ", ".join(stored),
            flagged,
        )
        return stored

    def _masks(self, count: int) -> list[str | None]:
        from airflow_provider_onemin.exceptions import OneMinConfigurationError

        masks = self.product_masks
        if masks is None or masks == "":
            return [None] * count
        if isinstance(masks, str):
            return [masks] * count
        flat: list[Any] = []
        for item in masks:
            flat.extend(item if isinstance(item, (list, tuple)) else [item])
        if len(flat) != count or not all(m is None or isinstance(m, str) for m in flat):
            raise OneMinConfigurationError(
                f"product_masks: one URI for all images, or a list of {count} (one per image, None where "
                f"there is none); got {len(flat)} item(s)"
            )
        return flat

    def _upstream_conn_id(self) -> str | None:
        """
        The connection the upstream tasks store through, from their ``output_path`` as the DAG
        declares it (the replacer's and the remover's), None when none declares one.

        Never from XCom: anyone allowed to write a task's XCom could otherwise name a connection
        this task would read with. An upstream whose ``output_path`` is templated declares none.
        """
        from airflow_provider_onemin.exceptions import OneMinConfigurationError
        from airflow_provider_onemin.storage.location import storage_conn_id

        found: set[str] = set()
        for task_id in sorted(self.upstream_task_ids):
            upstream = self.dag.get_task(task_id)
            declared = getattr(upstream, "output_path", None)
            if declared is None:  # a mapped upstream keeps its arguments apart
                declared = (getattr(upstream, "partial_kwargs", None) or {}).get("output_path")
            if isinstance(declared, str):
                if not declared or not _literal(declared):
                    continue  # unset, or templated: known only when the upstream renders it
            elif not hasattr(declared, "protocol"):
                continue  # not an ObjectStoragePath: None, an XComArg...
            conn_id = storage_conn_id(declared)
            if conn_id:
                found.add(conn_id)
        if len(found) > 1:
            raise OneMinConfigurationError(
                f"storage_conn_id: the upstream tasks store through different connections "
                f"({', '.join(sorted(found))}); pass storage_conn_id to say which reads images"
            )
        return next(iter(found), None)
