"""
Session and settings: the 1min.ai connection as both hooks read it, and their HTTP clients.

:class:`OneMinBaseHook` reads a connection once, the same way for the sync hook (requests, on
workers) and the async hook (httpx, in the triggerer): base URL, API key, client settings
(:class:`~airflow_provider_onemin.hooks.client_settings.OneMinClientSettings`), proxy and TLS.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import AirflowNotFoundException, BaseHook
from airflow_provider_onemin.exceptions import OneMinConfigurationError
from airflow_provider_onemin.hooks.client_settings import (
    DEFAULT_ASSET_BASE_URL,
    DEFAULT_BASE_URL,
    OneMinClientSettings,
    parse_base_url,
)

if TYPE_CHECKING:
    import httpx
    import requests


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


class OneMinBaseHook(BaseHook):
    """
    What a 1min.ai connection says, for the sync and the async hook alike.

    The API key is the connection's password; the host may point at a proxy or the local
    emulator. Client settings (timeouts, retries, proxy, CA bundle) come from the extra.

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

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Legacy form customisation; Airflow 3.2+ reads the same from the provider info."""
        from airflow_provider_onemin import CONNECTION_UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": CONNECTION_UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": CONNECTION_UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": CONNECTION_UI_FIELD_BEHAVIOUR["placeholders"],
        }

    # --- the connection ---------------------------------------------------------------------

    @staticmethod
    def _fields(conn: Any, extra: dict[str, Any] | None) -> _ConnectionFields:
        # Keep only what the hooks need; the key is wrapped so that no repr, vars() or log of the
        # hook can show it.
        return _ConnectionFields(
            host=conn.host, port=conn.port, extra=dict(extra or {}), password=_Secret(conn.password or "")
        )

    @cached_property
    def _connection(self) -> _ConnectionFields:
        conn = self.get_connection(self.onemin_conn_id)
        return self._fields(conn, conn.extra_dejson)

    async def aload_connection(self) -> None:
        """
        Read the connection without blocking the event loop (the async hook calls it first).

        The sync lookup would block the triggerer's loop and can deadlock its supervisor channel,
        as can ``extra_dejson``'s secret masking; the async variants are used instead.
        """
        if "_connection" in self.__dict__:
            return
        from airflow_provider_onemin.compat import get_async_connection, get_async_extra_dejson

        try:
            conn = await get_async_connection(self.onemin_conn_id)
        except AirflowNotFoundException:
            conn = await _connection_from_in_process_supervisor(self.onemin_conn_id)
            if conn is None:
                raise OneMinConfigurationError(
                    f"Connection {self.onemin_conn_id!r} is not defined where the triggerer can see it."
                ) from None
        self.__dict__["_connection"] = self._fields(conn, await get_async_extra_dejson(conn))

    @cached_property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        conn = self._connection
        return parse_base_url(conn.host, conn.port, self.onemin_conn_id)

    @cached_property
    def settings(self) -> OneMinClientSettings:
        """Client settings from the connection's extra."""
        settings, ignored = OneMinClientSettings.from_extra(self._connection.extra, self.onemin_conn_id)
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

    @property
    def api_key(self) -> str:
        """The API key; a clear error when the connection has none."""
        key = self._connection.password.value
        if not key:
            raise OneMinConfigurationError(
                f"Connection {self.onemin_conn_id!r} has no API key: put the 1min.ai API key in the "
                "connection's password field ('API Key' in the form)."
            )
        return key

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _is_api_url(self, url: str) -> bool:
        return url == self.base_url or url.startswith(self.base_url + "/")

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout, self.settings.read_timeout)

    @property
    def _user_agent(self) -> str:
        from airflow_provider_onemin import __version__

        return f"airflow-provider-onemin/{__version__}"

    # --- the sync client (requests) ---------------------------------------------------------

    def get_conn(self) -> requests.Session:
        """Return the hook's single HTTP session."""
        return self.session

    @cached_property
    def session(self) -> requests.Session:
        """The hook's HTTP session: proxy, CA bundle, User-Agent, connection pool."""
        import requests
        from requests.adapters import HTTPAdapter

        from airflow_provider_onemin.hooks.signatures import hide_signatures_in_http_logs

        hide_signatures_in_http_logs()
        session = requests.Session()
        session.headers["User-Agent"] = f"{self._user_agent} python-requests/{requests.__version__}"
        session.headers["Accept"] = "application/json"
        # Retries are decided by the hook from the classified error, so the adapter never retries.
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

    # --- the async client (httpx) -----------------------------------------------------------

    def async_client(self) -> httpx.AsyncClient:
        """A new httpx client with the same settings as :attr:`session` (the caller closes it)."""
        import httpx

        from airflow_provider_onemin.hooks.signatures import hide_signatures_in_http_logs

        hide_signatures_in_http_logs()
        settings = self.settings
        return httpx.AsyncClient(
            headers={
                "Accept": "application/json",
                "User-Agent": f"{self._user_agent} python-httpx/{httpx.__version__}",
            },
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            proxy=settings.proxy,
            verify=tls_context(settings.ca_bundle, settings.verify_ssl, settings.proxy is None),
            # Connection settings decide, as for requests: environment proxies would win otherwise.
            trust_env=settings.proxy is None,
            follow_redirects=False,
        )


async def _connection_from_in_process_supervisor(conn_id: str) -> Any:
    """
    The connection through the sync channel when a trigger runs inline in ``dag.test()``.

    There (and in ``airflow dags test``) Airflow 3.3 runs the trigger with an in-process
    supervisor channel that has no ``asend``, so ``aget_connection`` silently skips the metadata
    database and only sees environment variables and external secrets backends. The sync lookup
    works there; it runs in a thread so the event loop is not blocked. None elsewhere.
    """
    import asyncio

    from airflow.sdk.execution_time import task_runner

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is None or hasattr(comms, "asend"):
        return None
    try:
        return await asyncio.to_thread(BaseHook.get_connection, conn_id)
    except AirflowNotFoundException:
        return None


@functools.lru_cache(maxsize=8)
def tls_context(ca_bundle: str | None, verify_ssl: bool, trust_env: bool) -> ssl.SSLContext:
    """
    One TLS context per setting, shared by all async clients: building one loads the CA bundle
    (~30 ms of blocked event loop), which httpx would otherwise do for every trigger that starts.
    """
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    import httpx

    return httpx.create_ssl_context(verify=verify_ssl, trust_env=trust_env)
