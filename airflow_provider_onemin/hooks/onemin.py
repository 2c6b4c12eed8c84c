"""
Hook for the 1min.ai API: connection parsing, one HTTP session, classified errors, careful retries.

Retry policy (the README has it as a table):

* ``GET`` requests (result polls, downloads) and asset uploads cost nothing: they are retried on
  every transient failure (connection errors, timeouts, 429, 5xx, malformed answers).
* ``POST /api/features`` starts a paid generation. It is retried only when the request surely was
  not processed: 429 rate limiting (not "out of credits"), 408, 503, 522, and connection errors
  raised before the request was sent. After a 500, 502, 504, 524, a read timeout, a reset after
  sending or a garbled 200, the generation may have been charged: the hook raises
  :class:`~airflow_provider_onemin.exceptions.OneMinUnknownOutcomeError` instead of paying twice,
  unless the connection's extra sets ``"retry_unknown_outcome": true``. A garbled 200 that still
  shows the record's uuid is not unknown: the hook polls that uuid (free) instead.

Backoff is exponential with jitter, honours ``Retry-After`` (seconds or an HTTP date), and is
bounded both in attempts and in the total time slept between them; all of it is set in the
connection's extra. docs/retry-policy.md has the whole policy as a table.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from airflow_provider_onemin.exceptions import (
    OneMinAPIError,
    OneMinAuthenticationError,
    OneMinConfigurationError,
    OneMinError,
    OneMinGenerationFailedError,
    OneMinMalformedResponseError,
    OneMinMalformedSubmissionError,
    OneMinOutOfCreditsError,
    OneMinRateLimitError,
    OneMinRequestRejectedError,
    OneMinServerError,
    OneMinTimeoutError,
    OneMinTransportError,
    OneMinUnknownOutcomeError,
    OneMinUnsafeContentError,
)

if TYPE_CHECKING:
    import requests
    from tenacity import RetryCallState

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.1min.ai"
DEFAULT_ASSET_BASE_URL = "https://asset.1min.ai"
FEATURES_PATH = "/api/features"
ASSETS_PATH = "/api/assets"
RESULTS_PATH = "/api/results/{uuid}"
#: Asking for this uuid is authenticated but spends nothing: the connection test uses it.
ZERO_UUID = "00000000-0000-0000-0000-000000000000"

SUCCESS_STATUS = "SUCCESS"
PENDING_STATUSES = frozenset({"PROCESSING", "PENDING", "QUEUED", "IN_PROGRESS", "RUNNING", "STARTED"})

#: Statuses after which a paid POST surely was not processed, so it can be sent again.
_POST_SAFE_RETRY_STATUSES = frozenset({408, 429, 503, 522})
_CREDITS_PATTERN = re.compile(
    r"credit|insufficient[ _]?(fund|balance)|\bbalance\b|payment|billing|top[ _-]?up", re.IGNORECASE
)
# "quota" alone also words rate limits ("quota of 60 requests per minute"): only with no sign of one.
_QUOTA_PATTERN = re.compile(r"quota", re.IGNORECASE)
_RATE_PATTERN = re.compile(r"rate|per (second|minute|hour)|too many|slow down", re.IGNORECASE)
_RECORD_UUID = re.compile(r'"aiRecord"\s*:\s*\{\s*"uuid"\s*:\s*"([0-9A-Za-z-]{8,64})"')
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class OneMinClientSettings:
    """
    Client settings read from the connection's extra; every one has a default.

    :param connect_timeout: seconds to open a connection.
    :param read_timeout: seconds to wait for an answer; image models are slow, so minutes.
    :param max_attempts: attempts per request, the first included.
    :param backoff_initial: first backoff in seconds; doubles each attempt, with jitter.
    :param backoff_max: longest single backoff in seconds (a longer ``Retry-After`` is obeyed
        only while it fits in ``max_retry_wait``).
    :param max_retry_wait: cap in seconds on the total time slept between the attempts of one
        request (a ``Retry-After`` that does not fit ends the retries).
    :param retry_unknown_outcome: re-send a paid request whose outcome is unknown (it may then be
        charged twice). Off by default.
    :param poll_interval: seconds between result polls.
    :param poll_timeout: seconds to wait for a generation before giving up (re-polling is free).
    :param proxy: proxy URL for http and https.
    :param ca_bundle: path of a CA bundle to verify TLS with.
    :param verify_ssl: set false only for a test proxy with a self-signed certificate.
    :param asset_base_url: where result keys are downloaded from (default: the public asset host
        for the public API, ``<base URL>/asset`` for any other host such as the emulator).
    :param max_download_bytes: refuse a result download larger than this.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    max_attempts: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    max_retry_wait: float = 300.0
    retry_unknown_outcome: bool = False
    poll_interval: float = 5.0
    poll_timeout: float = 3600.0
    proxy: str | None = None
    ca_bundle: str | None = None
    verify_ssl: bool = True
    asset_base_url: str | None = None
    max_download_bytes: int = 200 * 1024 * 1024

    @classmethod
    def from_extra(cls, extra: dict[str, Any], conn_id: str) -> tuple[OneMinClientSettings, list[str]]:
        """Parse the extra; return the settings and the names of keys that were ignored."""
        known = {f.name: f for f in fields(cls)}
        # The Airflow 2 form stored custom fields as "extra__onemin__<name>"; accept both spellings.
        extra = {k.removeprefix("extra__onemin__"): v for k, v in extra.items()}
        values: dict[str, Any] = {}
        for key, raw in extra.items():
            field = known.get(key)
            if field is None or raw is None or raw == "":
                continue
            values[key] = _coerce_setting(key, raw, cls.__dataclass_fields__[key].default, conn_id)
        ignored = sorted(k for k in extra if k not in known)
        settings = cls(**values)
        if settings.max_attempts < 1:
            raise OneMinConfigurationError(
                f"Connection {conn_id!r}: extra 'max_attempts' must be >= 1, got {settings.max_attempts}."
            )
        return settings, ignored


