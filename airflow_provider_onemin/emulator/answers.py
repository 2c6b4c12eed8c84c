"""
The emulator's error answers, shaped as the real API's: JSON errors, a proxy's pages, refusals.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse, Response

FEATURE = "BACKGROUND_REPLACER"
_PROXY_REASONS = {522: "Connection timed out", 524: "A timeout occurred"}


def _error_body(
    error_code: str, message: str, details: Any, context: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "errorCode": error_code,
        "message": message,
        "details": json.dumps(details),
        "context": context or {},
    }


def error_response(
    status: int, error_code: str, message: str, details: Any = None, context: dict[str, Any] | None = None
) -> JSONResponse:
    """The API's usual error answer: ``errorCode``, ``message``, ``details`` (a JSON string), ``context``."""
    return JSONResponse(_error_body(error_code, message, details or {}, context), status_code=status)


def proxy_page(code: int, retry_after: Any) -> Response:
    """A proxy's answer of ``code``: an HTML page for 5xx, the API's JSON error otherwise."""
    reason = _PROXY_REASONS.get(code) or (
        HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
    )
    headers = {} if retry_after is None else {"Retry-After": _retry_after_value(retry_after)}
    if code >= 500:
        page = (
            f"<!DOCTYPE html>\n<html><head><title>api.1min.ai | {code}: {reason}</title></head>"
            f"<body><h1>{code} {reason}</h1><p>The origin server did not answer properly. "
            "Please try again in a few moments.</p><hr><p>emulated proxy</p></body></html>\n"
        )
        return HTMLResponse(page, status_code=code, headers=headers)
    if code == 429:
        body = _error_body("RATE_LIMIT_EXCEEDED", "Too many requests, please slow down.", {"status": code})
    else:
        body = _error_body("UNKNOWN_ERROR", reason, {"status": code})
    return JSONResponse(body, status_code=code, headers=headers)


def _retry_after_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def bad_request_answer(error_code: str, message: str | None) -> Response:
    """A 400 with ``error_code`` and its usual message (or ``message``)."""
    messages = {
        "UNSUPPORTED_MODEL": "The model is not supported for this feature.",
        "MISSING_REQUIRED_FIELDS": "Missing required fields.",
        "EXTERNAL_API_RESPONSE_WITH_ERROR": "The image service answered with an error.",
        "UNKNOWN_ERROR": "Something went wrong.",
    }
    return error_response(
        400, error_code, message or messages[error_code], {"emulated": True}, {"feature": FEATURE}
    )
