"""
Make the connection list's *Test* button work for 1min.ai connections.

The ``onemin`` connection form hides the port (1min.ai has none). Airflow 3.3's UI still sends
``"port": 0`` when it tests a stored connection, and the api-server, seeing a port that differs
from the stored empty one, refuses to reuse the stored API key: ``400 The host or port to test
differs from the stored connection`` for every connection made as docs/connection.md says.

This ASGI middleware (registered by the viewer plugin as a root middleware of the api-server)
drops that hidden port from ``POST /api/v2/connections/test`` bodies of type ``onemin`` only, so
the request means what the form shows. Nothing else is touched: another type, a body with a real
port, a changed host (still refused by Airflow unless it carries its own key), other paths.
"""

from __future__ import annotations

import json
from typing import Any

CONNECTION_TYPE = "onemin"
_TEST_PATH = "/api/v2/connections/test"
_MAX_BODY = 1024 * 1024
_HIDDEN_PORT_VALUES = (0, None, "")


def without_hidden_port(body: bytes) -> bytes:
    """The test request ``body`` without the hidden port of a ``onemin`` connection."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or data.get("conn_type") != CONNECTION_TYPE:
        return body
    if "port" not in data or data["port"] not in _HIDDEN_PORT_VALUES:
        return body
    del data["port"]
    return json.dumps(data).encode("utf-8")


class HiddenPortConnectionTestMiddleware:
    """See the module docstring; a plain ASGI middleware (no import cost in other processes)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or not str(scope.get("path", "")).endswith(_TEST_PATH)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if not message.get("more_body", False) or size > _MAX_BODY:
                more = message.get("more_body", False)
                break
        body = b"".join(chunks)
        if more:  # too large to be a connection: pass it on untouched
            replayed = [{"type": "http.request", "body": body, "more_body": True}]
            await self.app(scope, _replay(replayed, receive), send)
            return
        body = without_hidden_port(body)
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        replayed = [{"type": "http.request", "body": body, "more_body": False}]
        await self.app({**scope, "headers": headers}, _replay(replayed, receive), send)


def _replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    pending = list(messages)

    async def replay() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