def _coerce_setting(key: str, raw: Any, default: Any, conn_id: str) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, str):
                if raw.strip().lower() not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(raw)
                return raw.strip().lower() in {"true", "1", "yes"}
            return bool(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            value = float(raw)
            if value < 0:
                raise ValueError(raw)
            return value
        return str(raw)
    except (TypeError, ValueError):
        raise OneMinConfigurationError(
            f"Connection {conn_id!r}: extra {key!r} has an invalid value {raw!r} "
            f"(expected a {type(default).__name__ if default is not None else 'string'})."
        ) from None


def parse_base_url(host: str | None, port: int | None = None, conn_id: str = "?") -> str:
    """
    Turn a connection's host into a base URL.

    Accepts ``http://127.0.0.1:8080``, ``https://proxy.example/onemin`` or a bare host name
    (which gets ``https://``); no host means the public API.
    """
    host = (host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    if "://" not in host:
        host = f"https://{host}"
    parts = urlsplit(host)
    if parts.username is not None or parts.password is not None:
        # Never echo the host here: the user part may be the key itself.
        raise OneMinConfigurationError(
            f"Connection {conn_id!r}: the host must not carry a user name or password; put the API "
            "key in the connection's password field ('API Key' in the form)."
        )
    if parts.scheme not in ("http", "https"):
        raise OneMinConfigurationError(
            f"Connection {conn_id!r}: the host must be an http(s) URL or a host name, "
            f"got scheme {parts.scheme!r}."
        )
    if not parts.hostname:
        raise OneMinConfigurationError(f"Connection {conn_id!r}: the host {host!r} has no host name.")
    try:
        parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError:
        raise OneMinConfigurationError(
            f"Connection {conn_id!r}: the host {host!r} must be an http(s) URL or a host name "
            "(its port is not a number)."
        ) from None
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


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


def _root_causes(exc: BaseException) -> list[BaseException]:
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


def request_surely_not_sent(exc: BaseException) -> bool:
    """True when a transport error happened before any byte of the request reached the server."""
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
            for c in _root_causes(exc)
        )
    return False


def _is_out_of_credits(status: int, error_code: str | None, api_message: str | None) -> bool:
    if status == 402:
        return True
    text = f"{error_code or ''} {api_message or ''}"
    if _CREDITS_PATTERN.search(text):
        return True
    return bool(_QUOTA_PATTERN.search(text)) and not _RATE_PATTERN.search(text)


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
    if _is_out_of_credits(status, info.get("error_code"), info.get("api_message")):
        cls = OneMinOutOfCreditsError
    elif status in (401, 403):
        cls = OneMinAuthenticationError
    elif status == 422:
        cls = OneMinUnsafeContentError
    elif status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        message = f"1min.ai answered {where} with HTTP 429 (rate limited): {summary}."
        if retry_after is not None:
            message += f" Retry-After: {_seconds(retry_after)} s."
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


def _seconds(value: float) -> str:
    """3600 -> "3600", 1.5 -> "1.5", 0.05 -> "0.05": readable, never in exponent notation."""
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _transport_failure(exc: BaseException) -> str:
    """What a requests error means for the caller, in words (after the request was sent)."""
    import requests

    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timed out waiting for the answer"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return "got an answer that broke off or could not be decoded"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "lost the connection after sending"
    return "failed after sending"


def _is_certificate_error(exc: BaseException) -> bool:
    """True when TLS failed because the server's certificate was not trusted (a setup problem)."""
    import ssl

    return any(
        isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cause)
        for cause in _root_causes(exc)
    )


