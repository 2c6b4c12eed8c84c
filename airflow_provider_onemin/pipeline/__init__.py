"""
Building blocks of pipelines around the operators, as the example marketing pipeline uses them:
the helpers of :mod:`.helpers`, the catalogue's channels and the review's choices
(:mod:`.channels`) and the publishing of approved renditions (:mod:`.publishing`).

Public: example DAGs import from here and from :mod:`~airflow_provider_onemin.operators` only.
May import every sub-package but :mod:`~airflow_provider_onemin.operators`.
"""

from __future__ import annotations

from airflow_provider_onemin.pipeline.channels import (
    DEFAULT_CHANNELS,
    MAIN_CHANNEL,
    catalogue_channels,
    catalogue_products,
    check_catalogue,
    collect_renditions,
    main_rendition_arguments,
    review_choices,
    scene_rendition_arguments,
)
from airflow_provider_onemin.pipeline.helpers import (
    combined_preview,
    mapped_values,
    preview_costs,
    results_asset,
    run_file,
    write_run_file,
)
from airflow_provider_onemin.pipeline.publishing import (
    APPROVED,
    NOT_REVIEWED,
    REJECTED,
    ReviewedRendition,
    publish_rendition,
    publish_reviewed,
    reviewed_renditions,
    write_review_manifest,
    write_shop_manifest,
)

__all__ = [
    "APPROVED",
    "DEFAULT_CHANNELS",
    "MAIN_CHANNEL",
    "NOT_REVIEWED",
    "REJECTED",
    "ReviewedRendition",
    "catalogue_channels",
    "catalogue_products",
    "check_catalogue",
    "collect_renditions",
    "combined_preview",
    "main_rendition_arguments",
    "mapped_values",
    "preview_costs",
    "publish_rendition",
    "publish_reviewed",
    "results_asset",
    "review_choices",
    "reviewed_renditions",
    "scene_rendition_arguments",
    "run_file",
    "write_review_manifest",
    "write_run_file",
    "write_shop_manifest",
]
