"""
Operator extra links: :class:`~.results.OneMinResultLink` opens a task's stored results.

Public. ``airflow_provider_onemin.links.OneMinResultLink``, the path registered before the links
had a package of their own, keeps working. May import :mod:`~airflow_provider_onemin.viewer`
(its URLs) and ``compat``.
"""

from __future__ import annotations

from airflow_provider_onemin.links.results import OneMinResultLink

__all__ = ["OneMinResultLink"]
