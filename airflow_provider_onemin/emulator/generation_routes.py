"""
The emulator's generation routes: ``POST /api/features`` (Background Replacer, sync or async) and
``GET /api/results/{uuid}``, with the records they answer as the real API shows them.

Submissions are checked as 1min.ai checks them (the emulator's own rules, :mod:`.rules`), the
billing model decides what a fault leaves charged (:meth:`EmulatorState.charges_before_answering`),
and an account's limit of generations in flight is enforced.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_onemin.emulator import images
from airflow_provider_onemin.emulator.answers import FEATURE, error_response
from airflow_provider_onemin.emulator.input_files import file_violations
from airflow_provider_onemin.emulator.models import MODELS
from airflow_provider_onemin.emulator.prices import call_credit, model_list
from airflow_provider_onemin.emulator.records import Generation, key_fingerprint
from airflow_provider_onemin.emulator.result_images import (
    BACKGROUND_REMOVER,
    find_upstream_result,
    result_extension,
    result_png_now,
)
from airflow_provider_onemin.emulator.route_group import RouteGroup
from airflow_provider_onemin.emulator.rules import check_request

if TYPE_CHECKING:
    from airflow_provider_onemin.emulator.faults import Fault
    from airflow_provider_onemin.emulator.rules import ModelRules

log = logging.getLogger(__name__)

MAX_SEED = 2147483647


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


class GenerationRoutes(RouteGroup):
    """``POST /api/features`` and ``GET /api/results/{uuid}``."""

    async def features(self, request: Request) -> Response:
        """``POST /api/features``."""
        return self._echo_key(request, await self._features(request))

    async def models(self, request: Request) -> Response:
        """``GET /models?feature=...``: the models of a feature and their prices (no key needed)."""
        feature = request.query_params.get("feature")
        self.state.model_list_called(feature, with_key="API-KEY" in request.headers)
        return JSONResponse(model_list(feature, self.state.config.unlisted_models))

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
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
        }
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

    def _check_body(self, raw: bytes) -> tuple[dict[str, Any], ModelRules] | Response:
        """The parsed body and its model's rules when the API would take it, else its error answer."""
        try:
            body = json.loads(raw)
        except ValueError as error:
            return error_response(400, "UNKNOWN_ERROR", "The body is not valid JSON.", {"error": str(error)})
        rules, refusal = check_request(body, MODELS)
        if refusal is not None:
            return error_response(
                refusal.status, refusal.error_code, refusal.message, refusal.details, refusal.context
            )
        assert rules is not None
        return body, rules

    async def _generate(self, request: Request, raw: bytes, fault: Fault | None) -> Response:
        checked = self._check_body(raw)
        if isinstance(checked, Response):
            return checked
        body, rules = checked
        prompt_object = body["promptObject"]
        loop = asyncio.get_running_loop()
        broken = await loop.run_in_executor(None, file_violations, rules, prompt_object, self._held_bytes)
        if broken:
            return error_response(
                400,
                "EXTERNAL_API_RESPONSE_WITH_ERROR",
                "A file of the request could not be used: " + "; ".join(broken),
                {"violations": broken},
                {"feature": body["type"], "model": body["model"]},
            )
        try:
            source = await loop.run_in_executor(None, self._source_bytes, prompt_object["imageUrl"])
            resolution = images.source_size(source)
        except images.SourceImageError as error:
            return error_response(
                400,
                "EXTERNAL_API_RESPONSE_WITH_ERROR",
                f"The source image could not be used: {error}.",
                {"imageUrl": prompt_object["imageUrl"]},
                {"feature": body["type"], "model": body["model"]},
            )
        failing = fault is not None and fault.kind == "failure"
        generation = self._new_generation(
            request, body, source, resolution, count=rules.image_count(prompt_object), charged=not failing
        )
        if failing:
            assert fault is not None
            generation.outcome = "FAILURE"
            generation.failure_message = fault.params["message"]
        if fault is not None and fault.kind == "withheld":
            generation.kept = fault.params["keep"]
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
        count: int,
        charged: bool,
    ) -> Generation:
        prompt_object = body["promptObject"]
        seed = prompt_object.get("seed")
        if seed is not None:
            seed = int(seed)  # 42.0 is the JSON number 42: the record shows it as one
        else:
            canonical = json.dumps([body["model"], prompt_object], sort_keys=True, separators=(",", ":"))
            seed = int.from_bytes(hashlib.sha256(canonical.encode("utf-8")).digest()[:4], "big") & MAX_SEED
        record_uuid = str(uuid.uuid4())
        credit = None
        if self.state.config.report_credit:
            credit = call_credit(body["type"], body["model"], prompt_object, count)
        now = datetime.now(timezone.utc)
        day = now.strftime("%Y_%m_%d")
        started = time.monotonic()
        generation = Generation(
            uuid=record_uuid,
            model=body["model"],
            feature=body["type"],
            prompt_object=json.loads(json.dumps(prompt_object)),
            source=source,
            resolution=resolution,
            seed=seed,
            result_keys=[],
            created_at=started,
            created_iso=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ready_at=started + self.state.config.latency,
            is_async=body.get("async") is True,
            key_fingerprint=key_fingerprint(request.headers.get("API-KEY")),
            charged=charged,
            token=self.state.new_link_signature(),
            credit=credit,
        )
        # The key names the feature and ends like what it serves (a remover's webp is .webp).
        action = "bg_remove" if body["type"] == BACKGROUND_REMOVER else "bg_replace"
        extension = result_extension(generation)
        generation.result_keys = [
            f"development/images/{day}_{action}_{record_uuid}_{index}.{extension}" for index in range(count)
        ]
        return generation

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
        if generation is not None and fault is not None and fault.kind == "withheld":
            generation.kept = fault.params["keep"]
        record = None if generation is None else self.record_view(generation, self._base_url(request))
        return self._after(request, fault, JSONResponse({"aiRecord": record}))

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
            if generation.credit is not None:
                # Seen by public clients, not documented: what the call cost.
                record["metadata"] = {"credit": generation.credit}
            width, height = generation.resolution
            shown = generation.shown_keys
            extension = result_extension(generation)
            detail["resultObject"] = list(shown)
            detail["responseObject"] = {
                "created": generation.created_iso,
                "data": [
                    {
                        # Signed like an image host's expiring link (the same signature as temporaryUrl).
                        "url": f"{base_url}/upstream/{generation.uuid}/{index}.{extension}?sig={generation.token}",
                        "prompt": generation.prompt,
                        "resolution": f"{width}x{height}",
                        "is_image_safe": True,
                        "seed": generation.seed,
                        "style_type": generation.prompt_object.get("style_type", "AUTO"),
                    }
                    for index in range(len(shown))
                ],
            }
            if shown:
                # Like the real API at times: a signed link for the first result only.
                record["temporaryUrl"] = (
                    f"{base_url}/asset/{quote(shown[0], safe='/')}?token={generation.token}"
                )
        elif status == "FAILURE":
            detail["resultObject"] = []
            detail["responseObject"] = {"error": generation.failure_message}
        return record

    def _source_bytes(self, image_url: str) -> bytes:
        """
        The source image: an uploaded asset, a result of an earlier generation, a link to either
        on this emulator, or (any other path or link) a synthetic product photo.
        """
        held = self._held_bytes(image_url)
        return images.synthetic_product(image_url) if held is None else held

    def _held_bytes(self, image_url: str) -> bytes | None:
        """
        The bytes of an uploaded asset or earlier result named by a path or a link to this
        emulator; ``None`` for any other path or link. A link to this emulator that leads
        nowhere raises :class:`~airflow_provider_onemin.emulator.images.SourceImageError`.
        """
        key = image_url
        if image_url.startswith(("http://", "https://")):
            path = unquote(urlsplit(image_url).path)
            if path.startswith("/asset/"):
                key = path[len("/asset/") :]
            elif path.startswith("/upstream/"):
                found = find_upstream_result(self.state, path[len("/upstream/") :])
                if found is None:
                    raise images.SourceImageError(f"no result at {image_url}")
                return result_png_now(*found)
            else:
                return None
            if self.state.asset(key) is None and self.state.result_of_key(key) is None:
                raise images.SourceImageError(f"no asset at {image_url}")
        asset = self.state.asset(key)
        if asset is not None:
            return asset.data
        result = self.state.result_of_key(key)
        if result is not None:
            return result_png_now(*result)
        return None
