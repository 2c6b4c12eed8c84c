"""
What every group of the emulator's API routes shares: the API key check and the faults' answers.

A fault taken for a call either replaces its handling (:meth:`RouteGroup._before`: a status, a
dropped connection before anything is done, a refusal, a delay) or changes its answer once it is
handled (:meth:`RouteGroup._after`: a dropped connection after the charge, a truncated body).
"""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_onemin.emulator.answers import bad_request_answer, error_response, proxy_page
from airflow_provider_onemin.emulator.connection_cut import cut_connection

if TYPE_CHECKING:
    from airflow_provider_onemin.emulator.faults import Fault
    from airflow_provider_onemin.emulator.state import EmulatorState


class RouteGroup:
    """Request handlers bound to one :class:`~airflow_provider_onemin.emulator.state.EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _denied(self, request: Request) -> Response | None:
        expected = self.state.config.api_key
        if expected is None:
            return None
        given = request.headers.get("API-KEY")
        if given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            return None
        return error_response(
            401,
            "UNAUTHORIZED",
            "Missing API-KEY header" if given is None else "Invalid API key",
            {"header": "API-KEY"},
        )

    async def _before(self, request: Request, fault: Fault | None, endpoint: str) -> Response | None:
        """Answer of a fault that replaces the real handling, or None to go on."""
        if fault is None:
            return None
        params = fault.params
        kind = fault.kind
        if kind == "status":
            return proxy_page(params["code"], params["retry_after"])
        if kind == "reset_before_charge":
            return cut_connection(request)
        if kind == "unsafe":
            return error_response(
                422,
                "CONTENT_POLICY_VIOLATION",
                "The prompt or image was refused by the content safety filter.",
                {"is_image_safe": False},
            )
        if kind == "out_of_credits":
            return JSONResponse(
                {
                    "success": False,
                    "error": {"code": "INSUFFICIENT_CREDITS", "message": "Not enough credits"},
                },
                status_code=params["status"],
            )
        if kind == "bad_request":
            return bad_request_answer(params["error_code"], params["message"])
        if kind == "null_record":
            return JSONResponse({"aiRecord": None})
        if kind == "delay" and not (endpoint == "features" and params["charge_first"]):
            await asyncio.sleep(params["seconds"])
            if await request.is_disconnected():
                # The client gave up while the call was "in the queue": nothing was done.
                return cut_connection(request)
        return None

    @staticmethod
    def _after(request: Request, fault: Fault | None, response: Response) -> Response:
        """Apply a fault that acts once the call has been handled."""
        if fault is None:
            return response
        if fault.kind == "reset_after_charge":
            return cut_connection(request)
        if fault.kind == "truncated_json":
            body = bytes(response.body)
            return Response(body[: len(body) // 2], status_code=200, media_type=response.media_type)
        return response

    @staticmethod
    def _base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")
