"""
Dropping a connection with no HTTP answer at all, as a proxy or a crashed server does.

A handler calls :func:`cut_connection` and returns what it gives; :class:`ConnectionCutter`, the
outermost ASGI layer, then swallows that answer and aborts the TCP connection. It also counts the
requests in progress in the emulator's state (tests wait for quiet before they count charges).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import Response

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_onemin.emulator.state import EmulatorState

_CUT = "onemin_emulator.cut"


class _CutRequest:
    """Per-request flag: set it and the connection is dropped instead of answered."""

    requested = False


class ConnectionCutter:
    """
    Outermost ASGI layer that can end a request with no HTTP answer at all.

    A handler sets the flag in ``scope`` and returns any response; this layer swallows that
    response and aborts the TCP connection, so the client sees a connection error and no status.
    uvicorn does not expose the transport to the application, but the ``send`` it passes in is a
    bound method of its request cycle, which holds the transport. When that is not available
    (another server), the fallback announces a longer body than it sends and then breaks off.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState | None = None) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cut = _CutRequest()
        scope[_CUT] = cut
        if self.state is not None:
            self.state.request_started()
        try:
            await self._serve(scope, receive, send, cut)
        finally:
            if self.state is not None:
                self.state.request_finished()

    async def _serve(self, scope: Scope, receive: Receive, send: Send, cut: _CutRequest) -> None:
        async def guarded_send(message: Message) -> None:
            if not cut.requested:
                await send(message)

        await self.app(scope, receive, guarded_send)
        if cut.requested:
            await _abort_connection(send)


async def _abort_connection(send: Send) -> None:
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
        # Let the server notice the lost connection, so it does not try to answer a 500.
        for _ in range(20):
            if getattr(cycle, "disconnected", True):
                break
            await asyncio.sleep(0)
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise ConnectionAbortedError("emulated connection reset")


def cut_connection(request: Request) -> Response:
    """Drop this request's connection instead of answering; return what the handler returns."""
    request.scope[_CUT].requested = True
    return Response(status_code=204)
