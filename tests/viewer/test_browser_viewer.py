"""
The results viewer and the review, as a person uses them: a real deployment and headless
Chromium (Debian's ``chromium``, driven by Playwright; nothing is downloaded at run time).

A reviewer logs in through Airflow's login form, opens a mapped task's "1min.ai result" link,
sees every image load next to its prompt, looks at the run's tab, approves a line in Airflow's
Required Actions form and finds it published; opens a renditions run's channel view from its
gallery and sees each product's source photo beside its channels. Anonymous, forbidden and crafted requests are
refused. Screenshots go to ``out/browser/`` (not committed).

They run in the session's shared deployment (tests/support/shared_deployment.py), last of the
deployment tests when several run (tests/conftest.py): a pipeline run of their own (one scene,
seeds of its own) and a channel DAG of the viewer's team. Skipped (with the reason) where no
browser is installed, unless ``ONEMIN_REQUIRE_BROWSER=1``, where a missing browser fails them. CI
runs them in a leg of their own (.ci/legs/40-browser.sh), which installs Chromium and Playwright.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.airflow_helpers import REPO
from tests.support.channel_dag import SCENE_CHANNELS, dag_source, draw_photos
from tests.support.deployment import TERMINAL_TI_STATES
from tests.support.pipeline_support import review_rows
from tests.support.viewer_support import (
    ADMIN,
    OUTSIDER,
    REVIEWER,
    airflow_minor,
    wait_until_listed,
)

CHROMIUM = os.environ.get("ONEMIN_CHROMIUM", "/usr/bin/chromium")
#: The closed network refuses Chromium's background connections: keep them off.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = REPO / "out" / "browser"
PIPELINE = "marketing_asset_pipeline"
#: Renditions of two products (tests/support/channel_dag.py), a DAG of the viewer's team.
CHANNELS_DAG = "onemin_channel_view_browser"
#: The pipeline run's one scene, and seeds no other run in the shared deployment uses.
SCENE = "a mossy rock by a mountain stream at golden hour"
BASE_SEED = 77
#: Set (CI does): a missing browser fails these tests instead of skipping them.
REQUIRED = os.environ.get("ONEMIN_REQUIRE_BROWSER") == "1"


def _missing_browser() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install 'airflow-provider-onemin[browser]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/install-browser.sh does)"
    return None


pytestmark = [
    pytest.mark.browser,
    pytest.mark.deployment,
    pytest.mark.skipif(_missing_browser() is not None and not REQUIRED, reason=_missing_browser() or ""),
    pytest.mark.skipif(
        airflow_minor() < (3, 2), reason="the forbidden user needs multi-team mode (Airflow 3.2+)"
    ),
]


@pytest.fixture(scope="module")
def ui(shared_deployment, tmp_path_factory) -> Iterator[dict[str, Any]]:
    airflow, out = shared_deployment.airflow, shared_deployment.out
    if missing := _missing_browser():
        pytest.fail(f"ONEMIN_REQUIRE_BROWSER=1, but {missing}")
    from playwright.sync_api import sync_playwright

    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    photos = draw_photos(tmp_path_factory.mktemp("browser-photos"))
    shared_deployment.write_dag(f"{CHANNELS_DAG}.py", dag_source(CHANNELS_DAG, out, photos), team=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            conf = {"review_timeout_minutes": 60, "scenes": [SCENE], "base_seed": BASE_SEED}
            run_id = airflow.trigger(PIPELINE, conf=conf)
            wait_until_listed(airflow, CHANNELS_DAG)  # not by id: that would cache "no team" for it
            channels_run_id = airflow.trigger(CHANNELS_DAG)
            review = airflow.wait_for_task(
                PIPELINE,
                run_id,
                "review",
                condition=lambda ti: ti["state"] in ("awaiting_input", "deferred", *TERMINAL_TI_STATES),
                timeout=600,
            )
            if review["state"] not in ("awaiting_input", "deferred"):
                states = {
                    (t["task_id"], t["map_index"]): t["state"]
                    for t in airflow.task_instances(PIPELINE, run_id)
                }
                failed = [k for k, state in states.items() if state == "failed"]
                logs = "\n".join(airflow.task_log(PIPELINE, run_id, t, map_index=m) for t, m in failed[:2])
                pytest.fail(f"the run did not reach its review: {states}\n{logs}")
            # An answer before the scheduler has processed the asking try's end fails the review.
            airflow.wait_for_executor_report(PIPELINE, run_id, "review", review["try_number"])
            channels_run = airflow.wait_for_run(CHANNELS_DAG, channels_run_id, timeout=600)
            assert channels_run["state"] == "success", airflow.run_report(CHANNELS_DAG, channels_run_id)
            yield {
                "airflow": airflow,
                "browser": browser,
                "run_id": run_id,
                "out": out,
                "channels_run_id": channels_run_id,
                "contexts": {},
            }
        finally:
            browser.close()


def _logged_in(ui: dict[str, Any], user: str) -> Any:
    """
    A new page of ``user``'s browser context, which logged in through Airflow's own login form
    the first time it was asked for. One context per user for the module, as one person's browser
    keeps its session: each login loads Airflow's UI, whose scripts a new context parses afresh.
    """
    airflow, contexts = ui["airflow"], ui["contexts"]
    if user in contexts:
        return contexts[user].new_page()
    context = ui["browser"].new_context(viewport={"width": 1400, "height": 1000})
    # Every wait for the UI (a click waits for its element) gets the minute the explicit waits here
    # get: in CI this leg shares two cores with other legs, and Airflow's UI once took longer than
    # Playwright's default 30 s to render a run page's tabs.
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(f"{airflow.url}/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(airflow.password(user))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)
    contexts[user] = context
    return page


def _check_gallery(page: Any, expected_figures: int) -> list[dict[str, Any]]:
    """Every figure's image has loaded (natural size > 0) and has its prompt beside it."""
    page.wait_for_selector("figure.result img")
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure.result img')].every(i => i.complete)", timeout=60_000
    )
    figures = page.eval_on_selector_all(
        "figure.result",
        """els => els.map(f => ({
            width: f.querySelector('img').naturalWidth,
            height: f.querySelector('img').naturalHeight,
            alt: f.querySelector('img').alt,
            prompt: f.querySelector('.prompt').textContent.trim(),
            uri: f.querySelector('.uri').textContent.trim(),
        }))""",
    )
    assert len(figures) == expected_figures
    for figure in figures:
        assert figure["width"] > 0 and figure["height"] > 0, figure
        assert figure["prompt"] and figure["prompt"] == figure["alt"], figure
        assert figure["prompt"] != "(prompt not recorded)", figure
        assert figure["uri"].startswith("file://")
    return figures


