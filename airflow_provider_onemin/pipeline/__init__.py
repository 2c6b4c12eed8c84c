"""
Building blocks of pipelines around the operators, as the example marketing pipeline uses them:
the helpers of :mod:`.helpers` and the publishing of approved results (:mod:`.publishing`).

Public: example DAGs import from here and from :mod:`~airflow_provider_onemin.operators` only.
May import every sub-package but :mod:`~airflow_provider_onemin.operators`.
"""

from __future__ import annotations

from airflow_provider_onemin.pipeline.helpers import (
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
    ReviewedResult,
    publish_result,
    reviewed_results,
    write_review_manifest,
)

__all__ = [
    "APPROVED",
    "NOT_REVIEWED",
    "REJECTED",
    "ReviewedResult",
    "mapped_values",
    "preview_costs",
    "publish_result",
    "results_asset",
    "reviewed_results",
    "run_file",
    "write_review_manifest",
    "write_run_file",
]