def _error_names(exc: BaseException) -> str:
    """``ConnectionError: RemoteDisconnected``: the error and its innermost cause, by class name."""
    names = [type(e).__name__ for e in _root_causes(exc)]
    return names[0] if len(names) == 1 or names[-1] == names[0] else f"{names[0]}: {names[-1]}"


def retry_delay(
    settings: OneMinClientSettings, attempt_number: int, retry_after: float | None, slept: float
) -> tuple[float, str | None]:
    """
    How long to wait before attempt ``attempt_number + 1``, or why not to make it.

    Exponential backoff from ``backoff_initial`` (capped at ``backoff_max``) with equal jitter; a
    ``Retry-After`` is never cut short, so when it does not fit in what is left of
    ``max_retry_wait`` the request is given up; a plain backoff is shortened to fit instead.

    :return: ``(seconds, None)`` to retry, or ``(0, reason)`` to give up.
    """
    if attempt_number >= settings.max_attempts:
        return 0.0, f"max_attempts={settings.max_attempts} reached"
    remaining = settings.max_retry_wait - slept
    if retry_after is not None and retry_after > remaining:
        return 0.0, (
            f"1min.ai asked to wait {_seconds(retry_after)} s (Retry-After), more than the "
            f"{_seconds(max(remaining, 0.0))} s left of max_retry_wait={settings.max_retry_wait:g} s"
        )
    if remaining <= 0:
        return 0.0, f"max_retry_wait={settings.max_retry_wait:g} s of waiting spent"
    backoff = min(settings.backoff_max, settings.backoff_initial * 2 ** min(attempt_number - 1, 32))
    delay = backoff / 2 + random.uniform(0, backoff / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, remaining), None


def _short(error: OneMinError) -> str:
    """One line for a retry warning: the status and the answer's gist, or the error's first sentence."""
    if isinstance(error, OneMinAPIError) and error.summary:
        return f"HTTP {error.status_code}: {error.summary}"
    return str(error).split(". ", 1)[0]


def _gave_up(error: OneMinError, what: str, attempts: int, elapsed: float, reason: str) -> OneMinError:
    """``error`` with a first sentence saying how many attempts were made and why they stopped."""
    plural = "s" if attempts != 1 else ""
    error.args = (
        f"{what}: gave up after {attempts} attempt{plural} in {elapsed:.1f} s ({reason}). "
        f"Last error: {error}",
    )
    error.attempts = attempts  # type: ignore[attr-defined]
    return error