def test_the_task_pages_link_opens_the_gallery_with_every_image_loaded(ui):
    page = _logged_in(ui, REVIEWER)
    run = quote(ui["run_id"], safe="")
    page.goto(f"{ui['airflow'].url}/dags/{PIPELINE}/runs/{run}/tasks/replace_background/mapped/1")
    # Airflow lists a task instance's extra links in its Details tab.
    page.get_by_role("link", name="Details", exact=True).click()
    link = page.get_by_role("link", name="1min.ai result", exact=True)
    link.wait_for(timeout=60_000)
    href = link.get_attribute("href")
    assert f"/onemin/dags/{PIPELINE}/runs/{run}/tasks/replace_background?map_index=1" in href
    link.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "1-task-details-with-link.png"))
    link.click()  # same origin: the UI opens it in the same tab
    page.wait_for_url("**/onemin/dags/**", timeout=60_000)
    gallery = page
    figures = _check_gallery(gallery, expected_figures=1)
    assert figures[0]["prompt"] == SCENE
    gallery.screenshot(path=str(SHOTS / "2-task-gallery.png"), full_page=True)

    gallery.get_by_role("link", name="whole run").click()
    gallery.wait_for_load_state()
    # The pipeline's 3 products in one scene, and each product's cut-out, captioned as one.
    figures = _check_gallery(gallery, expected_figures=6)
    captions = sorted(f["prompt"] for f in figures)
    assert captions.count("Background Remover result (no prompt)") == 3, captions
    gallery.screenshot(path=str(SHOTS / "3-run-gallery.png"), full_page=True)


def test_the_run_page_has_a_tab_with_the_gallery(ui):
    page = _logged_in(ui, REVIEWER)
    run = quote(ui["run_id"], safe="")
    page.goto(f"{ui['airflow'].url}/dags/{PIPELINE}/runs/{run}")
    page.get_by_role("tab", name="1min.ai results").or_(
        page.get_by_role("link", name="1min.ai results")
    ).first.click()
    frame = page.frame_locator("iframe").first
    frame.locator("figure.result img").first.wait_for(timeout=60_000)
    page.screenshot(path=str(SHOTS / "4-run-tab.png"))
    widths = frame.locator("figure.result img").evaluate_all("els => els.map(i => i.naturalWidth)")
    assert len(widths) == 6, "3 products in one scene, and 3 cut-outs"
    assert all(width > 0 for width in widths), widths


