"""
The results viewer in a real deployment: the plugin comes with the installed provider (entry
point), the api-server serves it, the extra link of a finished task opens it, its images are the
stored files, and Airflow's auth decides who sees them.

The example DAG runs once (two images stored as ``file://``) in the session's shared deployment
(tests/support/shared_deployment.py); every test reads that run.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests

from airflow_provider_onemin.links.results import OneMinResultLink
from airflow_provider_onemin.storage.results import safe_part
from tests.support.pipeline_support import review_rows
from tests.support.viewer_support import ADMIN, OUTSIDER, REVIEWER, airflow_minor, shared_folder

pytestmark = [
    pytest.mark.deployment,
    pytest.mark.skipif(
        airflow_minor() < (3, 2), reason="the forbidden user needs multi-team mode (Airflow 3.2+)"
    ),
]

DAG_ID = "onemin_background_replacer_example"
TASK_ID = "replace_background"
SCENE = "a rooftop garden at dusk, string lights"


@pytest.fixture(scope="module")
def example_run(onemin_emulator_server, shared_deployment) -> dict[str, Any]:
    onemin_emulator_server.reset(config=True)
    airflow = shared_deployment.airflow
    run_id = airflow.trigger(DAG_ID, conf={"scene": SCENE, "seed": 4242})
    run = airflow.wait_for_run(DAG_ID, run_id, timeout=600)
    assert run["state"] == "success", airflow.logs()
    return {"airflow": airflow, "run_id": run_id, "out": shared_deployment.out}


def _get(run: dict[str, Any], path_or_url: str, user: str | None = ADMIN, **kwargs: Any) -> requests.Response:
    airflow = run["airflow"]
    url = path_or_url if path_or_url.startswith("http") else airflow.url + path_or_url
    headers = {"Authorization": f"Bearer {airflow.login(user)}"} if user else {}
    return requests.get(url, headers=headers, timeout=60, allow_redirects=False, **kwargs)


def _page(run: dict[str, Any]) -> str:
    return f"/onemin/dags/{DAG_ID}/runs/{run['run_id']}/tasks/{TASK_ID}"


def test_the_plugin_is_registered_by_the_installed_package(example_run):
    plugins = example_run["airflow"].api("GET", "/api/v2/plugins").json()["plugins"]
    viewer = next(p for p in plugins if p["name"] == "onemin_results_viewer")
    assert "airflow-provider-onemin" in viewer["source"]
    assert [a["url_prefix"] for a in viewer["fastapi_apps"]] == ["/onemin"]
    assert {v["destination"] for v in viewer["external_views"]} == {"dag_run", "task_instance"}


def test_the_extra_link_opens_the_viewer_page_of_the_task_instance(example_run):
    airflow = example_run["airflow"]
    link = airflow.xcom(DAG_ID, example_run["run_id"], TASK_ID, OneMinResultLink().xcom_key)
    assert urlsplit(link).scheme == "http", "the UI renders http(s) links only"
    assert link.startswith(airflow.url + "/onemin/")
    answer = _get(example_run, link)
    assert answer.status_code == 200
    assert "text/html" in answer.headers["content-type"]
    assert SCENE in answer.text


def test_the_page_shows_each_stored_image_with_what_made_it(example_run):
    airflow, run_id = example_run["airflow"], example_run["run_id"]
    stored = airflow.xcom(DAG_ID, run_id, TASK_ID, "stored_paths")
    seeds = airflow.xcom(DAG_ID, run_id, TASK_ID, "seeds")
    uuid = airflow.xcom(DAG_ID, run_id, TASK_ID, "ai_record_uuid")
    html = _get(example_run, _page(example_run)).text
    assert len(stored) == 2 and len(seeds) == 2
    figures = re.findall(r"<figure .*?</figure>", html, flags=re.S)
    assert len(figures) == 2
    for figure, uri, seed in zip(figures, stored, seeds, strict=True):
        assert SCENE in figure
        assert uri in figure and f">{seed}<" in figure and uuid in figure
        assert ">ideogram-3<" in figure
        assert ">no</dd>" in figure  # not reused
    for index, uri in enumerate(stored):
        image = _get(example_run, f"{_page(example_run)}/images/-1/{index}")
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        on_disk = Path(urlsplit(uri).path).read_bytes()
        assert hashlib.sha256(image.content).digest() == hashlib.sha256(on_disk).digest()


def test_the_run_page_and_its_json_list_the_same_results(example_run):
    run_page = f"/onemin/dags/{DAG_ID}/runs/{example_run['run_id']}"
    assert SCENE in _get(example_run, run_page).text
    results = _get(example_run, run_page + "/results.json").json()
    assert [(r["task_id"], r["map_index"], len(r["images"])) for r in results] == [(TASK_ID, -1, 2)]
    assert results[0]["prompt"] == SCENE and results[0]["model"] == "ideogram-3"


def test_a_viewer_of_the_owning_team_may_look(example_run):
    assert _get(example_run, _page(example_run), user=REVIEWER).status_code == 200
    assert _get(example_run, f"{_page(example_run)}/images/-1/0", user=REVIEWER).status_code == 200


@pytest.mark.parametrize("suffix", ["", "/images/-1/0", "/../results.json"])
def test_anonymous_requests_are_refused(example_run, suffix):
    path = (
        _page(example_run) + suffix
        if suffix != "/../results.json"
        else (f"/onemin/dags/{DAG_ID}/runs/{example_run['run_id']}/results.json")
    )
    answer = _get(example_run, path, user=None)
    assert answer.status_code == 401
    assert b"\x89PNG" not in answer.content


@pytest.mark.parametrize("suffix", ["", "/images/-1/0"])
def test_a_user_without_access_to_the_dag_is_refused(example_run, suffix):
    answer = _get(example_run, _page(example_run) + suffix, user=OUTSIDER)
    assert answer.status_code == 403
    assert b"\x89PNG" not in answer.content


def test_a_forged_token_is_refused(example_run):
    answer = requests.get(
        example_run["airflow"].url + _page(example_run) + "/images/-1/0",
        headers={"Authorization": "Bearer eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl"},
        timeout=60,
    )
    assert answer.status_code in (401, 403)


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        ("/images/-1/2", 404),  # only two files were stored
        ("/images/-1/-1", 422),
        ("/images/0/0", 404),  # not a mapped task
        # An encoded slash splits the path again: no route matches.
        ("/images/-1/..%2F..%2F..%2Fetc%2Fpasswd", 404),
        ("/images/-1/0%2F..%2F..%2Fetc%2Fpasswd", 404),
        ("/images/-1/file:%2F%2F%2Fetc%2Fpasswd", 404),
        ("/images/-1/file:etc", 422),
        ("?map_index=not-a-number", 422),
    ],
)
def test_crafted_paths_are_refused(example_run, suffix, expected):
    answer = _get(example_run, _page(example_run) + suffix)
    assert answer.status_code == expected
    assert b"root:" not in answer.content


@pytest.mark.parametrize(
    "path",
    [
        f"/onemin/dags/{DAG_ID}/runs/no-such-run",
        f"/onemin/dags/{DAG_ID}/runs/no-such-run/tasks/{TASK_ID}/images/-1/0",
        "/onemin/dags/no_such_dag/runs/no-such-run/results.json",
        "/onemin/dags/..%2F..%2Fetc/runs/x",
    ],
)
def test_unknown_or_invalid_ids_answer_not_found(example_run, path):
    assert _get(example_run, path).status_code in (404, 422)


def test_a_task_that_stored_nothing_has_an_empty_page_and_no_image(example_run):
    publish = f"/onemin/dags/{DAG_ID}/runs/{example_run['run_id']}/tasks/publish"
    assert "No 1min.ai result" in _get(example_run, publish).text
    assert _get(example_run, publish + "/images/-1/0").status_code == 404


def test_a_stored_file_that_is_no_longer_an_image_is_not_served(example_run):
    airflow, run_id = example_run["airflow"], example_run["run_id"]
    stored = airflow.xcom(DAG_ID, run_id, TASK_ID, "stored_paths")
    Path(urlsplit(stored[1]).path).write_text("<script>alert(1)</script>")
    answer = _get(example_run, f"{_page(example_run)}/images/-1/1")
    assert answer.status_code == 415
    assert b"<script>" not in answer.content


# --- what XCom names is not what the api-server reads -------------------------------------------
#
# A task, or a user allowed to edit XCom on the DAG (here the team's own reviewer, through the REST
# API), can write any URI into ``stored_paths`` and any ``storage_conn_id``. The api-server reads
# only inside the folders its configuration names for the DAG's team (tests/support/viewer_support.py: the
# output folder), with the connection named there (none for a local folder).

#: ``stored_paths`` written by hand into a second run's ``publish`` task instance, and the answer
#: each must get. ``{out}`` is the team's configured folder, ``{own}`` the folder the operator would
#: store that task instance's results in, ``{shared}`` a sibling folder that only the
#: deployment-wide setting names.
CRAFTED = [
    ("inside the configured folder, the task instance's own name", "file://{own}/result-0.png", 200),
    ("file:// outside every folder", "file:///etc/passwd", 403),
    ("a plain path outside every folder", "/etc/passwd", 403),
    ("a sibling folder with the same name prefix", "file://{shared}/image.png", 403),
    ("'..' out of the configured folder", "file://{own}/../../../../{shared_name}/image.png", 403),
    ("a symlink inside pointing outside", "file://{own}/result-1.png", 403),
    (
        "another task's result in the same folder",
        "file://{out}/{dag}/{run}/replace_background/result-0.png",
        403,
    ),
    ("a file inside that no task stores", "file://{out}/crafted/result-0.png", 403),
    ("the configured folder itself", "file://{out}", 403),
    ("another bucket", "s3://another-bucket/backgrounds/image.png", 403),
    ("a connection id in the URI", "s3://onemin_default@another-bucket/image.png", 403),
]


def _xcom_path(run_id: str, task_id: str, key: str | None = None) -> str:
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries"
    return path if key is None else f"{path}/{key}"


def _write_xcom(airflow: Any, run_id: str, task_id: str, key: str, value: Any) -> None:
    """Create or replace an XCom as the team's reviewer does through the REST API."""
    body = {"key": key, "value": value, "map_index": -1}
    created = airflow.api("POST", _xcom_path(run_id, task_id), user=REVIEWER, json=body, expect=None)
    if created.status_code == 409:
        path = _xcom_path(run_id, task_id, key)
        airflow.api("PATCH", path, user=REVIEWER, json={"value": value, "map_index": -1})
    else:
        assert created.status_code == 201, created.text


