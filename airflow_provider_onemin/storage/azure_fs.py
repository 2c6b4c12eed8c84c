"""
``az://`` for ObjectStoragePath: adlfs's own name for Azure Blob, served with the same Airflow
connection as ``abfs://``.

Airflow's microsoft-azure provider registers ``abfs``, ``abfss`` and ``adl`` only; without this,
``az://conn@container/key`` reaches fsspec's bare adlfs, which knows no connection and fails
("Must provide either a connection_string or account_name"). This module is listed under
``filesystems`` in :func:`airflow_provider_onemin.get_provider_info`, so Airflow hands ``az`` to
the azure provider's own ``get_fs`` (connection string, account key, service principal...), in
every process that builds an ObjectStoragePath (worker, triggerer, api-server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

schemes = ["az"]


def get_fs(conn_id: str | None, storage_options: dict[str, Any] | None = None) -> AbstractFileSystem:
    """
    The Azure Blob filesystem of Airflow connection ``conn_id``, as the azure provider builds it.

    :param conn_id: a ``wasb`` (or ``adls``) connection id; ``None`` for adlfs's default credentials.
    :param storage_options: passed on to adlfs.
    :raises ImportError: when the microsoft-azure provider or adlfs is not installed.
    """
    try:
        from airflow.providers.microsoft.azure.fs.adls import get_fs as azure_get_fs
    except ImportError as exc:
        raise ImportError(
            "az:// needs the microsoft-azure provider and adlfs: pip install 'airflow-provider-onemin[azure]'"
        ) from exc
    return azure_get_fs(conn_id, storage_options)