def test_a_line_approved_in_the_required_actions_form_is_published(ui):
    airflow, run_id, out = ui["airflow"], ui["run_id"], ui["out"]
    page = _logged_in(ui, REVIEWER)
    run = quote(run_id, safe="")
    page.goto(f"{airflow.url}/dags/{PIPELINE}/runs/{run}/tasks/review/required_actions")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "5-required-action.png"), full_page=True)
    option = "2. MUG-001 Stoneware mug: shopify_square (1 image)"
    # Airflow renders a multiple-choice answer as a react-select list: typing opens and filters it.
    page.get_by_role("combobox", name="Select one or multiple values").click()
    page.keyboard.type("mug: shopify")
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    page.screenshot(path=str(SHOTS / "6-review-form-ticked.png"), full_page=True)
    page.get_by_role("button", name="Respond").click()
    publish = airflow.wait_for_task(PIPELINE, run_id, "publish", timeout=600)
    assert publish["state"] == "success", airflow.logs()
    rows = review_rows(out, run_id)
    approved = [r for r in rows if r["decision"] == "approved"]
    assert [(r["sku"], r["channel"], r["position"]) for r in approved] == [("MUG-001", "shopify_square", "1")]
    assert {r["decision"] for r in rows if r not in approved} == {"rejected"}
    assert approved[0]["reviewed_by"] == REVIEWER
    published = Path(approved[0]["published_path"].removeprefix("file://"))
    assert published.is_file()
    assert published.relative_to(out / "published").parts == ("shopify_square", "MUG-001", "1.jpg")
    page.screenshot(path=str(SHOTS / "7-after-review.png"), full_page=True)


def test_anonymous_forbidden_and_crafted_requests_are_refused(ui):
    airflow = ui["airflow"]
    run = quote(ui["run_id"], safe="")
    gallery = f"{airflow.url}/onemin/dags/{PIPELINE}/runs/{run}"
    image = f"{gallery}/tasks/replace_background/images/0/0"

    anonymous = ui["browser"].new_context().new_page()
    for url in (gallery, image):
        assert anonymous.goto(url).status == 401
    assert "image" not in (anonymous.goto(image).headers.get("content-type") or "")

    outsider = _logged_in(ui, OUTSIDER)
    for url in (gallery, image):
        assert outsider.goto(url).status == 403
    outsider.screenshot(path=str(SHOTS / "8-forbidden.png"))

    reviewer = _logged_in(ui, REVIEWER)
    assert reviewer.goto(image).status == 200
    for crafted in (
        f"{gallery}/tasks/replace_background/images/0/1",
        f"{gallery}/tasks/replace_background/images/0/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"{gallery}/tasks/replace_background/images/0/%2Fetc%2Fpasswd",
        f"{airflow.url}/onemin/dags/{PIPELINE}/runs/..%2F..%2Fetc/tasks/x/images/0/0",
    ):
        answer = reviewer.goto(crafted)
        assert answer.status in (404, 422), crafted
        assert "root:" not in reviewer.content()


def test_the_connection_lists_test_button_says_the_connection_works(ui):
    page = _logged_in(ui, ADMIN)
    page.goto(f"{ui['airflow'].url}/connections")
    # The Test icon of the onemin_default row, created as docs/connection.md says (no port).
    with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test"), timeout=60_000) as sent:
        page.get_by_role("button", name="Test Connection").first.click()
    answer = sent.value
    page.wait_for_timeout(500)  # let the UI show its verdict for the screenshot
    page.screenshot(path=str(SHOTS / "9-connection-test.png"))
    assert answer.status == 200, answer.text()
    assert answer.json()["status"] is True


def test_the_channel_view_shows_each_product_beside_its_source(ui):
    page = _logged_in(ui, REVIEWER)
    run = quote(ui["channels_run_id"], safe="")
    page.goto(f"{ui['airflow'].url}/onemin/dags/{CHANNELS_DAG}/runs/{run}")  # the run's gallery
    page.get_by_role("link", name="channel view").click()
    page.wait_for_url("**/channels", timeout=60_000)
    page.wait_for_selector("figure img")
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure img')].every(i => i.complete)", timeout=60_000
    )
    rows = page.eval_on_selector_all(
        "section.product .row",
        """rows => rows.map(r => ({
            sku: r.closest('section').dataset.sku,
            source: r.querySelector('figure.source img').naturalWidth,
            channels: [...r.querySelectorAll('figure.rendition')].map(f => f.dataset.channel),
            widths: [...r.querySelectorAll('figure.rendition img')].map(i => i.naturalWidth),
            flagged: r.querySelectorAll('figure.needs-review .flag').length,
        }))""",
    )
    assert [row["sku"] for row in rows] == ["MUG-001", "MUG-001", "MUG-001", "SNK-014"]
    for row in rows:
        assert row["source"] > 0 and len(row["widths"]) == 2 and all(w > 0 for w in row["widths"]), row
    assert rows[0]["channels"] == ["amazon_main", "web_thumbnail"]
    assert [row["flagged"] for row in rows] == [0, 0, len(SCENE_CHANNELS), 0]
    # Side by side: within each row, the source and every rendition start on one line.
    lines = page.eval_on_selector_all(
        "section.product .row",
        "rows => rows.map(r => new Set([...r.querySelectorAll('figure')]"
        ".map(f => Math.round(f.getBoundingClientRect().top))).size)",
    )
    assert lines == [1] * len(rows), lines
    page.screenshot(path=str(SHOTS / "10-channels.png"), full_page=True)
