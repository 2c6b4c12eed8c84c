"""
Transport and classification: one request, what its failure means, and the retries around it.

Both faces of the hook send through :class:`OneMinTransport`: the sync one with requests, the
async one with httpx. What a failure means is decided once for both (docs/retry-policy.md has it
as a table):

* Free calls (polls, uploads, downloads) are retried on every transient failure: connection
  errors, timeouts, 429, 408, 5xx, malformed answers.
* ``POST /api/features`` starts a paid generation. It is retried only when the request surely was
  not processed: 429 (not "out of credits"), 408, 503, 522, and connection errors raised before
  the request was sent. After a 500, 502, 504, 524, a read timeout, a reset after sending or a
  garbled answer, the generation may have been charged: the error is
  :class:`~airflow_provider_onemin.exceptions.OneMinUnknownOutcomeError` instead of paying twice,
  unless the connection's extra sets ``"retry_unknown_outcome": true``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from airflow_provider_onemin.exceptions import (
    OneMinConfigurationError,
    OneMinMalformedResponseError,
    OneMinRateLimitError,
    OneMinServerError,
    OneMinTransportError,
    OneMinUnknownOutcomeError,
)
from airflow_provider_onemin.hooks.answers import (
    classify_answer,
    error_names,
    transport_error_kind,
    transport_failure,
)
from airflow_provider_onemin.hooks.base import OneMinBaseHook
from airflow_provider_onemin.hooks.retry_policy import Retryable, retrying_options

if TYPE_CHECKING:
    import httpx
    import requests

T = TypeVar("T")

#: Statuses after which a paid POST surely was not processed, so it can be sent again.
POST_SAFE_RETRY_STATUSES = frozenset({408, 429, 503, 522})


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class OneMinTransport(OneMinBaseHook):
    """Sends requests for both hooks and turns every failure into one classified error."""

    # --- classification (both faces) --------------------------------------------------------

    def _auth(self, url: str, kwargs: dict[str, Any]) -> tuple[str, ...]:
        """Add the API key to ``kwargs["headers"]`` for API URLs only; return the secrets to redact."""
        headers = dict(kwargs.pop("headers", None) or {})
        secrets: tuple[str, ...] = ()
        if self._is_api_url(url):
            # The key goes to the API only, never to the asset host or a signed temporaryUrl, and
            # never along a redirect: clients re-send custom headers to whatever host it names.
            headers["API-KEY"] = self.api_key
            secrets = (self.api_key,)
        kwargs["headers"] = headers
        return secrets

    def _answer_failure(
        self, response: Any, method: str, url: str, *, paid: bool, sent_at: str, secrets: tuple[str, ...]
    ) -> Exception:
        """The error for a non-2xx answer; wrapped in Retryable when sending again is safe."""
        path = urlsplit(url).path or "/"
        error = classify_answer(response, method, path, secrets=secrets)
        if isinstance(error, (OneMinRateLimitError, OneMinServerError)):
            surely_unprocessed = isinstance(error, OneMinRateLimitError) or (
                error.status_code in POST_SAFE_RETRY_STATUSES
            )
            if not paid or surely_unprocessed:
                return Retryable(error, getattr(error, "retry_after", None))
            happened = f"1min.ai answered HTTP {error.status_code} ({error.summary})"
            return self._unknown_outcome(method, path, sent_at, happened, status_code=error.status_code)
        return error

    def _transport_failure(
        self, exc: BaseException, method: str, url: str, *, paid: bool, sent_at: str
    ) -> Exception:
        """The error for a request that got no complete answer; wrapped in Retryable if safe to resend."""
        parts = urlsplit(url)
        path = parts.path or "/"
        kind = transport_error_kind(exc)
        if kind == "certificate":
            return OneMinConfigurationError(
                f"TLS verification failed for {method} {path} on {parts.hostname} "
                f"({error_names(exc)}). Set 'ca_bundle' in the connection's extra if a proxy "
                "re-signs traffic."
            )
        if kind == "setup":
            return OneMinConfigurationError(
                f"{method} {path} could not be sent: {type(exc).__name__}. Check the connection's "
                "host and proxy."
            )
        if kind == "not_sent":
            return Retryable(
                OneMinTransportError(
                    f"Could not connect to {parts.netloc} for {method} {path} ({error_names(exc)}); "
                    "nothing was sent. Check the connection's host and the network; retry later."
                )
            )
        # Anything else (a TLS error mid-answer included) may have happened after the request
        # reached the server.
        happened = f"the client {transport_failure(exc)} ({error_names(exc)})"
        if paid:
            return self._unknown_outcome(method, path, sent_at, happened)
        return Retryable(
            OneMinTransportError(
                f"{method} {path} failed: {happened}. Retried automatically; if it persists, check "
                "the network or the 1min.ai status.",
                failure=happened,
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
        return Retryable(error) if retry else error

    @staticmethod
    def _not_json(method: str, path: str, status: int, size: int) -> Retryable:
        return Retryable(
            OneMinMalformedResponseError(
                f"1min.ai answered {method} {path} with HTTP {status} but the body is not valid JSON "
                f"({size} bytes, maybe truncated). Retried automatically; report it if it persists."
            )
        )

    # --- the sync face (requests) -----------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        paid: bool,
        sent_at: str | None = None,
        anonymous: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """
        Send one request and return its 2xx answer; anything else raises a classified error.
        ``anonymous``: without the API key, for a public endpoint (the model list).
        """
        import requests
        from airflow.sdk.log import mask_secret

        secrets = () if anonymous else self._auth(url, kwargs)
        for secret in secrets:
            mask_secret(secret)
        if secrets:
            kwargs["allow_redirects"] = False
        if self._tls_verify is not None:
            kwargs["verify"] = self._tls_verify
        sent_at = sent_at or now_iso()
        try:
            kwargs.setdefault("timeout", self.timeout)
            response = self.session.request(method, url, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise self._transport_failure(exc, method, url, paid=paid, sent_at=sent_at) from None
        if 200 <= response.status_code < 300:
            return response
        error = self._answer_failure(response, method, url, paid=paid, sent_at=sent_at, secrets=secrets)
        response.close()
        raise error

    def _with_retries(self, what: str, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it succeeds, raises a final error, or the retry budget is spent."""
        from tenacity import Retrying

        options = retrying_options(self.settings, what, self.log)
        try:
            # Most requests succeed at once: tenacity's bookkeeping (a good part of the hook's
            # own cost per call) starts only with the first retryable failure.
            return attempt()
        except Retryable as failure:
            replay = [failure]

        def replay_then_attempt() -> T:
            # Tenacity's first attempt is the one already made: it counts it, logs and waits
            # after it exactly as if it had made it itself.
            return _raise(replay.pop()) if replay else attempt()

        return Retrying(**options)(replay_then_attempt)

    def _call_json_once(self, method: str, path: str, **kwargs: Any) -> Any:
        """One attempt of a free JSON call; errors a retry can fix come wrapped in Retryable."""
        response = self._send(method, self._url(path), paid=False, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise self._not_json(method, path, response.status_code, len(response.content)) from None
        finally:
            response.close()

    def _call_json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._with_retries(f"{method} {path}", lambda: self._call_json_once(method, path, **kwargs))

    # --- the async face (httpx) -------------------------------------------------------------

    async def _asend(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        deadline: float | None = None,
        anonymous: bool = False,
    ) -> httpx.Response:
        """Send one free request with httpx; the same classification as :meth:`_send`."""
        import time

        import httpx

        from airflow_provider_onemin.compat import amask_secret

        kwargs: dict[str, Any] = {}
        secrets = () if anonymous else self._auth(url, kwargs)
        for secret in secrets:
            await amask_secret(secret)
        if deadline is not None:
            # A hung request must not outlive the wait's deadline by a whole read timeout.
            kwargs["timeout"] = _capped_timeout(client.timeout, max(1.0, deadline - time.time()))
        sent_at = now_iso()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, method, url, paid=False, sent_at=sent_at) from None
        if 200 <= response.status_code < 300:
            return response
        raise self._answer_failure(response, method, url, paid=False, sent_at=sent_at, secrets=secrets)

    async def _awith_retries(
        self, what: str, attempt: Callable[[], Awaitable[T]], *, deadline: float | None = None
    ) -> T:
        """:meth:`_with_retries` for coroutines: same policy, sleeping without blocking the loop."""
        from tenacity import AsyncRetrying

        options = retrying_options(self.settings, what, self.log, deadline=deadline)
        try:
            return await attempt()
        except Retryable as failure:
            replay = [failure]

        async def replay_then_attempt() -> T:
            return _raise(replay.pop()) if replay else await attempt()

        return await AsyncRetrying(**options)(replay_then_attempt)


def _raise(error: Exception) -> NoReturn:
    raise error


def _capped_timeout(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    import httpx

    def cap(value: float | None) -> float:
        return seconds if value is None else min(value, seconds)

    return httpx.Timeout(
        connect=cap(timeout.connect), read=cap(timeout.read), write=cap(timeout.write), pool=cap(timeout.pool)
    )
