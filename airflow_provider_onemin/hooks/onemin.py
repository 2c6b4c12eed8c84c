"""
API calls of 1min.ai: :class:`OneMinHook` (sync, on workers) and :class:`OneMinAsyncHook` (async,
in the triggerer), side by side as ``HttpHook`` and ``HttpAsyncHook`` are.

Both share one client stack: connection parsing and client settings
(:mod:`~airflow_provider_onemin.hooks.base`), transport, error classification and redaction
(:mod:`~airflow_provider_onemin.hooks.transport`, :mod:`~airflow_provider_onemin.hooks.answers`),
the retry policy (:mod:`~airflow_provider_onemin.hooks.retry_policy`), the endpoints and what
their answers carry (:mod:`~airflow_provider_onemin.hooks.endpoints`) and the reading of records
(:mod:`~airflow_provider_onemin.hooks.records`). docs/retry-policy.md has the policy as a table.
"""

from __future__ import annotations

import time
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_onemin.exceptions import (
    OneMinError,
    OneMinMalformedResponseError,
    OneMinMalformedSubmissionError,
    OneMinTransportError,
)
from airflow_provider_onemin.hooks.answers import classify_answer
from airflow_provider_onemin.hooks.endpoints import (
    ASSETS_PATH,
    FEATURES_PATH,
    RESULTS_PATH,
    ZERO_UUID,
    GarbledSubmission,
    asset_part,
    asset_path,
    results_record,
    submission_record,
)
from airflow_provider_onemin.hooks.model_list import (
    MODEL_LIST_TTL,
    MODELS_PATH,
    ModelList,
    cached_list,
    fetch_model_list,
    model_is_listed,
    offered_models,
    parse_model_list,
    remember_list,
)
from airflow_provider_onemin.hooks.records import (
    GenerationWait,
    check_status,
    download_urls,
    generation_state,
)
from airflow_provider_onemin.hooks.retry_policy import Retryable
from airflow_provider_onemin.hooks.transport import OneMinTransport, now_iso

if TYPE_CHECKING:
    import httpx

__all__ = ["ModelList", "OneMinAsyncHook", "OneMinHook", "generation_state"]


