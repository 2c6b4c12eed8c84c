"""
The emulator's control routes (no key): queue faults, show the state, change the configuration,
reset. Tests and the ``onemin-emulator`` command drive the emulator through them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_onemin.emulator.faults import Fault

if TYPE_CHECKING:
    from airflow_provider_onemin.emulator.state import EmulatorState


class ControlRoutes:
    """``POST /_emulator/faults``, ``GET /_emulator/state``, ``POST /_emulator/config``, ``POST /_emulator/reset``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def add_faults(self, request: Request) -> Response:
        """``POST /_emulator/faults``: one fault object or a list of them."""
        try:
            payload = json.loads(await request.body())
            faults = [Fault.from_dict(item) for item in (payload if isinstance(payload, list) else [payload])]
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        for fault in faults:
            self.state.add_fault(fault)
        return JSONResponse({"faults": self.state.pending_faults()})

    async def show_state(self, request: Request) -> Response:
        """``GET /_emulator/state``."""
        return JSONResponse(self.state.snapshot())

    async def configure(self, request: Request) -> Response:
        """
        ``POST /_emulator/config``: ``{"latency": seconds, "api_key": "..." or null,
        "max_in_flight": n or null, "charged_statuses": [codes], "echo_key": bool,
        "link_secret": "..."}`` (any of them).
        """
        try:
            payload = json.loads(await request.body() or b"{}")
            known = {"latency", "api_key", "max_in_flight", "charged_statuses", "echo_key", "link_secret"}
            if not isinstance(payload, dict) or set(payload) - known:
                raise ValueError(
                    'expected {"latency": seconds, "api_key": "..." or null, "max_in_flight": n or null, '
                    '"charged_statuses": [codes]}'
                )
            self.state.configure(**payload)
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(self.state.snapshot()["config"])

    async def reset(self, request: Request) -> Response:
        """``POST /_emulator/reset``; ``{"config": true}`` also restores the startup config."""
        try:
            payload = json.loads(await request.body() or b"{}")
        except ValueError:
            payload = {}
        self.state.reset(config=isinstance(payload, dict) and payload.get("config") is True)
        return JSONResponse(self.state.snapshot())
