"""
The emulator's HTTP application: the subset of the 1min.ai API this provider uses, plus faults.

API (``API-KEY`` header required on ``/api/*`` when a key is configured):

* ``POST /api/assets``: multipart upload (field ``asset``), kept in memory.
* ``POST /api/features``: Background Replacer generations, sync or ``"async": true``.
* ``GET /api/results/{uuid}``: the record as it is now; ``{"aiRecord": null}`` when unknown.

The model list (no key, like public clients call it): ``GET /models?feature=BACKGROUND_REPLACER``,
from the emulator's own price table (:mod:`.prices`).

Downloads (no key, like ``https://asset.1min.ai/<key>``):

* ``GET /asset/{key}``: uploaded files and result PNGs (the ``temporaryUrl`` points here).
* ``GET /upstream/{uuid}/{index}.png``: the ``responseObject.data[].url`` of a result.

Control (no key): ``POST /_emulator/faults``, ``GET /_emulator/state``,
``GET /_emulator/generations`` (source and result digests of each generation),
``POST /_emulator/config``, ``POST /_emulator/finish``, ``POST /_emulator/reset``.

Answers use the URL the client called (``Host`` header), so links work behind any port. The
handlers live by route group: :mod:`.generation_routes`, :mod:`.asset_routes`,
:mod:`.control_routes`; :mod:`.connection_cut` drops a connection when a fault says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from airflow_provider_onemin.emulator.asset_routes import AssetRoutes
from airflow_provider_onemin.emulator.connection_cut import ConnectionCutter
from airflow_provider_onemin.emulator.control_routes import ControlRoutes
from airflow_provider_onemin.emulator.generation_routes import GenerationRoutes

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from airflow_provider_onemin.emulator.state import EmulatorState


def create_app(state: EmulatorState) -> ASGIApp:
    """The ASGI application serving ``state``."""
    generations = GenerationRoutes(state)
    files = AssetRoutes(state)
    control = ControlRoutes(state)
    app = FastAPI(title="1min.ai emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/api/features", generations.features, methods=["POST"])
    app.add_api_route("/api/results/{record_uuid}", generations.results, methods=["GET"])
    app.add_api_route("/api/assets", files.assets, methods=["POST"])
    app.add_api_route("/models", generations.models, methods=["GET"])
    app.add_api_route("/asset/{key:path}", files.download_asset, methods=["GET"])
    app.add_api_route("/upstream/{record_uuid}/{name}", files.download_upstream, methods=["GET"])
    app.add_api_route("/_emulator/faults", control.add_faults, methods=["POST"])
    app.add_api_route("/_emulator/state", control.show_state, methods=["GET"])
    app.add_api_route("/_emulator/generations", control.show_generations, methods=["GET"])
    app.add_api_route("/_emulator/config", control.configure, methods=["POST"])
    app.add_api_route("/_emulator/finish", control.finish, methods=["POST"])
    app.add_api_route("/_emulator/reset", control.reset, methods=["POST"])
    return ConnectionCutter(app, state)