class OneMinHook(OneMinTransport):
    """
    Talks to the 1min.ai API: feature calls, asset upload, result polling and download.

    The API key is the connection's password; the host may point at a proxy or the local
    emulator. Client settings (timeouts, retries, proxy, CA bundle) come from the extra, see
    :class:`~airflow_provider_onemin.hooks.client_settings.OneMinClientSettings`. One
    ``requests.Session`` serves every call of a hook instance.

    :param onemin_conn_id: the Airflow connection to use.
    """

    check_status = staticmethod(check_status)

    # Airflow 3.0 and 3.1 read the connection form from the registered hook class's own methods
    # (not inherited ones); 3.2+ reads ``conn-fields`` and ``ui-field-behaviour`` instead.

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The form's standard fields, for Airflow 3.0 and 3.1 (3.2+ reads the provider info)."""
        return super().get_ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The form's extra fields, for Airflow 3.0 and 3.1 (3.2+ reads ``conn-fields``)."""
        from airflow_provider_onemin import CONNECTION_FIELDS
        from airflow_provider_onemin.compat import legacy_connection_form_widgets

        return legacy_connection_form_widgets(CONNECTION_FIELDS)

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
        check_status(record)
        return record

    def _submit_once(self, body: dict[str, Any]) -> dict[str, Any]:
        method, path = "POST", FEATURES_PATH
        sent_at = now_iso()
        response = self._send(method, self._url(path), paid=True, sent_at=sent_at, json=body)
        try:
            content = response.content
        finally:
            response.close()
        answer = submission_record(content, response.status_code, (self.api_key,), what=f"{method} {path}")
        if isinstance(answer, GarbledSubmission):
            return self._garbled_submission(sent_at, answer.problem, answer.uuid)
        return answer

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

    def list_models(self, feature: str, *, max_age: float | None = None, retry: bool = True) -> ModelList:
        """
        The models 1min.ai lists for ``feature`` (``GET /models?feature=...``: public, sent
        without the key), read at most once per ``max_age`` seconds in this process; see
        :func:`~airflow_provider_onemin.hooks.model_list.read_model_list` (docs/models.md).

        :param feature: the feature type, ``BACKGROUND_REPLACER``.
        :param max_age: how old a list read before may be (default :data:`MODEL_LIST_TTL`; 0 reads anew).
        :param retry: retry transient failures as any free call (False: one attempt, for the
            connection test, which a person waits for).
        """
        return fetch_model_list(self, feature, max_age=max_age, retry=retry)

    def model_listed(self, feature: str, model: str, model_list: ModelList | None = None) -> bool:
        """
        True when ``model`` is in the model list of ``feature``; a warning says so when it is
        not (the list is advisory: the model is used anyway, never refused).
        """
        return model_is_listed(self.log, feature, model, model_list or self.list_models(feature))

    def get_result(self, uuid: str) -> dict[str, Any] | None:
        """GET ``/api/results/{uuid}`` (free); ``None`` when 1min.ai has no such record."""
        path = RESULTS_PATH.format(uuid=uuid)

        def attempt() -> dict[str, Any] | None:
            return results_record(self._call_json_once("GET", path), path, self.api_key)

        return self._with_retries(f"GET {path}", attempt)

    def wait_for_end(
        self, uuid: str, *, poll_interval: float | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Poll ``/api/results/{uuid}`` until the generation ends; return its last record."""
        timeout = self.settings.poll_timeout if timeout is None else timeout
        wait = GenerationWait(
            uuid,
            poll_interval=self.settings.poll_interval if poll_interval is None else poll_interval,
            deadline=time.time() + timeout,
            timeout=timeout,
            log=self.log,
        )
        while True:
            record = self.get_result(uuid)
            if wait.ended(record):
                assert record is not None
                return record
            time.sleep(wait.next_sleep(record))

    def wait_for_result(
        self, uuid: str, *, poll_interval: float | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Poll ``/api/results/{uuid}`` until the generation succeeds (returned) or fails (raised)."""
        record = self.wait_for_end(uuid, poll_interval=poll_interval, timeout=timeout)
        check_status(record)
        return record

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
        filename, data, content_type = asset_part(path_or_bytes, filename, content_type)
        self.log.info("Uploading %s (%d bytes) to %s%s", filename, len(data), self.base_url, ASSETS_PATH)
        answer = self._call_json("POST", ASSETS_PATH, files={"asset": (filename, data, content_type)})
        return asset_path(answer)

    def result_download_urls(self, record: dict[str, Any]) -> list[str]:
        """One download URL per result (see :func:`~airflow_provider_onemin.hooks.records.download_urls`)."""
        return download_urls(record, self.asset_base_url)

    def download(self, url: str, destination: IO[bytes], *, chunk_size: int = 1024 * 1024) -> int:
        """
        Stream ``url`` into ``destination`` (a seekable binary file) and return the byte count.

        A download is free, so it is retried on every transient failure; each retry rewinds and
        truncates ``destination``. The API key is sent only when ``url`` is on the API's host.
        """
        from urllib.parse import urlsplit

        limit = self.settings.max_download_bytes
        path = urlsplit(url).path

        def attempt() -> int:
            import requests

            destination.seek(0)
            destination.truncate()
            response = self._send("GET", url, paid=False, stream=True)
            written = 0
            try:
                for chunk in response.iter_content(chunk_size=chunk_size):
                    written += len(chunk)
                    if written > limit:
                        raise OneMinMalformedResponseError(
                            f"Result {path} is larger than max_download_bytes={limit}; refused."
                        )
                    destination.write(chunk)
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise Retryable(
                    OneMinTransportError(f"Download of {path} broke off after {written} bytes; retried.")
                ) from exc
            finally:
                response.close()
            expected = response.headers.get("Content-Length")
            # With a Content-Encoding (gzip), Content-Length counts the encoded bytes, not these.
            encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
            if expected is not None and expected.isdigit() and not encoded and int(expected) != written:
                raise Retryable(
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
            key = self.api_key
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
                return True, (
                    f"Connection successfully tested: {self.base_url} accepted the API key. "
                    f"{self._offered_models()}"
                )
            return False, str(classify_answer(response, "GET", path, secrets=(key,)))

    def _offered_models(self) -> str:
        """What the model list offers per feature, in words (one attempt each: a person waits)."""
        return offered_models(self)


class OneMinAsyncHook(OneMinTransport):
    """
    The async face of :class:`OneMinHook` for the triggerer: the same connection, settings, retry
    policy, classification and redaction, over httpx. It only makes free calls (result polls).

    Use it as an async context manager, which reads the connection without blocking the event
    loop and opens one httpx client::

        async with OneMinAsyncHook("onemin_default") as hook:
            record = await hook.wait_for_end(uuid, poll_interval=5, deadline=deadline)

    :param onemin_conn_id: the Airflow connection to use.
    """

    _client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> OneMinAsyncHook:
        await self.aload_connection()
        self.settings  # noqa: B018 - parse (and warn about) the extra before the first call
        self._client = self.async_client()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _client_or_fail(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("use OneMinAsyncHook as 'async with OneMinAsyncHook(...) as hook'")
        return self._client

    async def get_result(self, uuid: str, *, deadline: float | None = None) -> dict[str, Any] | None:
        """GET ``/api/results/{uuid}`` (free); ``None`` when 1min.ai has no such record."""
        client = self._client_or_fail()
        path = RESULTS_PATH.format(uuid=uuid)

        async def attempt() -> dict[str, Any] | None:
            response = await self._asend(client, "GET", self._url(path), deadline=deadline)
            try:
                answer = response.json()
            except ValueError:
                raise self._not_json("GET", path, response.status_code, len(response.content)) from None
            return results_record(answer, path, self.api_key)

        return await self._awith_retries(f"GET {path}", attempt, deadline=deadline)

    async def list_models(self, feature: str, *, max_age: float | None = None) -> ModelList:
        """The models 1min.ai lists for ``feature``, as :meth:`OneMinHook.list_models` (same cache)."""
        max_age = MODEL_LIST_TTL if max_age is None else max_age
        found = cached_list(self.base_url, feature, max_age)
        if found is not None:
            return found
        client = self._client_or_fail()
        url = f"{self._url(MODELS_PATH)}?feature={feature}"

        async def attempt() -> Any:
            response = await self._asend(client, "GET", url, anonymous=True)
            try:
                return response.json()
            except ValueError:
                raise self._not_json(
                    "GET", MODELS_PATH, response.status_code, len(response.content)
                ) from None

        listed = parse_model_list(await self._awith_retries(f"GET {MODELS_PATH}", attempt), feature)
        remember_list(self.base_url, listed)
        return listed

    async def wait_for_end(
        self, uuid: str, *, poll_interval: float, deadline: float, timeout: float
    ) -> dict[str, Any]:
        """Poll until the generation ends and return its last record (as :meth:`OneMinHook.wait_for_end`)."""
        import asyncio

        wait = GenerationWait(
            uuid, poll_interval=poll_interval, deadline=deadline, timeout=timeout, log=self.log
        )
        while True:
            record = await self.get_result(uuid, deadline=deadline)
            if wait.ended(record):
                assert record is not None
                return record
            await asyncio.sleep(wait.next_sleep(record))
