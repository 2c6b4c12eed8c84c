"""
The emulator's HTTP application: the subset of the 1min.ai API this provider uses, plus faults.

API (``API-KEY`` header required on ``/api/*`` when a key is configured):

* ``POST /api/assets``: multipart upload (field ``asset``), kept in memory.
* ``POST /api/features``: Background Replacer generations, sync or ``"async": true``.
* ``GET /api/results/{uuid}``: the record as it is now; ``{"aiRecord": null}`` when unknown.

Downloads (no key, like ``https://asset.1min.ai/<key>``):

* ``GET /asset/{key}``: uploaded files and result PNGs (the ``temporaryUrl`` points here).
* ``GET /upstream/{uuid}/{index}.png``: the ``responseObject.data[].url`` of a result.

Control (no key): ``POST /_emulator/faults``, ``GET /_emulator/state``, ``POST /_emulator/config``,
``POST /_emulator/reset``.

Answers use the URL the client called (``Host`` header), so links work behind any port.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from datetime import datetime, timezone
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from airflow_provider_onemin.emulator import images
from airflow_provider_onemin.emulator.state import Fault, Generation, key_fingerprint
from airflow_provider_onemin.emulator.uploads import MultipartError, parse_multipart

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_onemin.emulator.state import EmulatorState

log = logging.getLogger(__name__)

FEATURE = "BACKGROUND_REPLACER"
MAX_SEED = 2147483647
_CUT = "onemin_emulator.cut"
_PROXY_REASONS = {522: "Connection timed out", 524: "A timeout occurred"}


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


def _cut(request: Request) -> Response:
    request.scope[_CUT].requested = True
    return Response(status_code=204)


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


def _proxy_page(code: int, retry_after: Any) -> Response:
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


def _in_flight_limit_answer(limit: int | None) -> Response:
    # Refused before anything is done: nothing charged, nothing recorded; no Retry-After, as the
    # real API does not always send one.
    return error_response(
        429,
        "RATE_LIMIT_EXCEEDED",
        f"Too many requests: this account may have at most {limit} generation(s) in progress.",
        {"max_in_flight": limit},
        {"feature": FEATURE},
    )


def _retry_after_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


class EmulatorApp:
    """Request handlers bound to one :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    # helpers
    def _denied(self, request: Request) -> Response | None:
        expected = self.state.config.api_key
        if expected is None:
            return None
        given = request.headers.get("API-KEY")
        if given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            return None
        return error_response(
            401,
            "UNAUTHORIZED",
            "Missing API-KEY header" if given is None else "Invalid API key",
            {"header": "API-KEY"},
        )

    async def _before(self, request: Request, fault: Fault | None, endpoint: str) -> Response | None:
        """Answer of a fault that replaces the real handling, or None to go on."""
        if fault is None:
            return None
        params = fault.params
        kind = fault.kind
        if kind == "status":
            return _proxy_page(params["code"], params["retry_after"])
        if kind == "reset_before_charge":
            return _cut(request)
        if kind == "unsafe":
            return error_response(
                422,
                "CONTENT_POLICY_VIOLATION",
                "The prompt or image was refused by the content safety filter.",
                {"is_image_safe": False},
            )
        if kind == "out_of_credits":
            return JSONResponse(
                {
                    "success": False,
                    "error": {"code": "INSUFFICIENT_CREDITS", "message": "Not enough credits"},
                },
                status_code=params["status"],
            )
        if kind == "bad_request":
            return self._bad_request(params["error_code"], params["message"])
        if kind == "null_record":
            return JSONResponse({"aiRecord": None})
        if kind == "delay" and not (endpoint == "features" and params["charge_first"]):
            await asyncio.sleep(params["seconds"])
            if await request.is_disconnected():
                # The client gave up while the call was "in the queue": nothing was done.
                return _cut(request)
        return None

    @staticmethod
    def _bad_request(error_code: str, message: str | None) -> Response:
        messages = {
            "UNSUPPORTED_MODEL": "The model is not supported for this feature.",
            "MISSING_REQUIRED_FIELDS": "Missing required fields.",
            "EXTERNAL_API_RESPONSE_WITH_ERROR": "The image service answered with an error.",
            "UNKNOWN_ERROR": "Something went wrong.",
        }
        return error_response(
            400, error_code, message or messages[error_code], {"emulated": True}, {"feature": FEATURE}
        )

    @staticmethod
    def _after(request: Request, fault: Fault | None, response: Response) -> Response:
        """Apply a fault that acts once the call has been handled."""
        if fault is None:
            return response
        if fault.kind == "reset_after_charge":
            return _cut(request)
        if fault.kind == "truncated_json":
            body = bytes(response.body)
            return Response(body[: len(body) // 2], status_code=200, media_type=response.media_type)
        return response

    @staticmethod
    def _base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    # records
    def record_view(
        self, generation: Generation, base_url: str, *, status: str | None = None
    ) -> dict[str, Any]:
        """The ``aiRecord`` of a generation as the real API shows it, at this moment."""
        status = status or generation.status
        detail: dict[str, Any] = {"promptObject": generation.prompt_object}
        record: dict[str, Any] = {
            "uuid": generation.uuid,
            "model": generation.model,
            "type": generation.feature,
            "status": status,
            "createdAt": generation.created_iso,
            "aiRecordDetail": detail,
        }
        if status == "SUCCESS":
            width, height = generation.resolution
            detail["resultObject"] = list(generation.result_keys)
            detail["responseObject"] = {
                "created": generation.created_iso,
                "data": [
                    {
                        "url": f"{base_url}/upstream/{generation.uuid}/{index}.png",
                        "prompt": generation.prompt,
                        "resolution": f"{width}x{height}",
                        "is_image_safe": True,
                        "seed": generation.seed,
                        "style_type": generation.prompt_object.get("style_type", "AUTO"),
                    }
                    for index in range(generation.num_images)
                ],
            }
            # Like the real API at times: a signed link for the first result only.
            record["temporaryUrl"] = (
                f"{base_url}/asset/{quote(generation.result_keys[0], safe='/')}?token={generation.token}"
            )
        elif status == "FAILURE":
            detail["resultObject"] = []
            detail["responseObject"] = {"error": generation.failure_message}
        return record

    async def render(self, generation: Generation, index: int) -> bytes:
        """PNG bytes of one result, drawn once (in a worker thread) and then cached."""
        cached = generation.renders.get(index)
        if cached is None:
            loop = asyncio.get_running_loop()
            cached = await loop.run_in_executor(
                None, images.render_result, generation.source, generation.prompt, generation.seed, index
            )
            generation.renders[index] = cached
        return cached

    def _source_bytes(self, image_url: str) -> bytes:
        """
        The source image: an uploaded asset, a result of an earlier generation, a link to either
        on this emulator, or (any other path or link) a synthetic product photo.
        """
        key = image_url
        if image_url.startswith(("http://", "https://")):
            path = unquote(urlsplit(image_url).path)
            if path.startswith("/asset/"):
                key = path[len("/asset/") :]
            elif path.startswith("/upstream/"):
                found = self._upstream(path[len("/upstream/") :])
                if found is None:
                    raise images.SourceImageError(f"no result at {image_url}")
                return self._render_now(*found)
            else:
                return images.synthetic_product(image_url)
            if self.state.asset(key) is None and self.state.result_of_key(key) is None:
                raise images.SourceImageError(f"no asset at {image_url}")
        asset = self.state.asset(key)
        if asset is not None:
            return asset.data
        result = self.state.result_of_key(key)
        if result is not None:
            return self._render_now(*result)
        return images.synthetic_product(key)

    def _render_now(self, generation: Generation, index: int) -> bytes:
        if generation.status != "SUCCESS":
            raise images.SourceImageError(f"result {index} of {generation.uuid} is not ready")
        cached = generation.renders.get(index)
        if cached is None:
            cached = images.render_result(generation.source, generation.prompt, generation.seed, index)
            generation.renders[index] = cached
        return cached

    def _upstream(self, rest: str) -> tuple[Generation, int] | None:
        record_uuid, _, name = rest.partition("/")
        generation = self.state.generation(record_uuid)
        index_text = name.removesuffix(".png")
        if generation is None or not index_text.isdigit() or int(index_text) >= generation.num_images:
            return None
        return generation, int(index_text)

    # endpoints
    async def features(self, request: Request) -> Response:
        """``POST /api/features``."""
        return self._echo_key(request, await self._features(request))

    async def results(self, request: Request) -> Response:
        """``GET /api/results/{uuid}``."""
        return self._echo_key(request, await self._results(request))

    def _echo_key(self, request: Request, response: Response) -> Response:
        """
        With ``echo_key`` configured, put the API key the client sent into a JSON answer, as a
        careless server might: in an error's message and in a record (``teamUser.apiKey``).
        """
        given = request.headers.get("API-KEY")
        if not self.state.config.echo_key or not given or not isinstance(response, JSONResponse):
            return response
        body = json.loads(bytes(response.body))
        if isinstance(body, dict):
            if isinstance(body.get("aiRecord"), dict):
                body["aiRecord"]["teamUser"] = {"apiKey": given}
            for holder in (body, body.get("error")):
                if isinstance(holder, dict) and isinstance(holder.get("message"), str):
                    holder["message"] = f"{holder['message']} (API-KEY {given})"
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return JSONResponse(body, status_code=response.status_code, headers=headers)

    async def _features(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        raw = await request.body()
        fault = self.state.take_fault("features")
        early = await self._before(request, fault, "features")
        if early is not None:
            if fault is not None and fault.kind == "status" and self.state.charges_before_answering(fault):
                # The billing model says this status comes after the generation was started.
                await self._generate(request, raw, None)
            return early
        response = await self._generate(request, raw, fault)
        return self._after(request, fault, response)

    def _check_body(self, raw: bytes) -> tuple[dict[str, Any] | None, Response | None]:
        try:
            body = json.loads(raw)
        except ValueError as error:
            return None, error_response(
                400, "UNKNOWN_ERROR", "The body is not valid JSON.", {"error": str(error)}
            )
        if not isinstance(body, dict):
            return None, error_response(400, "UNKNOWN_ERROR", "The body must be a JSON object.", {})
        feature = body.get("type")
        model = body.get("model")
        context = {"feature": feature, "model": model}
        if feature is None or model is None or not isinstance(body.get("promptObject"), dict):
            missing = [name for name in ("type", "model", "promptObject") if body.get(name) is None]
            return None, error_response(
                400, "MISSING_REQUIRED_FIELDS", "Missing required fields.", {"missing": missing}, context
            )
        if feature != FEATURE:
            return None, error_response(
                400, "UNKNOWN_ERROR", f"Feature type {feature!r} is not served by this emulator.", {}, context
            )
        from airflow_provider_onemin.validation import request_violations, supported_models

        if model not in supported_models():
            return None, error_response(
                400,
                "UNSUPPORTED_MODEL",
                f"Model {model!r} is not supported for {FEATURE}.",
                {"supported": supported_models()},
                context,
            )
        violations = request_violations(body, model)
        if violations:
            missing = all(line.endswith(": is required") for line in violations)
            return None, error_response(
                400,
                "MISSING_REQUIRED_FIELDS" if missing else "UNKNOWN_ERROR",
                "Missing required fields." if missing else "Invalid request: " + "; ".join(violations),
                {"violations": violations},
                context,
            )
        return body, None

    async def _generate(self, request: Request, raw: bytes, fault: Fault | None) -> Response:
        body, problem = self._check_body(raw)
        if problem is not None:
            return problem
        assert body is not None
        prompt_object = body["promptObject"]
        loop = asyncio.get_running_loop()
        try:
            source = await loop.run_in_executor(None, self._source_bytes, prompt_object["imageUrl"])
            resolution = images.source_size(source)
        except images.SourceImageError as error:
            return error_response(
                400,
                "EXTERNAL_API_RESPONSE_WITH_ERROR",
                f"The source image could not be used: {error}.",
                {"imageUrl": prompt_object["imageUrl"]},
                {"feature": FEATURE, "model": body["model"]},
            )
        failing = fault is not None and fault.kind == "failure"
        generation = self._new_generation(request, body, source, resolution, charged=not failing)
        if failing:
            assert fault is not None
            generation.outcome = "FAILURE"
            generation.failure_message = fault.params["message"]
        if not self.state.admit_generation(generation):
            return _in_flight_limit_answer(self.state.config.max_in_flight)
        log.debug(
            "Accepted generation %s (async=%s, charged=%s)",
            generation.uuid,
            generation.is_async,
            generation.charged,
        )
        if fault is not None and fault.kind == "delay" and fault.params["charge_first"]:
            await asyncio.sleep(fault.params["seconds"])
        base_url = self._base_url(request)
        if generation.is_async:
            return JSONResponse({"aiRecord": self.record_view(generation, base_url, status="PROCESSING")})
        if fault is not None and fault.kind == "reset_after_charge":
            return JSONResponse({})  # cut by _after; no need to wait for the render
        while (wait := generation.ready_at - time.monotonic()) > 0:
            # asyncio may wake a hair early (clock resolution): loop until the render is "done".
            await asyncio.sleep(max(wait, 0.001))
        return JSONResponse({"aiRecord": self.record_view(generation, base_url)})

    def _new_generation(
        self,
        request: Request,
        body: dict[str, Any],
        source: bytes,
        resolution: tuple[int, int],
        *,
        charged: bool,
    ) -> Generation:
        prompt_object = body["promptObject"]
        seed = prompt_object.get("seed")
        if seed is None:
            canonical = json.dumps([body["model"], prompt_object], sort_keys=True, separators=(",", ":"))
            seed = int.from_bytes(hashlib.sha256(canonical.encode("utf-8")).digest()[:4], "big") & MAX_SEED
        record_uuid = str(uuid.uuid4())
        now = datetime.now(timezone.utc)
        day = now.strftime("%Y_%m_%d")
        started = time.monotonic()
        return Generation(
            uuid=record_uuid,
            model=body["model"],
            feature=body["type"],
            prompt_object=json.loads(json.dumps(prompt_object)),
            source=source,
            resolution=resolution,
            seed=seed,
            result_keys=[
                f"development/images/{day}_bg_replace_{record_uuid}_{index}.png"
                for index in range(prompt_object["num_images"])
            ],
            created_at=started,
            created_iso=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ready_at=started + self.state.config.latency,
            is_async=body.get("async") is True,
            key_fingerprint=key_fingerprint(request.headers.get("API-KEY")),
            charged=charged,
            token=secrets.token_hex(16),
        )

    async def _results(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        fault = self.state.take_fault("results")
        early = await self._before(request, fault, "results")
        if early is not None:
            return early
        generation = self.state.generation(request.path_params["record_uuid"])
        if generation is not None and fault is not None and fault.kind == "failure":
            self.state.fail_generation(generation, fault.params["message"])
            generation.ready_at = min(generation.ready_at, time.monotonic())
        record = None if generation is None else self.record_view(generation, self._base_url(request))
        return self._after(request, fault, JSONResponse({"aiRecord": record}))

    async def assets(self, request: Request) -> Response:
        """``POST /api/assets`` (multipart, file field ``asset``)."""
        denied = self._denied(request)
        if denied is not None:
            return denied
        raw = await request.body()
        fault = self.state.take_fault("assets")
        early = await self._before(request, fault, "assets")
        if early is not None:
            return early
        try:
            parts = parse_multipart(request.headers.get("content-type", ""), raw)
        except MultipartError as error:
            response: Response = error_response(400, "UNKNOWN_ERROR", f"Cannot read the upload: {error}.", {})
            return self._after(request, fault, response)
        part = parts.get("asset")
        if part is None or part.filename is None:
            response = error_response(
                400, "MISSING_REQUIRED_FIELDS", "Missing required fields.", {"missing": ["asset"]}
            )
            return self._after(request, fault, response)
        asset = self.state.store_asset(
            part.data, part.filename, part.content_type or "application/octet-stream"
        )
        location = f"{self._base_url(request)}/asset/{quote(asset.key, safe='/')}"
        response = JSONResponse(
            {
                "asset": {
                    "key": asset.key,
                    "location": location,
                    "bucket": "onemin-emulator",
                    "mimetype": asset.content_type,
                    "size": len(asset.data),
                    "originalname": asset.filename,
                },
                "fileContent": {
                    "uuid": str(uuid.uuid4()),
                    "path": asset.key,
                    "name": asset.filename,
                    "type": asset.content_type,
                    "size": len(asset.data),
                },
            }
        )
        return self._after(request, fault, response)

    async def download_asset(self, request: Request) -> Response:
        """``GET /asset/{key}``: an uploaded file or a result PNG."""
        key = request.path_params["key"]

        async def find() -> Response | None:
            asset = self.state.asset(key)
            if asset is not None:
                return Response(asset.data, media_type=asset.content_type)
            result = self.state.result_of_key(key)
            if result is None or result[0].status != "SUCCESS":
                return None
            return Response(await self.render(*result), media_type="image/png")

        return await self._download(request, find)

    async def download_upstream(self, request: Request) -> Response:
        """``GET /upstream/{uuid}/{index}.png``."""
        found = self._upstream(f"{request.path_params['record_uuid']}/{request.path_params['name']}")

        async def find() -> Response | None:
            if found is None or found[0].status != "SUCCESS":
                return None
            return Response(await self.render(*found), media_type="image/png")

        return await self._download(request, find)

    async def _download(self, request: Request, find: Callable[[], Any]) -> Response:
        fault = self.state.take_fault("download")
        early = await self._before(request, fault, "download")
        if early is not None:
            return early
        response = await find()
        if response is None:
            response = Response(b"Not Found", status_code=404, media_type="text/plain")
        return self._after(request, fault, response)

    # control
    async def add_faults(self, request: Request) -> Response:
        """``POST /_emulator/faults``: one fault object or a list of them."""
        try:
            payload = json.loads(await request.body())
            faults = [Fault.from_dict(item) for item in (payload if isinstance(payload, list) else [payload])]
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        for fault in faults:
            self.state.add_fault(fault)
        return JSONResponse({"faults": self.state.pending_faults()})

    async def show_state(self, request: Request) -> Response:
        """``GET /_emulator/state``."""
        return JSONResponse(self.state.snapshot())

    async def configure(self, request: Request) -> Response:
        """
        ``POST /_emulator/config``: ``{"latency": seconds, "api_key": "..." or null,
        "max_in_flight": n or null, "charged_statuses": [codes]}`` (any of them).
        """
        try:
            payload = json.loads(await request.body() or b"{}")
            known = {"latency", "api_key", "max_in_flight", "charged_statuses", "echo_key"}
            if not isinstance(payload, dict) or set(payload) - known:
                raise ValueError(
                    'expected {"latency": seconds, "api_key": "..." or null, "max_in_flight": n or null, '
                    '"charged_statuses": [codes]}'
                )
            self.state.configure(**payload)
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(self.state.snapshot()["config"])

    async def reset(self, request: Request) -> Response:
        """``POST /_emulator/reset``; ``{"config": true}`` also restores the startup config."""
        try:
            payload = json.loads(await request.body() or b"{}")
        except ValueError:
            payload = {}
        self.state.reset(config=isinstance(payload, dict) and payload.get("config") is True)
        return JSONResponse(self.state.snapshot())


def create_app(state: EmulatorState) -> ASGIApp:
    """The ASGI application serving ``state``."""
    handlers = EmulatorApp(state)
    app = FastAPI(title="1min.ai emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/api/features", handlers.features, methods=["POST"])
    app.add_api_route("/api/results/{record_uuid}", handlers.results, methods=["GET"])
    app.add_api_route("/api/assets", handlers.assets, methods=["POST"])
    app.add_api_route("/asset/{key:path}", handlers.download_asset, methods=["GET"])
    app.add_api_route("/upstream/{record_uuid}/{name}", handlers.download_upstream, methods=["GET"])
    app.add_api_route("/_emulator/faults", handlers.add_faults, methods=["POST"])
    app.add_api_route("/_emulator/state", handlers.show_state, methods=["GET"])
    app.add_api_route("/_emulator/config", handlers.configure, methods=["POST"])
    app.add_api_route("/_emulator/reset", handlers.reset, methods=["POST"])
    return ConnectionCutter(app, state)
