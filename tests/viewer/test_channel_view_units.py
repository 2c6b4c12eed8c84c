"""
The channel view without a deployment: one real run (``dag.test()``) of two products' renditions
(tests/support/channel_dag.py), read back from the metadata database's XCom rows, grouped, rendered
and served by the viewer's own app (FastAPI's test client; the api-server's auth guards are the
only part replaced: tests/viewer/test_channel_view_deployment.py runs them for real).

The expected values come from the DAG's own inputs (products, channels, the recoloured scene) and
from the stored files, never from the viewer's code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_onemin.viewer.locations import (
    LocationRefused,
    check_rendition_owner,
    parse_location,
    resolve,
)
from tests.support.airflow_helpers import airflow_version, run_dag
from tests.support.channel_dag import MAIN_CHANNELS, PRODUCTS, SCENE_CHANNELS, draw_photos, load_dag

DAG_ID = "onemin_channel_view_units"

pytestmark = pytest.mark.skipif(airflow_version() < (3, 1), reason="the viewer is served from Airflow 3.1")


@pytest.fixture(scope="module")
def run(airflow_db, tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("channel_view")
    out = folder / "out"
    result = run_dag(load_dag(DAG_ID, out, draw_photos(folder / "photos"), folder))
    assert result.state == "success", {key: task.state for key, task in result.tasks.items()}
    return {"result": result, "out": out, "run_id": result.run_id}


@pytest.fixture
def client(run, monkeypatch) -> Any:
    """The viewer's app, allowed to read ``out`` only; every caller passes the auth guards."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_provider_onemin.viewer import URL_PREFIX
    from airflow_provider_onemin.viewer.app import create_app

    monkeypatch.setenv("AIRFLOW__ONEMIN__VIEWER_LOCATIONS", str(run["out"]))
    app = create_app()
    for guard in app.router.dependencies:
        app.dependency_overrides[guard.dependency] = lambda: None
    api_server = FastAPI()
    api_server.mount(URL_PREFIX, app)  # as the api-server mounts a plugin's app
    return TestClient(api_server)


def _channels(run: dict[str, Any]) -> Any:
    from airflow.utils.session import create_session

    from airflow_provider_onemin.viewer.channels import run_channels

    with create_session() as session:
        return run_channels(session, DAG_ID, run["run_id"])


def _base(run: dict[str, Any]) -> str:
    from airflow_provider_onemin.viewer import viewer_path

    return viewer_path(DAG_ID, run["run_id"])


def test_renditions_are_grouped_per_product_with_their_source_and_flags(run):
    products = _channels(run)
    assert [(p.sku, p.name) for p in products] == [(p["sku"], p["name"]) for p in PRODUCTS]
    mug, sneaker = products
    assert [(t.task_id, t.map_index) for t in mug.tasks] == [
        ("render_main", 0),
        ("render_scenes", 0),
        ("render_scenes", 1),
    ]
    assert [(t.task_id, t.map_index) for t in sneaker.tasks] == [("render_main", 1)]
    for task in mug.tasks + sneaker.tasks:
        xcom = run["result"].task(task.task_id, task.map_index).xcom
        assert task.source == xcom["source"]
        assert {c: [r.uri for r in rs] for c, rs in task.channels.items()} == xcom["return_value"]
    assert list(mug.tasks[0].channels) == MAIN_CHANNELS
    assert list(mug.tasks[1].channels) == SCENE_CHANNELS
    # Only the scene whose product changed colour needs review, in every channel.
    flagged = {(t.map_index, c) for t in mug.tasks[1:] for c, rs in t.channels.items() if rs[0].needs_review}
    assert flagged == {(1, channel) for channel in SCENE_CHANNELS}
    assert (mug.needs_review, sneaker.needs_review) == (len(SCENE_CHANNELS), 0)
    main = mug.tasks[0].channels["amazon_main"][0]
    assert (main.size, main.format, main.background) == ("2000×2000", "JPEG", "passed")
    assert main.coverage is not None and main.coverage >= 0.85


def test_the_page_shows_each_product_s_source_beside_its_channels(run, client):
    page = client.get(_base(run) + "/channels")
    assert page.status_code == 200, page.text
    sections = re.findall(r'<section class="product" data-sku="(.*?)">(.*?)</section>', page.text, flags=re.S)
    assert [sku for sku, _ in sections] == ["MUG-001", "SNK-014"]
    mug = sections[0][1]
    rows = re.findall(r'<div class="row".*?(?=<div class="row"|\Z)', mug, flags=re.S)
    assert len(rows) == 3
    for row in rows:  # the source first, then every channel's rendition, each with its image
        assert row.index('class="source"') < row.index('class="rendition')
        assert len(re.findall(r"<img ", row)) == 1 + 2
    assert mug.count('class="flag">needs review') == len(SCENE_CHANNELS)
    assert "2000×2000" in mug and "JPEG" in mug and "WEBP" in mug and ">passed<" in mug
    assert 'class="refused"' not in page.text


def _stored_file(run: dict[str, Any], image_path: str) -> str:
    """The XCom URI an image's path names (``.../tasks/<t>/source/<k>`` or ``.../renditions/<k>/<c>/<n>``)."""
    task_id, kind, *rest = image_path.split("/tasks/", 1)[1].split("/")
    xcom = run["result"].task(task_id, int(rest[0])).xcom
    return xcom["source"] if kind == "source" else xcom["return_value"][rest[1]][int(rest[2])]


