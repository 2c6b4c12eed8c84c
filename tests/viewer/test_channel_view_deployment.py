"""
The channel view in the session's shared deployment (tests/support/shared_deployment.py): a DAG of
the viewer's team renders two products (tests/support/channel_dag.py) into ``out``, and the
api-server shows each product's source photo beside its channels, serves those files and only
those, and Airflow's auth decides who sees them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests

from tests.support.channel_dag import PRODUCTS, SCENE_CHANNELS, dag_source, draw_photos
from tests.support.viewer_support import (
    ADMIN,
    OUTSIDER,
    REVIEWER,
    airflow_minor,
    shared_folder,
    wait_until_listed,
)

pytestmark = [
    pytest.mark.deployment,
    pytest.mark.skipif(
        airflow_minor() < (3, 2), reason="the forbidden user needs multi-team mode (Airflow 3.2+)"
    ),
]

DAG_ID = "onemin_channel_view_deployment"
TASKS = [("render_main", 0), ("render_main", 1), ("render_scenes", 0), ("render_scenes", 1)]


@pytest.fixture(scope="module")
def channel_run(shared_deployment, tmp_path_factory) -> dict[str, Any]:
    airflow, out = shared_deployment.airflow, shared_deployment.out
    photos = draw_photos(tmp_path_factory.mktemp("channel-photos"))
    shared_deployment.write_dag(f"{DAG_ID}.py", dag_source(DAG_ID, out, photos), team=True)
    wait_until_listed(airflow, DAG_ID)  # not by id: that would cache "no team" for it
    run_id = airflow.trigger(DAG_ID)
    run = airflow.wait_for_run(DAG_ID, run_id, timeout=600)
    assert run["state"] == "success", airflow.run_report(DAG_ID, run_id)
    xcoms = {
        (task_id, k): {
            key: airflow.xcom(DAG_ID, run_id, task_id, key, map_index=k) for key in ("return_value", "source")
        }
        for task_id, k in TASKS
    }
    base = f"/onemin/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"
    return {"airflow": airflow, "run_id": run_id, "out": out, "xcoms": xcoms, "base": base}


def _get(run: dict[str, Any], path: str, user: str | None = ADMIN) -> requests.Response:
    airflow = run["airflow"]
    headers = {"Authorization": f"Bearer {airflow.login(user)}"} if user else {}
    return requests.get(airflow.url + path, headers=headers, timeout=60, allow_redirects=False)


def _stored_file(run: dict[str, Any], image_path: str) -> str:
    """The XCom URI an image's path names (``.../tasks/<t>/source/<k>`` or ``.../renditions/<k>/<c>/<n>``)."""
    task_id, kind, *rest = image_path.split("/tasks/", 1)[1].split("/")
    xcom = run["xcoms"][(task_id, int(rest[0]))]
    return xcom["source"] if kind == "source" else xcom["return_value"][rest[1]][int(rest[2])]


def test_the_channel_view_shows_every_stored_rendition_beside_its_source(channel_run):
    page = _get(channel_run, channel_run["base"] + "/channels")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    skus = re.findall(r'<section class="product" data-sku="(.*?)"', page.text)
    assert skus == [p["sku"] for p in PRODUCTS]
    assert page.text.count('class="flag">needs review') == len(SCENE_CHANNELS)
    images = re.findall(r'<img src="([^"]+)"', page.text)
    assert len(images) == len(TASKS) * 3  # a source and two renditions per task instance
    shown = set()
    for path in images:
        answer = _get(channel_run, path)
        assert answer.status_code == 200, path
        uri = _stored_file(channel_run, path)
        assert answer.content == Path(urlsplit(uri).path).read_bytes(), path
        shown.add(uri)
    stored = {
        uri
        for xcom in channel_run["xcoms"].values()
        for uri in [xcom["source"], *[u for us in xcom["return_value"].values() for u in us]]
    }
    assert shown == stored


def test_the_json_form_and_the_gallery_link(channel_run):
    products = _get(channel_run, channel_run["base"] + "/channels.json").json()
    assert [(p["sku"], len(p["tasks"])) for p in products] == [("MUG-001", 3), ("SNK-014", 1)]
    gallery = _get(channel_run, channel_run["base"]).text
    assert f'href="{channel_run["base"]}/channels"' in gallery


@pytest.mark.parametrize("suffix", ["/channels", "/channels.json", "/tasks/render_main/source/0"])
def test_strangers_are_refused(channel_run, suffix):
    path = channel_run["base"] + suffix
    assert _get(channel_run, path, user=REVIEWER).status_code == 200, "the owning team may look"
    anonymous = _get(channel_run, path, user=None)
    assert anonymous.status_code == 401
    outsider = _get(channel_run, path, user=OUTSIDER)
    assert outsider.status_code == 403, "a user of another team"
    for answer in (anonymous, outsider):
        assert b"MUG-001" not in answer.content and b"\xff\xd8" not in answer.content


def test_a_forged_xcom_is_refused_and_logged(channel_run):
    """The team's reviewer may edit XCom (REST API): it says which file, never where the server reads."""
    airflow, run_id = channel_run["airflow"], channel_run["run_id"]
    own = channel_run["xcoms"][("render_main", 1)]["return_value"]["amazon_main"][0]
    other = channel_run["xcoms"][("render_main", 0)]["return_value"]["amazon_main"][0]
    outside = shared_folder(channel_run["out"]) / "forged.jpg"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_bytes(Path(urlsplit(own).path).read_bytes())
    forged = {"amazon_main": [own, "file:///etc/passwd", f"file://{outside}", other]}
    path = (
        f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/render_main/"
        "xcomEntries/return_value"
    )
    airflow.api("PATCH", path, user=REVIEWER, json={"value": forged, "map_index": 1})
    base = channel_run["base"] + "/tasks/render_main/renditions/1/amazon_main"
    answers = [_get(channel_run, f"{base}/{n}") for n in range(len(forged["amazon_main"]))]
    assert [a.status_code for a in answers] == [200, 403, 403, 403]
    assert answers[0].content == Path(urlsplit(own).path).read_bytes()
    assert all(b"root:" not in a.content and b"\xff\xd8" not in a.content for a in answers[1:])
    logged = [
        line
        for line in airflow.grep("Refusing to serve file:///etc/passwd").splitlines()
        if not line.startswith("--- ")
    ]
    assert any(f"for DAG {DAG_ID}" in line and "viewer_locations" in line for line in logged), logged