@pytest.fixture(scope="module")
def crafted_run(example_run) -> dict[str, Any]:
    """A second run of the example DAG whose ``publish`` XCom names the URIs of :data:`CRAFTED`."""
    airflow, out = example_run["airflow"], example_run["out"]
    run_id = airflow.trigger(DAG_ID, conf={"scene": "a quiet harbour", "seed": 7})
    assert airflow.wait_for_run(DAG_ID, run_id, timeout=600)["state"] == "success", airflow.logs()
    real = Path(urlsplit(airflow.xcom(DAG_ID, run_id, TASK_ID, "stored_paths")[0]).path)
    own = out / safe_part(DAG_ID) / safe_part(run_id) / "publish"
    shared = shared_folder(out)
    for folder in (own, shared, out / "crafted"):
        folder.mkdir(parents=True, exist_ok=True)
    for copy in (own / "result-0.png", shared / "image.png", out / "crafted" / "result-0.png"):
        shutil.copyfile(real, copy)
    (own / "result-1.png").symlink_to(shared / "image.png")
    names = {
        "out": out,
        "own": own,
        "dag": safe_part(DAG_ID),
        "run": safe_part(run_id),
        "shared": shared,
        "shared_name": shared.name,
    }
    uris = [uri.format(**names) for _, uri, _ in CRAFTED]
    _write_xcom(airflow, run_id, "publish", "stored_paths", uris)
    return {**example_run, "run_id": run_id, "image": real.read_bytes()}


