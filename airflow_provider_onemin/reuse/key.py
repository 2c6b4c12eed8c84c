"""
The identity of one image request, as the reuse index files it (built by
:func:`airflow_provider_onemin.reuse.policy.request_key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestKey:
    """
    The identity of one image request.

    :param digest: SHA-256 (hex) of :attr:`request`, the record's file name.
    :param request: the canonical request that was hashed (images replaced by content digests).
    """

    digest: str
    request: dict[str, Any]
