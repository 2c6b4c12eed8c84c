"""
Local servers for Google Cloud Storage and Azure Blob, one of each per test session, on loopback:
``gcp-storage-emulator`` (PyPI) and Azurite (npm, on Node.js). Airflow reaches each through
connections alone (docs/storage.md), as it would reach the real store:

* ``onemin_gcs``: a ``google_cloud_platform`` connection, anonymous, with ``gcs.endpoint``;
* ``onemin_azure``: a ``wasb`` connection with the connection string of Azurite's dev account;
* ``onemin_azure_bad_key``: the same account with a key the server does not know.

A fixture skips, saying why, when its server or the extra it needs is not installed: the main
``.venv`` has neither, the ``60-stores`` CI leg (.ci/legs/60-stores.sh) has both. Azurite is looked
for in ``ONEMIN_AZURITE`` (the ``azurite-blob`` command), then in ``.stores-node/``, where the leg's
prepare script installs it.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.airflow_helpers import REPO
from tests.support.processes import own_process_group

GCS_CONN_ID = "onemin_gcs"
AZURE_CONN_ID = "onemin_azure"
AZURE_BAD_KEY_CONN_ID = "onemin_azure_bad_key"
GCS_PROJECT = "onemin-test"
#: Azurite's published development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#: How long a server may take to listen: CI starts the stores leg beside the suite at a low CPU
#: priority, where a server's start may get a few % of a core; a failure to start shows in its log.
_STARTUP_SECONDS = 180


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def _missing(*modules: str) -> list[str]:
    return [name for name in modules if not _installed(name)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(process: subprocess.Popen, port: int, name: str) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}) before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)  # the port is the only sign of readiness both servers give
    raise RuntimeError(f"{name} did not listen on {port} within {_STARTUP_SECONDS} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
    process.wait(timeout=30)


@dataclass
class GcsServer:
    """A running gcp-storage-emulator and a client of it."""

    url: str
    process: subprocess.Popen

    @property
    def fs(self) -> Any:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(f"gs://{GCS_CONN_ID}@x").fs

    def new_bucket(self) -> str:
        name = f"onemin-{uuid.uuid4().hex[:12]}"
        self.fs.mkdir(name)
        return name

    def keys(self, bucket: str) -> list[str]:
        found = self.fs.find(bucket, refresh=True)
        return sorted(path.removeprefix(f"{bucket}/") for path in found)

    def content_type(self, uri: str) -> str:
        return self.fs.info(uri.removeprefix("gs://"), refresh=True)["contentType"]

    def read(self, uri: str) -> bytes:
        return self.fs.cat_file(uri.removeprefix("gs://"))

    def put(self, uri: str, data: bytes) -> None:
        self.fs.pipe_file(uri.removeprefix("gs://"), data)


@dataclass
class AzureServer:
    """A running Azurite (Blob service only) and a client of it."""

    url: str
    process: subprocess.Popen

    def connection_string(self, key: str = AZURITE_KEY) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
            f"BlobEndpoint={self.url}/{AZURITE_ACCOUNT};"
        )

    def client(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string())

    def new_container(self) -> str:
        name = f"onemin-{uuid.uuid4().hex[:12]}"
        self.client().create_container(name)
        return name

    def keys(self, container: str) -> list[str]:
        return sorted(b.name for b in self.client().get_container_client(container).list_blobs())

    def _blob(self, uri: str) -> Any:
        container, _, key = uri.split("://", 1)[1].partition("/")
        return self.client().get_blob_client(container, key)

    def content_type(self, uri: str) -> str:
        return self._blob(uri).get_blob_properties().content_settings.content_type

    def read(self, uri: str) -> bytes:
        return self._blob(uri).download_blob().readall()

    def put(self, uri: str, data: bytes) -> None:
        self._blob(uri).upload_blob(data, overwrite=True)


def _set_connections(patch: pytest.MonkeyPatch, connections: dict[str, dict[str, Any]]) -> None:
    for conn_id, conn in connections.items():
        patch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def gcs_connection(url: str) -> dict[str, Any]:
    """The Airflow connection docs/storage.md gives for gcp-storage-emulator."""
    extra = {"is_anonymous": True, "project": GCS_PROJECT, "gcs.endpoint": url}
    return {"conn_type": "google_cloud_platform", "extra": extra}


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GcsServer]:
    """gcp-storage-emulator on a free loopback port, in memory, with the ``onemin_gcs`` connection."""
    if missing := _missing("gcp_storage_emulator", "gcsfs", "airflow.providers.google"):
        pytest.skip(f"GCS tests need the gcs extra and gcp-storage-emulator (missing: {', '.join(missing)})")
    port = _free_port()
    command = Path(sys.executable).with_name("gcp-storage-emulator")
    process = subprocess.Popen(
        [str(command), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **own_process_group(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_listening(process, port, "gcp-storage-emulator")
        with pytest.MonkeyPatch.context() as patch:
            _set_connections(patch, {GCS_CONN_ID: gcs_connection(url)})
            yield GcsServer(url=url, process=process)
    finally:
        _stop(process)


def _azurite_command() -> str | None:
    configured = os.environ.get("ONEMIN_AZURITE")
    if configured:
        return configured
    local = REPO / ".stores-node" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


@pytest.fixture(scope="session")
def azure_server() -> Iterator[AzureServer]:
    """Azurite's Blob service on a free loopback port, in memory, with the ``onemin_azure*`` connections."""
    if missing := _missing("adlfs", "azure.storage.blob", "airflow.providers.microsoft.azure"):
        pytest.skip(f"Azure tests need the azure extra (missing: {', '.join(missing)})")
    command = _azurite_command()
    if command is None:
        pytest.skip(
            "Azure tests need Azurite: npm install --prefix .stores-node azurite (or set ONEMIN_AZURITE)"
        )
    port = _free_port()
    process = subprocess.Popen(
        [
            command,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            # The Azure SDK is often newer than the API versions the Azurite release knows.
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **own_process_group(),
    )
    server = AzureServer(url=f"http://127.0.0.1:{port}", process=process)
    wrong_key = base64.b64encode(b"not the key of devstoreaccount1").decode("ascii")
    try:
        _wait_listening(process, port, "Azurite")
        with pytest.MonkeyPatch.context() as patch:
            _set_connections(
                patch,
                {
                    AZURE_CONN_ID: {
                        "conn_type": "wasb",
                        "extra": {"connection_string": server.connection_string()},
                    },
                    AZURE_BAD_KEY_CONN_ID: {
                        "conn_type": "wasb",
                        "extra": {"connection_string": server.connection_string(wrong_key)},
                    },
                },
            )
            yield server
    finally:
        _stop(process)