def _crafted_image(run: dict[str, Any], index: int, user: str = ADMIN) -> requests.Response:
    return _get(run, f"/onemin/dags/{DAG_ID}/runs/{run['run_id']}/tasks/publish/images/-1/{index}", user=user)


@pytest.mark.parametrize(
    ("index", "case"), [(i, c) for i, c in enumerate(CRAFTED)], ids=[c[0] for c in CRAFTED]
)
def test_only_files_inside_the_configured_locations_are_served(crafted_run, index, case):
    _, uri, expected = case
    answer = _crafted_image(crafted_run, index)
    assert answer.status_code == expected, answer.text[:300]
    if expected == 200:
        assert answer.content == crafted_run["image"]
    else:
        assert b"\x89PNG" not in answer.content and b"root:" not in answer.content
        assert "configured locations" in answer.json()["detail"]


def test_a_refused_file_is_logged_without_the_uri_s_secrets(crafted_run):
    airflow = crafted_run["airflow"]
    assert _crafted_image(crafted_run, len(CRAFTED) - 1).status_code == 403
    logged = airflow.grep("Refusing to serve")
    assert "s3://another-bucket/image.png" in logged and "viewer_locations" in logged
    assert "onemin_default@" not in logged


def test_a_user_who_may_see_the_dag_is_refused_a_file_outside_its_locations(crafted_run):
    # The reviewer reads this DAG's pages and images (test_a_viewer_of_the_owning_team_may_look);
    # a file in a folder configured for the deployment but not for the DAG's team stays closed.
    page = _get(
        crafted_run, f"/onemin/dags/{DAG_ID}/runs/{crafted_run['run_id']}/tasks/publish", user=REVIEWER
    )
    assert page.status_code == 200
    # The page says which files it will not show, instead of a broken picture.
    shown = [bool(re.search(r"<img ", f)) for f in re.findall(r"<figure .*?</figure>", page.text, flags=re.S)]
    assert shown == [expected == 200 for _, _, expected in CRAFTED]
    assert page.text.count('class="refused"') == sum(expected != 200 for _, _, expected in CRAFTED)
    assert _crafted_image(crafted_run, 0, user=REVIEWER).status_code == 200
    sibling = next(i for i, case in enumerate(CRAFTED) if "{shared}" in case[1])
    answer = _crafted_image(crafted_run, sibling, user=REVIEWER)
    assert answer.status_code == 403
    assert b"\x89PNG" not in answer.content


