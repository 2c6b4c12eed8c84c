"""
Hook for the 1min.ai API: connection parsing, one HTTP session, classified errors, careful retries.

Retry policy (docs/retry-policy.md has it as a table):

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
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, Literal, NoReturn, TypeVar
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from airflow_provider_onemin.exceptions import (
    OneMinConfigurationError,
    OneMinError,
    OneMinGenerationFailedError,
    OneMinMalformedResponseError,
    OneMinMalformedSubmissionError,
    OneMinRateLimitError,
    OneMinServerError,
    OneMinTimeoutError,
    OneMinTransportError,
    OneMinUnknownOutcomeError,
)
from airflow_provider_onemin.hooks.answers import (
    classify_answer,
    error_names,
    is_certificate_error,
    request_surely_not_sent,
    transport_failure,
)
from airflow_provider_onemin.hooks.client_settings import (
    DEFAULT_ASSET_BASE_URL,
    DEFAULT_BASE_URL,
    OneMinClientSettings,
    parse_base_url,
)
from airflow_provider_onemin.hooks.retry_policy import gave_up, retry_delay, short_error

if TYPE_CHECKING:
    import requests
    from tenacity import RetryCallState

T = TypeVar("T")

FEATURES_PATH = "/api/features"
ASSETS_PATH = "/api/assets"
RESULTS_PATH = "/api/results/{uuid}"
#: Asking for this uuid is authenticated but spends nothing: the connection test uses it.
ZERO_UUID = "00000000-0000-0000-0000-000000000000"

SUCCESS_STATUS = "SUCCESS"
PENDING_STATUSES = frozenset({"PROCESSING", "PENDING", "QUEUED", "IN_PROGRESS", "RUNNING", "STARTED"})

#: Statuses after which a paid POST surely was not processed, so it can be sent again.
_POST_SAFE_RETRY_STATUSES = frozenset({408, 429, 503, 522})
_RECORD_UUID = re.compile(r'"aiRecord"\s*:\s*\{\s*"uuid"\s*:\s*"([0-9A-Za-z-]{8,64})"')


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
        if isinstance(exc, requests.exceptions.SSLError) and is_certificate_error(exc):
            return OneMinConfigurationError(
                f"TLS verification failed for {method} {path} on {urlsplit(url).hostname} "
                f"({error_names(exc)}). Set 'ca_bundle' in the connection's extra if a proxy "
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
                    f"({error_names(exc)}); nothing was sent. Check the connection's host and "
                    "the network; retry later."
                )
            )
        # Anything else (a TLS error mid-answer included) may have happened after the request
        # reached the server.
        happened = f"the client {transport_failure(exc)} ({error_names(exc)})"
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
                short_error(error) if isinstance(error, OneMinError) else error,
                decide(state)[0],
            )

        def give_up(state: RetryCallState) -> NoReturn:
            retryable = state.outcome.exception() if state.outcome else None
            assert isinstance(retryable, _Retryable)
            reason = decide(state)[1] or "retries exhausted"
            elapsed = time.monotonic() - started
            raise gave_up(retryable.error, what, state.attempt_number, elapsed, reason) from None

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
        from airflow_provider_onemin.validation import record_or_none

        path = RESULTS_PATH.format(uuid=uuid)

        def attempt() -> dict[str, Any] | None:
            answer = self._call_json_once("GET", path)
            try:
                return record_or_none(answer, what=f"GET {path}")
            except OneMinMalformedResponseError as exc:
                raise _Retryable(exc) from exc

        return self._with_retries(f"GET {path}", attempt)

    @staticmethod
    def check_status(record: dict[str, Any]) -> bool:
        """True when the record is a success, False while pending; raise when it failed."""
        state = generation_state(record)
        if state != "failed":
            return state == "success"
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


def generation_state(record: dict[str, Any]) -> Literal["success", "pending", "failed"]:
    """Where a record's generation stands: any status but SUCCESS or a pending one is a failure."""
    status = str(record.get("status", "")).upper()
    if status == SUCCESS_STATUS:
        return "success"
    if status in PENDING_STATUSES:
        return "pending"
    return "failed"


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