class _Secret:
    """Holds a secret; its repr never shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "_Secret('***')"


@dataclass(frozen=True)
class _ConnectionFields:
    host: str | None
    port: int | None
    extra: dict[str, Any]
    password: _Secret


class _Retryable(Exception):
    """Internal wrapper: the wrapped error may be retried; carries an optional wait hint."""

    def __init__(self, error: OneMinError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class OneMinHook(BaseHook):
    """
    Talks to the 1min.ai API: feature calls, asset upload, result polling and download.

    The API key is the connection's password; the host may point at a proxy or the local
    emulator. Client settings (timeouts, retries, proxy, CA bundle) come from the extra, see
    :class:`OneMinClientSettings`. One ``requests.Session`` serves every call of a hook instance.

    :param onemin_conn_id: the Airflow connection to use.
    """

    conn_name_attr = "onemin_conn_id"
    default_conn_name = "onemin_default"
    conn_type = "onemin"
    hook_name = "1min.ai"

    def __init__(self, onemin_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.onemin_conn_id = onemin_conn_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} conn_id={self.onemin_conn_id!r}>"

    # --- connection -------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Legacy form customisation; Airflow 3.2+ reads the same from the provider info."""
        from airflow_provider_onemin import CONNECTION_UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": CONNECTION_UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": CONNECTION_UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": CONNECTION_UI_FIELD_BEHAVIOUR["placeholders"],
        }

    @cached_property
    def _connection(self) -> _ConnectionFields:
        # Keep only what the hook needs; the key is wrapped so that no repr, vars() or log of the
        # hook can show it.
        conn = self.get_connection(self.onemin_conn_id)
        return _ConnectionFields(
            host=conn.host,
            port=conn.port,
            extra=dict(conn.extra_dejson or {}),
            password=_Secret(conn.password or ""),
        )

    @cached_property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        conn = self._connection
        return parse_base_url(conn.host, conn.port, self.onemin_conn_id)

    @cached_property
    def settings(self) -> OneMinClientSettings:
        """Client settings from the connection's extra."""
        extra = self._connection.extra
        settings, ignored = OneMinClientSettings.from_extra(extra, self.onemin_conn_id)
        if ignored:
            self.log.warning(
                "Connection %r: ignoring unknown extra field(s) %s (they are never sent as headers).",
                self.onemin_conn_id,
                ", ".join(ignored),
            )
        return settings

    @cached_property
    def asset_base_url(self) -> str:
        """Where result keys can be downloaded from."""
        if self.settings.asset_base_url:
            return parse_base_url(self.settings.asset_base_url, None, self.onemin_conn_id)
        if self.base_url == DEFAULT_BASE_URL:
            return DEFAULT_ASSET_BASE_URL
        return f"{self.base_url}/asset"

    def _api_key(self) -> str:
        key = self._connection.password.value
        if not key:
            raise OneMinConfigurationError(
                f"Connection {self.onemin_conn_id!r} has no API key: put the 1min.ai API key in the "
                "connection's password field ('API Key' in the form)."
            )
        from airflow.sdk.log import mask_secret

        mask_secret(key)
        return key

    def get_conn(self) -> requests.Session:
        """Return the hook's single HTTP session."""
        return self.session

    @cached_property
    def session(self) -> requests.Session:
        """The hook's HTTP session: proxy, CA bundle, User-Agent, connection pool."""
        import requests
        from requests.adapters import HTTPAdapter

        from airflow_provider_onemin import __version__

        session = requests.Session()
        session.headers["User-Agent"] = (
            f"airflow-provider-onemin/{__version__} python-requests/{requests.__version__}"
        )
        session.headers["Accept"] = "application/json"
        # Retries are decided by the hook from the classified error (a 429's body says whether it
        # is "out of credits"), so the adapter itself never retries.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        settings = self.settings
        if settings.proxy:
            session.proxies = {"http": settings.proxy, "https": settings.proxy}
        # Connection settings decide; environment proxies (HTTP_PROXY) would silently win otherwise.
        session.trust_env = settings.proxy is None
        if settings.ca_bundle:
            session.verify = settings.ca_bundle
        elif not settings.verify_ssl:
            session.verify = False
        return session

    def close(self) -> None:
        """Close the HTTP session (the hook opens a new one if used again)."""
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

    @property
    def _tls_verify(self) -> str | bool | None:
        """
        ``verify`` for each request, None to keep requests' default.

        Passed per request because requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from
        the environment override ``Session.verify``: the connection's ``ca_bundle`` was ignored
        exactly where such variables are set (corporate proxies).
        """
        if self.settings.ca_bundle:
            return self.settings.ca_bundle
        return None if self.settings.verify_ssl else False

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout, self.settings.read_timeout)

    # --- the request machinery --------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _is_api_url(self, url: str) -> bool:
        return url == self.base_url or url.startswith(self.base_url + "/")

    def _send(
        self,
        method: str,
        url: str,
        *,
        paid: bool,
        sent_at: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """
        Send one request and return its 2xx answer; anything else raises a classified error,
        wrapped in _Retryable when sending the request again is safe (see the module docstring).
        """
        import requests

        path = urlsplit(url).path or "/"
        headers = dict(kwargs.pop("headers", None) or {})
        secrets: tuple[str, ...] = ()
        if self._is_api_url(url):
            # The key goes to the API only, never to the asset host or a signed temporaryUrl, and
            # never along a redirect: requests re-sends custom headers to whatever host it names.
            key = self._api_key()
            headers["API-KEY"] = key
            secrets = (key,)
            kwargs["allow_redirects"] = False
        if self._tls_verify is not None:
            kwargs["verify"] = self._tls_verify
        sent_at = sent_at or _now_iso()
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise self._request_failed(exc, method, url, paid=paid, sent_at=sent_at) from None
        if 200 <= response.status_code < 300:
            return response
        error = classify_answer(response, method, path, secrets=secrets)
        response.close()
        if isinstance(error, (OneMinRateLimitError, OneMinServerError)):
            surely_unprocessed = isinstance(error, OneMinRateLimitError) or (
                error.status_code in _POST_SAFE_RETRY_STATUSES
            )
            if not paid or surely_unprocessed:
                raise _Retryable(error, getattr(error, "retry_after", None))
            happened = f"1min.ai answered HTTP {error.status_code} ({error.summary})"
            raise self._unknown_outcome(method, path, sent_at, happened, status_code=error.status_code)
        raise error

    def _request_failed(
        self, exc: requests.exceptions.RequestException, method: str, url: str, *, paid: bool, sent_at: str
    ) -> Exception:
        """The error for a request that got no complete answer; wrapped in _Retryable if safe to resend."""
        import requests

        path = urlsplit(url).path or "/"
        if isinstance(exc, requests.exceptions.SSLError) and _is_certificate_error(exc):
            return OneMinConfigurationError(
                f"TLS verification failed for {method} {path} on {urlsplit(url).hostname} "
                f"({_error_names(exc)}). Set 'ca_bundle' in the connection's extra if a proxy "
                "re-signs traffic."
            )
        if isinstance(
            exc,
            (
                requests.exceptions.InvalidURL,
                requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema,
                requests.exceptions.InvalidHeader,
            ),
        ):
            return OneMinConfigurationError(
                f"{method} {path} could not be sent: {type(exc).__name__}. Check the connection's "
                "host and proxy."
            )
        if request_surely_not_sent(exc):
            return _Retryable(
                OneMinTransportError(
                    f"Could not connect to {urlsplit(url).netloc} for {method} {path} "
                    f"({_error_names(exc)}); nothing was sent. Check the connection's host and "
                    "the network; retry later."
                )
            )
        # Anything else (a TLS error mid-answer included) may have happened after the request
        # reached the server.
        happened = f"the client {_transport_failure(exc)} ({_error_names(exc)})"
        if paid:
            return self._unknown_outcome(method, path, sent_at, happened)
        return _Retryable(
            OneMinTransportError(
                f"{method} {path} failed: {happened}. Retried automatically; if it persists, check "
                "the network or the 1min.ai status."
            )
        )

    def _unknown_outcome(
        self,
        method: str,
        path: str,
        sent_at: str,
        happened: str,
        *,
        status_code: int | None = None,
        cls: type[OneMinUnknownOutcomeError] = OneMinUnknownOutcomeError,
    ) -> Exception:
        """The error for a paid request that may have been processed; retryable only if opted in."""
        retry = self.settings.retry_unknown_outcome
        tail = (
            "retry_unknown_outcome is set in the connection's extra, so it is sent again (each "
            "attempt may be charged)."
            if retry
            else "It is NOT sent again, as that could charge twice. Check the 1min.ai history for a "
            "generation at that time; to re-send automatically in such cases set "
            '"retry_unknown_outcome": true in the connection\'s extra (it may then be charged twice).'
        )
        error = cls(
            f"{method} {path} was sent at {sent_at} and {happened}, so whether 1min.ai started the "
            f"generation (and charged it) is unknown. {tail}",
            sent_at=sent_at,
            status_code=status_code,
        )
        return _Retryable(error) if retry else error

    def _with_retries(self, what: str, attempt: Callable[[], T]) -> T:
        """
        Run ``attempt`` until it succeeds, raises a final error, or the retry budget is spent.

        Only errors wrapped in ``_Retryable`` are retried; :func:`retry_delay` decides how long to
        wait or why to stop, once per attempt, whatever order tenacity asks in.
        """
        from tenacity import Retrying, retry_if_exception_type

        settings = self.settings
        started = time.monotonic()
        decisions: dict[int, tuple[float, str | None]] = {}

        def decide(state: RetryCallState) -> tuple[float, str | None]:
            if state.attempt_number not in decisions:
                retryable = state.outcome.exception() if state.outcome else None
                retry_after = retryable.retry_after if isinstance(retryable, _Retryable) else None
                decisions[state.attempt_number] = retry_delay(
                    settings, state.attempt_number, retry_after, state.idle_for
                )
            return decisions[state.attempt_number]

        def before_sleep(state: RetryCallState) -> None:
            retryable = state.outcome.exception() if state.outcome else None
            error = retryable.error if isinstance(retryable, _Retryable) else retryable
            self.log.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.2f s.",
                what,
                state.attempt_number,
                settings.max_attempts,
                _short(error) if isinstance(error, OneMinError) else error,
                decide(state)[0],
            )

        def give_up(state: RetryCallState) -> NoReturn:
            retryable = state.outcome.exception() if state.outcome else None
            assert isinstance(retryable, _Retryable)
            reason = decide(state)[1] or "retries exhausted"
            elapsed = time.monotonic() - started
            raise _gave_up(retryable.error, what, state.attempt_number, elapsed, reason) from None

        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            wait=lambda state: decide(state)[0],
            stop=lambda state: decide(state)[1] is not None,
            before_sleep=before_sleep,
            retry_error_callback=give_up,
        )
        return retrying(attempt)

    def _call_json_once(self, method: str, path: str, **kwargs: Any) -> Any:
        """One attempt of a free JSON call; errors a retry can fix come wrapped in _Retryable."""
        response = self._send(method, self._url(path), paid=False, **kwargs)
        try:
            return response.json()
        except ValueError:
            error = OneMinMalformedResponseError(
                f"1min.ai answered {method} {path} with HTTP {response.status_code} but the body is "
                f"not valid JSON ({len(response.content)} bytes, maybe truncated). Retried "
                "automatically; report it if it persists."
            )
            raise _Retryable(error) from None
        finally:
            response.close()

    def _call_json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._with_retries(f"{method} {path}", lambda: self._call_json_once(method, path, **kwargs))

    # --- API calls --------------------------------------------------------------------------

    def run_feature(self, body: dict[str, Any]) -> dict[str, Any]:
        """
        POST ``body`` to ``/api/features`` (a paid call) and return the ``aiRecord``.

        With ``"async": true`` in the body the record usually comes back ``PROCESSING``; use
        :meth:`wait_for_result` with its uuid. A record whose status is neither a success nor
        pending raises :class:`OneMinGenerationFailedError`. When the answer is garbled but still
        shows the record's uuid, a ``PROCESSING`` stand-in with that uuid is returned: polling it
        is free, sending again is not.
        """
        # DEBUG: a library logs per call at DEBUG (the operator logs each paid submission at INFO);
        # an INFO line through Airflow's log pipeline costs ~0.15 ms, half the hook's overhead.
        self.log.debug(
            "Submitting %s/%s to %s%s", body.get("type"), body.get("model"), self.base_url, FEATURES_PATH
        )
        record = self._with_retries(f"POST {FEATURES_PATH}", lambda: self._submit_once(body))
        self.check_status(record)
        return record

    def _submit_once(self, body: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_onemin.validation import answer_violations, validate_answer

        method, path = "POST", FEATURES_PATH
        sent_at = _now_iso()
        response = self._send(method, self._url(path), paid=True, sent_at=sent_at, json=body)
        try:
            content = response.content
        finally:
            response.close()
        status = response.status_code
        try:
            answer = json.loads(content)
        except ValueError:
            problem = (
                f"1min.ai answered HTTP {status} with a body that is not valid JSON "
                f"({len(content)} bytes, maybe truncated)"
            )
            match = _RECORD_UUID.search(content.decode("utf-8", "replace"))
            return self._garbled_submission(sent_at, problem, match.group(1) if match else None)
        try:
            return validate_answer(answer, what=f"{method} {path}")
        except OneMinMalformedResponseError as exc:
            record = answer.get("aiRecord") if isinstance(answer, dict) else None
            uuid = record.get("uuid") if isinstance(record, dict) else None
            violations = "; ".join(answer_violations(answer)[:3]) or str(exc)
            problem = f"1min.ai answered HTTP {status} with an unexpected shape ({violations})"
            return self._garbled_submission(sent_at, problem, uuid if isinstance(uuid, str) else None)

    def _garbled_submission(self, sent_at: str, problem: str, uuid: str | None) -> dict[str, Any]:
        """Poll the generation a garbled answer still names; without a uuid, its outcome is unknown."""
        if uuid:
            self.log.warning(
                "POST %s: %s, but it names generation %s: polling that instead of paying again.",
                FEATURES_PATH,
                problem,
                uuid,
            )
            return {"uuid": uuid, "status": "PROCESSING"}
        raise self._unknown_outcome(
            "POST", FEATURES_PATH, sent_at, problem, cls=OneMinMalformedSubmissionError
        )

    def get_result(self, uuid: str) -> dict[str, Any] | None:
        """GET ``/api/results/{uuid}`` (free); ``None`` when 1min.ai has no such record."""
        from airflow_provider_onemin.validation import validate_answer

        path = RESULTS_PATH.format(uuid=uuid)

        def attempt() -> dict[str, Any] | None:
            answer = self._call_json_once("GET", path)
            if isinstance(answer, dict) and "aiRecord" in answer and answer["aiRecord"] is None:
                return None
            try:
                return validate_answer(answer, what=f"GET {path}")
            except OneMinMalformedResponseError as exc:
                raise _Retryable(exc) from exc

        return self._with_retries(f"GET {path}", attempt)

    @staticmethod
    def check_status(record: dict[str, Any]) -> bool:
        """True when the record is a success, False while pending; raise when it failed."""
        status = str(record.get("status", "")).upper()
        if status == SUCCESS_STATUS:
            return True
        if status in PENDING_STATUSES:
            return False
        uuid = record.get("uuid")
        reason = _failure_reason(record)
        raise OneMinGenerationFailedError(
            f"1min.ai generation {uuid} ended with status {record.get('status')!r}{reason}. Check the "
            "prompt and source image; retrying the same request usually fails the same way.",
            uuid=uuid,
            status=record.get("status"),
        )

    def wait_for_result(
        self,
        uuid: str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Poll ``/api/results/{uuid}`` until the generation succeeds (returned) or fails (raised)."""
        poll_interval = self.settings.poll_interval if poll_interval is None else poll_interval
        timeout = self.settings.poll_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        missing = 0
        while True:
            record = self.get_result(uuid)
            if record is None:
                missing += 1
                if missing >= 3:
                    raise OneMinMalformedResponseError(
                        f"1min.ai has no record of generation {uuid} (aiRecord: null, {missing} times). "
                        "It may have been deleted; check the 1min.ai history."
                    )
            elif self.check_status(record):
                return record
            else:
                missing = 0
            if time.monotonic() + poll_interval > deadline:
                raise OneMinTimeoutError(
                    f"Generation {uuid} did not finish within {timeout:g} s. Polling is free: retry the "
                    "task (it resumes this generation) or raise poll_timeout.",
                    uuid=uuid,
                )
            self.log.debug(
                "Generation %s is %s; polling again in %.1f s.",
                uuid,
                record.get("status") if record else "not visible yet",
                poll_interval,
            )
            time.sleep(poll_interval)

    def upload_asset(
        self,
        path_or_bytes: str | bytes | IO[bytes],
        filename: str | None = None,
        *,
        content_type: str | None = None,
    ) -> str:
        """
        Upload an image to ``/api/assets`` (free) and return its asset path (``fileContent.path``).

        :param path_or_bytes: a local file path, the file's bytes, or a binary file object.
        :param filename: the name to upload under (default: the path's base name).
        :param content_type: the MIME type (default: guessed from the file name).
        """
        import mimetypes
        import os

        if isinstance(path_or_bytes, (str, os.PathLike)):
            with open(path_or_bytes, "rb") as handle:
                data = handle.read()
            filename = filename or os.path.basename(os.fspath(path_or_bytes))
        elif isinstance(path_or_bytes, (bytes, bytearray)):
            data = bytes(path_or_bytes)
        else:
            data = path_or_bytes.read()
        filename = filename or "image"
        content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self.log.info("Uploading %s (%d bytes) to %s%s", filename, len(data), self.base_url, ASSETS_PATH)
        answer = self._call_json("POST", ASSETS_PATH, files={"asset": (filename, data, content_type)})
        path = None
        if isinstance(answer, dict):
            path = (answer.get("fileContent") or {}).get("path") or (answer.get("asset") or {}).get("key")
        if not isinstance(path, str) or not path:
            raise OneMinMalformedResponseError(
                f"1min.ai answered POST {ASSETS_PATH} without fileContent.path or asset.key; "
                "the upload cannot be used. Report it with the task log."
            )
        return path

    def result_download_urls(self, record: dict[str, Any]) -> list[str]:
        """
        One download URL per result: the record's ``temporaryUrl`` when present (it may be given
        for the first result only), else the asset URL of the key, else ``responseObject.data[].url``.
        """
        detail = record.get("aiRecordDetail") or {}
        keys = detail.get("resultObject") or []
        data = (detail.get("responseObject") or {}).get("data") or []
        temporary = record.get("temporaryUrl")
        temporary_urls = temporary if isinstance(temporary, list) else [temporary] if temporary else []
        urls: list[str] = []
        for index in range(max(len(keys), len(data))):
            if index < len(temporary_urls) and temporary_urls[index]:
                urls.append(temporary_urls[index])
            elif index < len(keys):
                key = keys[index]
                urls.append(key if "://" in key else f"{self.asset_base_url}/{key.lstrip('/')}")
            elif isinstance(data[index], dict) and data[index].get("url"):
                urls.append(data[index]["url"])
        return urls

    def download(self, url: str, destination: IO[bytes], *, chunk_size: int = 1024 * 1024) -> int:
        """
        Stream ``url`` into ``destination`` (a seekable binary file) and return the byte count.

        A download is free, so it is retried on every transient failure; each retry rewinds and
        truncates ``destination``. The API key is sent only when ``url`` is on the API's host.
        """
        limit = self.settings.max_download_bytes
        path = urlsplit(url).path

        def attempt() -> int:
            destination.seek(0)
            destination.truncate()
            response = self._send("GET", url, paid=False, stream=True)
            written = 0
            import requests

            try:
                for chunk in response.iter_content(chunk_size=chunk_size):
                    written += len(chunk)
                    if written > limit:
                        raise OneMinMalformedResponseError(
                            f"Result {path} is larger than max_download_bytes={limit}; refused."
                        )
                    destination.write(chunk)
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise _Retryable(
                    OneMinTransportError(f"Download of {path} broke off after {written} bytes; retried.")
                ) from exc
            finally:
                response.close()
            expected = response.headers.get("Content-Length")
            # With a Content-Encoding (gzip), Content-Length counts the encoded bytes, not these.
            encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
            if expected is not None and expected.isdigit() and not encoded and int(expected) != written:
                raise _Retryable(
                    OneMinTransportError(f"Download of {path} is incomplete ({written} of {expected} bytes).")
                )
            destination.flush()
            return written

        return self._with_retries(f"GET {path}", attempt)

    def test_connection(self) -> tuple[bool, str]:
        """Make an authenticated call that spends nothing: ``GET /api/results/<zero uuid>``."""
        import requests

        path = RESULTS_PATH.format(uuid=ZERO_UUID)
        try:
            key = self._api_key()
            response = self.session.get(
                self._url(path),
                headers={"API-KEY": key},
                timeout=(self.settings.connect_timeout, 30),
                allow_redirects=False,
                **({} if self._tls_verify is None else {"verify": self._tls_verify}),
            )
        except OneMinError as exc:
            return False, str(exc)
        except requests.exceptions.RequestException as exc:
            return False, f"Could not reach {self.base_url}: {type(exc).__name__}."
        with response:
            if response.status_code == 200:
                try:
                    response.json()
                except ValueError:
                    return False, f"{self.base_url} answered 200 but not with JSON: is the host right?"
                return True, f"Connection successfully tested: {self.base_url} accepted the API key."
            return False, str(classify_answer(response, "GET", path, secrets=(key,)))


def _failure_reason(record: dict[str, Any]) -> str:
    """The reason a failed record gives, wherever the API put it (record, detail or response)."""
    detail = record.get("aiRecordDetail") or {}
    response = detail.get("responseObject") if isinstance(detail.get("responseObject"), dict) else {}
    for source in (record, detail, response):
        for key in ("errorMessage", "error", "message", "failReason"):
            value = source.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if value:
                return f" ({str(value)[:200]})"
    return ""