def test_a_connection_id_the_configuration_does_not_name_is_refused(crafted_run):
    airflow, run_id = crafted_run["airflow"], crafted_run["run_id"]
    image = f"/onemin/dags/{DAG_ID}/runs/{run_id}/tasks/{TASK_ID}/images/-1/0"
    assert _get(crafted_run, image).status_code == 200
    # The api-server holds onemin_default (the 1min.ai key): XCom must not make it read with it.
    _write_xcom(airflow, run_id, TASK_ID, "storage_conn_id", "onemin_default")
    answer = _get(crafted_run, image)
    assert answer.status_code == 403
    assert b"\x89PNG" not in answer.content


# --- review and publish (the marketing pipeline, same deployment) ------------------------------

PIPELINE = "marketing_asset_pipeline"


def test_a_review_that_times_out_publishes_nothing_and_says_so(example_run):
    # (An answered review, published: tests/pipeline/test_review_deployment.py, same deployment.)
    airflow, out = example_run["airflow"], example_run["out"]
    before = sorted((out / "published").rglob("*"))
    # One scene (3 lines, each product's cut-out reused): a run's worth of renditions, at less CPU.
    conf = {"review_timeout_minutes": 0.05, "base_seed": 7, "scenes": ["a quiet harbour at dawn"]}
    run_id = airflow.trigger(PIPELINE, conf=conf)
    run = airflow.wait_for_run(PIPELINE, run_id, timeout=600)
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances(PIPELINE, run_id)}
    assert states["review"] == "failed" and states["publish"] == "failed"
    assert run["state"] == "failed"
    assert sorted((out / "published").rglob("*")) == before, "nothing published"
    log = airflow.task_log(PIPELINE, run_id, "publish")
    assert "ended without an answer" in log and "nothing was published" in log
    rows = review_rows(out, run_id)
    # 3 amazon_main images, and per product its 2 channels of the one scene.
    assert {r["decision"] for r in rows} == {"not reviewed"} and len(rows) == 9


# --- the connection list's Test button ---------------------------------------------------------

#: What Airflow 3.3's connection list sends for its Test icon (recorded from the UI in Chromium).
UI_TEST_BODY = {
    "conn_type": "onemin",
    "connection_id": "onemin_default",
    "description": "",
    "extra": "{}",
    "login": "",
    "password": "***",
    "port": 0,
    "schema": "",
}


def test_the_connection_lists_test_button_works_for_a_connection_made_as_documented(example_run):
    airflow = example_run["airflow"]
    stored = airflow.api("GET", "/api/v2/connections/onemin_default").json()
    assert stored["port"] is None, "created without a port, as docs/connection.md says"
    body = {**UI_TEST_BODY, "host": stored["host"], "extra": stored["extra"] or "{}"}
    answer = airflow.api("POST", "/api/v2/connections/test", json=body).json()
    assert answer["status"] is True, answer


def test_the_test_button_still_refuses_another_host_without_its_own_key(example_run):
    airflow = example_run["airflow"]
    body = {**UI_TEST_BODY, "host": "http://127.0.0.1:9"}
    answer = airflow.api("POST", "/api/v2/connections/test", json=body, expect=None)
    assert answer.status_code == 400
    assert "differs from the stored connection" in answer.text
