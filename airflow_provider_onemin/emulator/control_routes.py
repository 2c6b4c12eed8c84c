"""
The emulator's control routes (no key): queue faults, show the state, list the generations (what
each one was made from and what it made), change the configuration, reset. Tests and the
``onemin-emulator`` command drive the emulator through them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_onemin.emulator.faults import Fault
from airflow_provider_onemin.emulator.result_images import result_png_now

if TYPE_CHECKING:
    from airflow_provider_onemin.emulator.state import EmulatorState


class ControlRoutes:
    """
    ``POST /_emulator/faults``, ``GET /_emulator/state``, ``GET /_emulator/generations``,
    ``POST /_emulator/config``, ``POST /_emulator/finish``, ``POST /_emulator/reset``.
    """

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

    async def show_generations(self, request: Request) -> Response:
        """
        ``GET /_emulator/generations``: every generation, oldest first, with the SHA-256 of the
        source bytes it was made from and of each result it made (drawn now if need be), so a
        test can tell which paid generation a stored file comes from without asking the client.
        ``link_token`` is the secret part of its signed ``temporaryUrl`` (to look for leaks).
        """
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(None, self._generations_report)
        return JSONResponse({"generations": report})

    def _generations_report(self) -> list[dict[str, Any]]:
        report = []
        for generation in self.state.generations():
            status = generation.status
            results = []
            if status == "SUCCESS":
                for index, key in enumerate(generation.result_keys):
                    png = result_png_now(generation, index)
                    results.append({"key": key, "sha256": hashlib.sha256(png).hexdigest()})
            report.append(
                {
                    "uuid": generation.uuid,
                    "status": status,
                    "charged": generation.charged,
                    "source_sha256": hashlib.sha256(generation.source).hexdigest(),
                    "prompt": generation.prompt,
                    "seed": generation.seed,
                    "num_images": generation.num_images,
                    "results": results,
                    "link_token": generation.token,
                }
            )
        return report

    async def configure(self, request: Request) -> Response:
        """
        ``POST /_emulator/config``: ``{"latency": seconds, "api_key": "..." or null,
        "max_in_flight": n or null, "charged_statuses": [codes], "echo_key": bool,
        "link_secret": "...", "report_credit": bool, "unlisted_models": [ids]}`` (any of them).
        """
        try:
            payload = json.loads(await request.body() or b"{}")
            known = {
                "latency",
                "api_key",
                "max_in_flight",
                "charged_statuses",
                "echo_key",
                "link_secret",
                "report_credit",
                "unlisted_models",
            }
            if not isinstance(payload, dict) or set(payload) - known:
                raise ValueError(
                    'expected {"latency": seconds, "api_key": "..." or null, "max_in_flight": n or null, '
                    '"charged_statuses": [codes]}'
                )
            self.state.configure(**payload)
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(self.state.snapshot()["config"])

    async def finish(self, request: Request) -> Response:
        """``POST /_emulator/finish``: end every render in progress now (``{"finished": n}``)."""
        return JSONResponse({"finished": self.state.finish_rendering()})

    async def reset(self, request: Request) -> Response:
        """``POST /_emulator/reset``; ``{"config": true}`` also restores the startup config."""
        try:
            payload = json.loads(await request.body() or b"{}")
        except ValueError:
            payload = {}
        self.state.reset(config=isinstance(payload, dict) and payload.get("config") is True)
        return JSONResponse(self.state.snapshot())
