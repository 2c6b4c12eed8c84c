"""
What a 1min.ai connection says: the base URL and the client settings read from its extra.

Shared by the hook (requests) and the trigger (httpx), so both read a connection the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_onemin.exceptions import OneMinConfigurationError

DEFAULT_BASE_URL = "https://api.1min.ai"
DEFAULT_ASSET_BASE_URL = "https://asset.1min.ai"


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
