"""
pytest fixtures for the 1min.ai emulator (registered through the ``pytest11`` entry point).

* ``onemin_emulator_server`` (session): one running :class:`EmulatorServer` requiring
  :data:`TEST_API_KEY`.
* ``onemin_emulator`` (function): the same server, reset before the test (faults, records,
  assets, charges, and the key and latency back to their defaults).
* ``onemin_conn_env`` (function): also points ``AIRFLOW_CONN_ONEMIN_DEFAULT`` at it, with fast
  retry settings; returns the emulator URL.

This module is imported by every pytest run where the provider is installed, so it imports
nothing heavy: FastAPI and uvicorn load inside the fixtures only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_onemin.emulator.server import EmulatorServer

#: The fake API key the test emulator requires (never a real key).
TEST_API_KEY = "test-onemin-key-0123456789"
#: Connection extras that keep retries and polling fast in tests.
FAST_TEST_EXTRA: dict[str, Any] = {
    "backoff_initial": 0.01,
    "backoff_max": 0.05,
    "max_retry_wait": 2,
    "poll_interval": 0.05,
}
CONN_ENV_VAR = "AIRFLOW_CONN_ONEMIN_DEFAULT"


@pytest.fixture(scope="session")
def onemin_emulator_server() -> Iterator[EmulatorServer]:
    """A 1min.ai emulator running for the whole session (requires :data:`TEST_API_KEY`)."""
    try:
        from airflow_provider_onemin.emulator.server import EmulatorServer
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "The onemin_emulator fixtures need the emulator extra: "
            "pip install 'airflow-provider-onemin[emulator]'"
        ) from error
    server = EmulatorServer(api_key=TEST_API_KEY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def onemin_emulator(onemin_emulator_server: EmulatorServer) -> EmulatorServer:
    """The session emulator with a clean state and default config (key, no latency, no faults)."""
    onemin_emulator_server.reset(config=True)
    return onemin_emulator_server


@pytest.fixture
def onemin_conn_env(onemin_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Set ``AIRFLOW_CONN_ONEMIN_DEFAULT`` to the emulator (fast retries); return its URL."""
    connection = {
        "conn_type": "onemin",
        "host": onemin_emulator.url,
        "password": onemin_emulator.api_key,
        "extra": dict(FAST_TEST_EXTRA),
    }
    monkeypatch.setenv(CONN_ENV_VAR, json.dumps(connection))
    return onemin_emulator.url