def test_every_image_on_the_page_is_the_stored_file(run, client):
    page = client.get(_base(run) + "/channels").text
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == 4 * 3  # four task instances: a source and two renditions each
    shown = set()
    for path in images:
        answer = client.get(path)
        assert answer.status_code == 200, path
        uri = _stored_file(run, path)
        assert answer.content == Path(urlsplit(uri).path).read_bytes(), path
        assert answer.headers["content-type"] in ("image/jpeg", "image/webp", "image/png")
        shown.add(uri)
    stored = {
        uri
        for (task_id, _), task in run["result"].tasks.items()
        for uri in [task.xcom["source"], *[u for us in task.xcom["return_value"].values() for u in us]]
    }
    assert shown == stored, "every stored file is shown, once"


def test_the_json_form_lists_the_same_renditions(run, client):
    products = client.get(_base(run) + "/channels.json").json()
    assert [p["sku"] for p in products] == ["MUG-001", "SNK-014"]
    scene = products[0]["tasks"][2]
    assert scene["task_id"] == "render_scenes" and scene["map_index"] == 1
    assert all(
        r["needs_review"] and r["fidelity"] > r["fidelity_threshold"]
        for r in scene["channels"]["web_thumbnail"]
    )
    assert products[0]["tasks"][0]["channels"]["amazon_main"][0]["background_check"]["passed"] is True


def test_the_run_gallery_links_the_channel_view(run, client):
    assert f'href="{_base(run)}/channels"' in client.get(_base(run)).text
    # ... and the renditions task's page too (it has no 1min.ai result of its own).
    assert f'href="{_base(run)}/channels"' in client.get(_base(run) + "/tasks/render_main?map_index=0").text


def test_a_rendition_outside_the_configured_locations_is_refused(run, client, monkeypatch):
    monkeypatch.setenv("AIRFLOW__ONEMIN__VIEWER_LOCATIONS", str(run["out"].parent / "elsewhere"))
    assert client.get(_base(run) + "/tasks/render_main/renditions/0/amazon_main/0").status_code == 403
    assert client.get(_base(run) + "/tasks/render_main/source/0").status_code == 403
    assert client.get(_base(run) + "/channels").text.count('class="refused"') == 4 * 3


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/tasks/render_main/renditions/0/amazon_main/1", 404),  # one image per instance
        ("/tasks/render_main/renditions/0/instagram_story/0", 404),  # a channel it did not render
        ("/tasks/render_main/renditions/5/amazon_main/0", 404),
        ("/tasks/render_main/renditions/0/..%2F..%2Fetc/0", 404),
        ("/tasks/render_main/renditions/0/Amazon_Main/0", 422),
        ("/tasks/no_such_task/source/0", 404),
    ],
)
def test_requests_name_no_file(run, client, path, expected):
    assert client.get(_base(run) + path).status_code == expected


def test_a_rendition_is_served_only_from_its_own_channel_folder(tmp_path):
    location = parse_location(str(tmp_path))
    own = tmp_path / "d" / "r" / "t" / "map-0"
    cases = {
        own / "amazon_main" / "image-0.jpg": True,
        own / "web_thumbnail" / "image-0.webp": False,  # another channel's folder
        own / "amazon_main" / "result-0.png": False,
        own / "source.jpg": False,
        tmp_path / "d" / "r" / "other" / "map-0" / "amazon_main" / "image-0.jpg": False,
        tmp_path / "d" / "r" / "t" / "amazon_main" / "image-0.jpg": False,  # not the mapped instance's
    }
    for path, allowed in cases.items():
        resolved = resolve(str(path), None, [location])
        names = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": 0, "channel": "amazon_main"}
        if allowed:
            check_rendition_owner(resolved, **names)
        else:
            with pytest.raises(LocationRefused):
                check_rendition_owner(resolved, **names)


@pytest.fixture
def forged(run) -> Any:
    """
    The sneaker's ``render_main`` XComs rewritten as anyone allowed to edit XCom could: renditions
    and a source that are not that task instance's own files (restored afterwards).
    """
    from airflow.models.xcom import XComModel

    task = run["result"].task("render_main", 1)
    own, mug = task.xcom["return_value"], run["result"].task("render_main", 0).xcom
    outside = run["out"].parent / "photos" / "MUG-001-photo.jpg"  # a real image, outside `out`
    forged_values = {
        "return_value": {
            "amazon_main": [
                own["amazon_main"][0],  # its own: still served
                "file:///etc/passwd",
                f"file://{outside}",
                mug["return_value"]["amazon_main"][0],  # another task instance's rendition
                own["amazon_main"][0].replace("/render_main/map-1/", "/render_main/map-1/../map-0/"),
            ],
            "web_thumbnail": [own["amazon_main"][0]],  # its own file, filed under another channel
        },
        "source": mug["source"],
    }
    keys = {"dag_id": DAG_ID, "task_id": "render_main", "run_id": run["run_id"], "map_index": 1}
    for key, value in forged_values.items():
        XComModel.set(key, value, **keys)
    yield forged_values
    for key in forged_values:
        XComModel.set(key, task.xcom[key], **keys)


def test_a_forged_xcom_shows_no_file_but_the_task_instance_s_own(run, client, forged):
    base = _base(run) + "/tasks/render_main"
    answers = [client.get(f"{base}/renditions/1/amazon_main/{n}") for n in range(5)]
    assert [a.status_code for a in answers] == [200, 403, 403, 403, 403]
    own = forged["return_value"]["amazon_main"][0]
    assert answers[0].content == Path(urlsplit(own).path).read_bytes()
    assert all(b"root:" not in a.content and b"\xff\xd8" not in a.content for a in answers[1:])
    assert client.get(f"{base}/renditions/1/web_thumbnail/0").status_code == 403
    assert client.get(f"{base}/source/1").status_code == 403
    page = client.get(_base(run) + "/channels").text
    sneaker = page[page.index('data-sku="SNK-014"') :]
    assert len(re.findall(r"<img ", sneaker)) == 1 and sneaker.count('class="refused"') == 4 + 1 + 1
