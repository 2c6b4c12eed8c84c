"""Fixtures for the emulator tests: a ``requests`` session sending the test key, and an uploader."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_onemin.emulator.server import EmulatorServer


@pytest.fixture
def emu(onemin_emulator: EmulatorServer) -> EmulatorServer:
    return onemin_emulator


@pytest.fixture
def api(emu: EmulatorServer) -> Iterator[requests.Session]:
    """A session sending the emulator's test key."""
    with requests.Session() as session:
        session.headers["API-KEY"] = emu.api_key or ""
        yield session


@pytest.fixture
def upload(emu: EmulatorServer, api: requests.Session) -> Callable[..., str]:
    """Upload bytes through ``POST /api/assets`` and return the asset key."""

    def _upload(data: bytes, filename: str = "photo.png", content_type: str = "image/png") -> str:
        answer = api.post(
            f"{emu.url}/api/assets", files={"asset": (filename, data, content_type)}, timeout=10
        )
        answer.raise_for_status()
        return answer.json()["fileContent"]["path"]

    return _upload
