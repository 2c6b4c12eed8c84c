"""
The emulator's file routes: uploads (``POST /api/assets``) and downloads, which need no key
(``GET /asset/{key}`` for uploaded files and result PNGs, ``GET /upstream/{uuid}/{index}.png``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_onemin.emulator.answers import error_response
from airflow_provider_onemin.emulator.result_images import (
    find_upstream_result,
    result_media_type,
    result_png,
)
from airflow_provider_onemin.emulator.route_group import RouteGroup
from airflow_provider_onemin.emulator.uploads import MultipartError, parse_multipart

if TYPE_CHECKING:
    from collections.abc import Callable


class AssetRoutes(RouteGroup):
    """``POST /api/assets``, ``GET /asset/{key}`` and ``GET /upstream/{uuid}/{index}.png``."""

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
        """
        ``GET /asset/{key}``: an uploaded file or a result PNG. A signed link (``?token=``, the
        record's ``temporaryUrl``) answers 403 once its token is no longer the generation's own.
        """
        key = request.path_params["key"]

        async def find() -> Response | None:
            asset = self.state.asset(key)
            if asset is not None:
                return Response(asset.data, media_type=asset.content_type)
            result = self.state.result_of_key(key)
            if result is None or result[0].status != "SUCCESS":
                return None
            token = request.query_params.get("token")
            if token is not None and token != result[0].token:
                return _expired_link()
            return Response(await result_png(*result), media_type=result_media_type(result[0]))

        return await self._download(request, find)

    async def download_upstream(self, request: Request) -> Response:
        """
        ``GET /upstream/{uuid}/{index}.png``; a signed one (``?sig=``, ``responseObject.data[].url``)
        answers 403 once its signature is no longer the generation's own.
        """
        found = find_upstream_result(
            self.state, f"{request.path_params['record_uuid']}/{request.path_params['name']}"
        )

        async def find() -> Response | None:
            if found is None or found[0].status != "SUCCESS":
                return None
            signature = request.query_params.get("sig")
            if signature is not None and signature != found[0].token:
                return _expired_link()
            return Response(await result_png(*found), media_type=result_media_type(found[0]))

        return await self._download(request, find)

    async def _download(self, request: Request, find: Callable[[], Any]) -> Response:
        fault = self.state.take_fault("download")
        if fault is not None and fault.kind == "expired_link":
            self._expire_link(request)
        early = await self._before(request, fault, "download")
        if early is not None:
            return early
        response = await find()
        if response is None:
            response = Response(b"Not Found", status_code=404, media_type="text/plain")
        return self._after(request, fault, response)

    def _expire_link(self, request: Request) -> None:
        """The ``expired_link`` fault: the generation of this signed link gets a new token."""
        result = self.state.result_of_key(request.path_params.get("key", ""))
        if result is not None and "token" in request.query_params:
            result[0].token = self.state.new_link_signature()


def _expired_link() -> Response:
    """What an object store answers for a signed link past its expiry (S3's wording)."""
    body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    return Response(body, status_code=403, media_type="application/xml")
