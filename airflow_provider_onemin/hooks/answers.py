"""
Reading 1min.ai's answers: error bodies, ``Retry-After``, and what a transport failure means.

Both error shapes of the API are understood, HTML pages are reduced to their title, and every
failure is turned into one class of :mod:`airflow_provider_onemin.exceptions`. Shared by the sync
hook (requests) and the async hook (httpx): the functions take any response with
``status_code``, ``text`` and ``headers``, and either library's transport errors.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_onemin.exceptions import (
    OneMinAPIError,
    OneMinAuthenticationError,
    OneMinOutOfCreditsError,
    OneMinRateLimitError,
    OneMinRequestRejectedError,
    OneMinServerError,
    OneMinUnsafeContentError,
)

#: Error codes that say "out of credits" (docs/retry-policy.md says where each comes from). Only
#: a code counts, never the words of a message: "credits" or "billing" in free text prove nothing.
OUT_OF_CREDITS_CODES = frozenset(
    {
        "INSUFFICIENT_CREDITS",
        "INSUFFICIENT_CREDIT",
        "OUT_OF_CREDITS",
        "INSUFFICIENT_BALANCE",
        "PAYMENT_REQUIRED",
    }
)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each (non-empty) secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def redact_value(value: Any, secrets: Iterable[str]) -> Any:
    """A JSON value with every secret blanked out of its strings, at any depth (keys included)."""
    secrets = tuple(s for s in secrets if s)
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v, secrets) for v in value]
    return value


def summarize_body(response: Any, *, secrets: Iterable[str] = ()) -> tuple[str, dict[str, Any]]:
    """
    Summarise an error answer in one line, and return the error fields found in it.

    Both error shapes of the API are understood: ``{"errorCode", "message", "details"}`` (with
    ``details`` a JSON string) and ``{"success": false, "error": {"code", "message"}}``. An HTML
    page (a proxy's) is reduced to its title; nothing is ever dumped whole. ``secrets`` (the API
    key) are blanked out first, in case the answer echoes them.
    """
    text = redact(response.text or "", secrets)
    info: dict[str, Any] = {}
    try:
        payload = json.loads(text) if text.strip() else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error") if isinstance(payload.get("error"), dict) else None
        info["error_code"] = payload.get("errorCode") or (error or {}).get("code") or payload.get("code")
        info["api_message"] = payload.get("message") or (error or {}).get("message")
        if isinstance(info["api_message"], (dict, list)):
            info["api_message"] = json.dumps(info["api_message"])[:300]
        details = payload.get("details")
        if isinstance(details, str):
            try:
                details = json.loads(details)
            except ValueError:
                pass
        info["details"] = details
        parts = [str(info["error_code"]) if info["error_code"] else None, info["api_message"]]
        summary = ": ".join(p for p in parts if p) or json.dumps(payload)[:200]
        if details not in (None, "", [], {}):
            summary = f"{summary} (details: {json.dumps(details, default=str)[:300]})"
        return summary, info
    if "<html" in text[:500].lower() or "<!doctype" in text[:500].lower():
        match = _HTML_TITLE.search(text)
        title = " ".join(match.group(1).split()) if match else "no title"
        return f"an HTML page titled {title[:120]!r}", info
    snippet = " ".join(text.split())[:200]
    return (snippet or "an empty body"), info


def root_causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        current = todo.pop()
        # urllib3 keeps the cause in ``reason``; ssl errors use ``reason`` for a string.
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        chain.append(current)
        todo.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        todo.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
    return chain


def _is_httpx_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".", 1)[0] == "httpx"


def transport_error_kind(exc: BaseException) -> str:
    """
    What a transport error (requests or httpx) means: ``"certificate"`` (TLS verification
    failed), ``"setup"`` (the request could not even be built), ``"not_sent"`` (it failed before
    any byte reached the server) or ``"after_sending"`` (the server may have processed it).
    """
    if is_certificate_error(exc):
        return "certificate"
    if _is_httpx_error(exc):
        import httpx

        if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
            return "setup"
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)):
            return "not_sent"
        return "after_sending"
    import requests

    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidHeader,
        ),
    ):
        return "setup"
    return "not_sent" if request_surely_not_sent(exc) else "after_sending"


def request_surely_not_sent(exc: BaseException) -> bool:
    """True when a requests error happened before any byte of the request reached the server."""
    import requests
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError)):
        # urllib3 raises ProxyError only before it is connected to the proxy.
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.ReadTimeout
    ):
        return any(
            isinstance(c, (NewConnectionError, NameResolutionError, ConnectionRefusedError))
            for c in root_causes(exc)
        )
    return False


def is_out_of_credits(status: int, error_code: Any) -> bool:
    """
    402, or an explicit out-of-credits error code on a 4xx, 429 or 503 answer. Status first: a
    500, 502, 504 or 524 is never "out of credits", whatever its body says, because after a paid
    POST it may follow a generation that was started (an unknown outcome).
    """
    if status == 402:
        return True
    if not (400 <= status < 500 or status == 503):
        return False
    return isinstance(error_code, str) and error_code.strip().upper() in OUT_OF_CREDITS_CODES


def classify_answer(response: Any, method: str, path: str, *, secrets: Iterable[str] = ()) -> OneMinAPIError:
    """
    Turn an error answer (a requests or httpx response) into the matching error class.

    ``secrets`` (the API key) are blanked out of everything taken from the answer.
    """
    status = response.status_code
    summary, info = summarize_body(response, secrets=secrets)
    where = f"{method} {path}"
    common: dict[str, Any] = {
        "status_code": status,
        "error_code": info.get("error_code"),
        "api_message": info.get("api_message"),
        "details": info.get("details"),
        "method": method,
        "url": path,
    }
    cls: type[OneMinAPIError]
    if 300 <= status < 400:
        # Redirects are not followed with the key attached (requests would re-send the API-KEY
        # header to whatever host the redirect names).
        location = urlsplit(response.headers.get("Location") or "")
        target = f"{location.scheme}://{location.netloc}" if location.netloc else "another path"
        return OneMinRequestRejectedError(
            f"1min.ai answered {where} with a redirect (HTTP {status}) to {target}; redirects are not "
            "followed with the API key. Set the connection's host to the final base URL.",
            summary=f"a redirect to {target}",
            **common,
        )
    if is_out_of_credits(status, info.get("error_code")):
        cls = OneMinOutOfCreditsError
    elif status in (401, 403):
        cls = OneMinAuthenticationError
    elif status == 422:
        cls = OneMinUnsafeContentError
    elif status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        message = f"1min.ai answered {where} with HTTP 429 (rate limited): {summary}."
        if retry_after is not None:
            message += f" Retry-After: {readable_seconds(retry_after)} s."
        return OneMinRateLimitError(
            f"{message} {OneMinRateLimitError.hint}", retry_after=retry_after, summary=summary, **common
        )
    elif status >= 500 or status == 408:
        cls = OneMinServerError
    else:
        cls = OneMinRequestRejectedError
    return cls(
        f"1min.ai answered {where} with HTTP {status}: {summary}. {cls.hint}", summary=summary, **common
    )


def transport_failure(exc: BaseException) -> str:
    """What a transport error after sending means for the caller, in words (requests or httpx)."""
    if _is_httpx_error(exc):
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return "timed out waiting for the answer"
        if isinstance(exc, httpx.DecodingError):
            return "got an answer that broke off or could not be decoded"
        if isinstance(exc, httpx.TransportError):
            return "lost the connection after sending"
        return "failed after sending"
    import requests

    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timed out waiting for the answer"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return "got an answer that broke off or could not be decoded"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "lost the connection after sending"
    return "failed after sending"


def is_certificate_error(exc: BaseException) -> bool:
    """True when TLS failed because the server's certificate was not trusted (a setup problem)."""
    import ssl

    return any(
        isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cause)
        for cause in root_causes(exc)
    )


def error_names(exc: BaseException) -> str:
    """``ConnectionError: RemoteDisconnected``: the error and its innermost cause, by class name."""
    names = [type(e).__name__ for e in root_causes(exc)]
    return names[0] if len(names) == 1 or names[-1] == names[0] else f"{names[0]}: {names[-1]}"


def readable_seconds(value: float) -> str:
    """3600 -> "3600", 1.5 -> "1.5", 0.05 -> "0.05": readable, never in exponent notation."""
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"
