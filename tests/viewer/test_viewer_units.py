"""
The viewer's small parts, without a deployment: its URLs, the extra link's choice, the plugin's
registration, and the connection-test body fix. tests/viewer/test_viewer.py runs them for real.
"""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import entry_points
from types import SimpleNamespace

import pytest

from airflow_provider_onemin.links.results import result_link
from airflow_provider_onemin.viewer import viewer_path, viewer_url
from airflow_provider_onemin.viewer.connection_test import (
    HiddenPortConnectionTestMiddleware,
    without_hidden_port,
)
from tests.support.airflow_helpers import airflow_version

RUN_ID = "manual__2026-11-26T13:30:09.277247+00:00"


def test_viewer_urls_quote_run_ids_and_follow_the_base_url():
    assert viewer_path("d", RUN_ID) == "/onemin/dags/d/runs/manual__2026-11-26T13%3A30%3A09.277247%2B00%3A00"
    assert viewer_path("d", "r/../x", "t", 3) == "/onemin/dags/d/runs/r%2F..%2Fx/tasks/t?map_index=3"
    assert viewer_path("d", "r", "t", -1) == "/onemin/dags/d/runs/r/tasks/t"
    assert viewer_url("d", "r", base_url="https://airflow.example.com/prefix/") == (
        "https://airflow.example.com/prefix/onemin/dags/d/runs/r"
    )
    assert viewer_url("d", "r", base_url="") == "/onemin/dags/d/runs/r"


def test_the_channel_view_url_and_the_review_s_link_to_it():
    from airflow_provider_onemin.operators.review import review_body

    url = viewer_url("d", RUN_ID, base_url="https://airflow.example.com/", channels=True)
    assert (
        url
        == "https://airflow.example.com/onemin/dags/d/runs/manual__2026-11-26T13%3A30%3A09.277247%2B00%3A00/channels"
    )
    lines = [{"sku": "MUG-001", "product": "Stoneware mug", "prompt": "a kitchen"}]
    body = review_body(lines, "https://airflow.example.com/onemin/dags/d/runs/r", url)
    assert f"]({url})" in body and "](https://airflow.example.com/onemin/dags/d/runs/r)" in body
    assert "channel view" not in review_body(lines, None)


def test_the_extra_link_opens_the_viewer_when_something_was_stored(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080")
    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=2)
    api = ["https://asset.1min.ai/development/images/x.png"]
    link = result_link(ti, ["s3://bucket/d/r/t/map-2/result-0.png"], api)
    if airflow_version() >= (3, 1):  # the viewer is served from 3.1 (docs/viewer.md)
        assert link == "http://airflow.example:8080/onemin/dags/d/runs/r/tasks/t?map_index=2"
    else:
        assert link == "s3://bucket/d/r/t/map-2/result-0.png"
    assert result_link(ti, [], [None, *api]) == api[0], "nothing stored: the API's own URL"
    assert result_link(ti, [], []) is None


def test_the_plugin_is_an_entry_point_of_the_installed_package():
    names = {ep.name: ep.value for ep in entry_points(group="airflow.plugins")}
    assert names.get("onemin_results_viewer") == "airflow_provider_onemin.viewer.plugin:OneMinViewerPlugin"


def test_the_plugin_builds_no_app_until_the_api_server_asks():
    import sys

    from airflow_provider_onemin.viewer.plugin import OneMinViewerPlugin

    plugin = OneMinViewerPlugin()
    assert plugin._apps is None
    if airflow_version() >= (3, 1):  # the viewer is served from 3.1 (docs/viewer.md)
        assert {v["destination"] for v in plugin.external_views} == {"dag_run", "task_instance"}
        assert "{MAP_INDEX}" in plugin.external_views[1]["href"]
    assert "airflow_provider_onemin.viewer.app" not in sys.modules or plugin._apps is None


@pytest.mark.parametrize(
    ("body", "changed"),
    [
        ({"conn_type": "onemin", "connection_id": "c", "port": 0, "password": "***"}, True),
        ({"conn_type": "onemin", "connection_id": "c", "port": None}, True),
        ({"conn_type": "onemin", "connection_id": "c", "port": 8443}, False),
        ({"conn_type": "onemin", "connection_id": "c"}, False),
        ({"conn_type": "http", "connection_id": "c", "port": 0}, False),
        (["not", "a", "connection"], False),
    ],
)
def test_only_the_hidden_port_of_a_onemin_connection_is_dropped(body, changed):
    raw = json.dumps(body).encode()
    fixed = without_hidden_port(raw)
    if changed:
        assert json.loads(fixed) == {k: v for k, v in body.items() if k != "port"}
    else:
        assert fixed == raw
    assert without_hidden_port(b"{not json") == b"{not json"


def _call(middleware_app, path: str, body: bytes, chunks: int = 1) -> dict:
    seen: dict = {}

    async def app(scope, receive, send):
        received = b""
        while True:
            message = await receive()
            received += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen["body"] = received
        seen["headers"] = dict(scope["headers"])

    parts = [body] if chunks == 1 else [body[:5], body[5:]]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)
    ]

    async def receive():
        return messages.pop(0)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-length", str(len(body)).encode())],
    }
    asyncio.run(middleware_app(app)(scope, receive, None))
    return seen


def test_the_middleware_rewrites_the_test_request_only():
    body = json.dumps({"conn_type": "onemin", "connection_id": "c", "port": 0}).encode()
    seen = _call(HiddenPortConnectionTestMiddleware, "/api/v2/connections/test", body, chunks=2)
    assert json.loads(seen["body"]) == {"conn_type": "onemin", "connection_id": "c"}
    assert seen["headers"][b"content-length"] == str(len(seen["body"])).encode()
    untouched = _call(HiddenPortConnectionTestMiddleware, "/api/v2/connections", body)
    assert untouched["body"] == body


def test_a_result_without_a_prompt_is_captioned_by_its_feature():
    from airflow_provider_onemin.viewer.results import _from_xcoms

    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="cut", map_index=-1, state="success")
    cut_out = _from_xcoms(ti, {"feature": "BACKGROUND_REMOVER", "model": "stable-image"})
    scene = _from_xcoms(ti, {"feature": "BACKGROUND_REPLACER", "prompt": "a mossy rock"})
    older = _from_xcoms(ti, {"model": "ideogram-3"})
    assert cut_out.caption == "Background Remover result (no prompt)"
    assert scene.caption == "a mossy rock"
    assert older.caption == "(prompt not recorded)"
    assert _from_xcoms(ti, {"feature": ["not", "a", "name"]}).caption == "(prompt not recorded)"
