"""
The review step's options (built from the run's lines, not fixed at parse time), the catalogue's
channels, and the publishing of approved renditions (per-channel layout, shop and review
manifests). The whole flow through a real api-server, scheduler and the human-in-the-loop API is
in tests/pipeline/test_review_deployment.py; the pipeline's own publish step on a real run's
renditions in tests/pipeline/test_pipeline.py.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_onemin.exceptions import OneMinValidationError
from airflow_provider_onemin.operators.review import (
    PUBLISH_NOTHING,
    REVIEW_AVAILABLE,
    ResultsReviewOperator,
    approved_lines,
    line_options,
    review_body,
)
from airflow_provider_onemin.pipeline import DEFAULT_CHANNELS, catalogue_channels, publishing, review_choices

LINES = [
    {"sku": "MUG-001", "product": "Stoneware mug", "prompt": "a sunlit kitchen counter"},
    {"sku": "MUG-001", "product": "Stoneware mug", "prompt": "a mossy rock"},
    {"sku": "SNK-014", "product": "Trail running sneaker", "prompt": "a sunlit kitchen counter"},
]


def test_one_option_per_line_in_plan_order_then_publish_nothing():
    options = line_options(LINES)
    assert options == [
        "1. Stoneware mug (MUG-001): a sunlit kitchen counter",
        "2. Stoneware mug (MUG-001): a mossy rock",
        "3. Trail running sneaker (SNK-014): a sunlit kitchen counter",
        PUBLISH_NOTHING,
    ]
    # Two identical lines still get options of their own.
    assert len(set(line_options([LINES[0], LINES[0]]))) == 3


def test_the_answer_is_read_back_as_plan_positions():
    options = line_options(LINES)
    assert approved_lines([options[2], options[0]], LINES) == [0, 2]
    assert approved_lines([PUBLISH_NOTHING], LINES) == []
    with pytest.raises(ValueError, match="not one of this run's options"):
        approved_lines(["4. something else"], LINES)
    with pytest.raises(ValueError, match="nothing is published"):
        approved_lines([PUBLISH_NOTHING, options[1]], LINES)


def test_the_body_links_to_the_gallery_and_lists_the_lines():
    body = review_body(LINES, "http://airflow.example/onemin/dags/d/runs/r")
    assert "[Open this run's gallery](http://airflow.example/onemin/dags/d/runs/r)" in body
    assert "3. `SNK-014` Trail running sneaker: a sunlit kitchen counter" in body
    assert "gallery" not in review_body(LINES, None)


@pytest.mark.skipif(not REVIEW_AVAILABLE, reason="human-in-the-loop needs Airflow 3.1+")
class TestReviewOperator:
    def test_options_and_multiple_are_the_operators_own(self):
        for fixed in ("options", "multiple", "defaults"):
            with pytest.raises(ValueError, match="built from the run's lines"):
                ResultsReviewOperator(task_id="review", lines=LINES, **{fixed: ["x"]})

    def test_an_answer_naming_the_runs_lines_is_accepted_after_resuming(self):
        # The task resumes in a new process: the operator holds its parse-time options again.
        operator = ResultsReviewOperator(task_id="review", lines=LINES)
        assert operator.options != line_options(LINES)
        chosen = [line_options(LINES)[1]]
        event = {
            "chosen_options": chosen,
            "params_input": {},
            "responded_at": datetime(2026, 1, 2, tzinfo=timezone.utc),
            "responded_by_user": {"id": "reviewer", "name": "reviewer"},
        }
        answer = operator.execute_complete(context={}, event=event)
        assert answer["approved"] == [1]
        assert answer["chosen_options"] == chosen

    def test_a_plain_hitl_operator_would_refuse_that_answer(self):
        from airflow.providers.standard.operators.hitl import HITLOperator

        plain = HITLOperator(task_id="plain", subject="s", options=["(the lines of the run)"], multiple=True)
        with pytest.raises(ValueError, match="not in"):
            plain.validate_chosen_options([line_options(LINES)[1]])


def test_published_names_are_channel_sku_and_position():
    assert (
        publishing.published_name("shopify_square", "MUG-001", 2, ".jpg")
        == "published/shopify_square/MUG-001/2.jpg"
    )
    unsafe = publishing.published_name("web_thumbnail", "MUG/001", 1, ".webp")
    assert unsafe.startswith("published/web_thumbnail/MUG_001-") and unsafe.endswith("/1.webp"), (
        "a hash: unique"
    )


def _rendition(out: Path, sku: str, channel: str, position: int, prompt: str | None, flagged: bool = False):
    path = out / "marketing_asset_pipeline" / "run" / f"{sku}-{channel}-{position}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff" + f"{sku}/{channel}/{position}".encode())
    return {
        "sku": sku,
        "product": {"MUG-001": "Stoneware mug", "SNK-014": "Trail running sneaker"}[sku],
        "prompt": prompt,
        "source": f"file://{out}/source.png",
        "channel": channel,
        "position": position,
        "uri": f"file://{path}",
        "width": 2048,
        "height": 2048,
        "format": "JPEG",
        "needs_review": flagged,
        "fidelity": 0.31 if flagged else 0.001,
        "alt_text": f"alt {sku} {position}",
    }


def test_a_flagged_rendition_is_a_choice_of_its_own_and_published_only_when_picked(tmp_path: Path):
    out = tmp_path / "out"
    records = [
        _rendition(out, "MUG-001", "amazon_main", 1, None),
        _rendition(out, "MUG-001", "shopify_square", 1, "a kitchen"),
        _rendition(out, "MUG-001", "shopify_square", 2, "a rock", flagged=True),
        _rendition(out, "SNK-014", "shopify_square", 1, "a kitchen"),
    ]
    offered = review_choices(records)
    assert [c["option"] for c in offered] == [
        "MUG-001 Stoneware mug: amazon_main (1 image)",
        "MUG-001 Stoneware mug: shopify_square (1 image)",
        "MUG-001 Stoneware mug: shopify_square image 2 (a rock) NEEDS REVIEW: product fidelity 0.310",
        "SNK-014 Trail running sneaker: shopify_square (1 image)",
    ]
    # The review numbers them; "publish nothing" comes last.
    assert line_options(offered)[2].startswith("3. MUG-001 Stoneware mug: shopify_square image 2")

    # Approving MUG-001's shopify_square channel does not publish its flagged image.
    results = publishing.reviewed_renditions(offered, approved=[1])
    assert [(r.channel, r.position, r.decision) for r in results] == [
        ("amazon_main", 1, "rejected"),
        ("shopify_square", 1, "approved"),
        ("shopify_square", 2, "rejected"),
        ("shopify_square", 1, "rejected"),
    ]
    for result in results:
        if result.decision == publishing.APPROVED:
            result.published_path = publishing.publish_rendition(result, str(out))
    published = sorted(str(p.relative_to(out)) for p in (out / "published").rglob("*") if p.is_file())
    assert published == ["published/shopify_square/MUG-001/1.jpg"]
    assert (out / published[0]).read_bytes() == Path(records[1]["uri"].removeprefix("file://")).read_bytes()

    # Picked by name, it is published, at its own position.
    picked = publishing.reviewed_renditions(offered, approved=[2])
    assert [(r.position, r.decision) for r in picked if r.decision == "approved"] == [(2, "approved")]

    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{out}/review.csv")
    publishing.write_review_manifest(results, target, "reviewer", "2026-01-02T00:00:00+00:00")
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [
        (r["choice"], r["sku"], r["channel"], r["position"], r["needs_review"], r["decision"]) for r in rows
    ] == [
        ("1", "MUG-001", "amazon_main", "1", "no", "rejected"),
        ("2", "MUG-001", "shopify_square", "1", "no", "approved"),
        ("3", "MUG-001", "shopify_square", "2", "yes", "rejected"),
        ("4", "SNK-014", "shopify_square", "1", "no", "rejected"),
    ]
    assert rows[1]["published_path"] == f"file://{out}/published/shopify_square/MUG-001/1.jpg"
    assert rows[2]["fidelity"] == "0.31" and rows[0]["reviewed_by"] == "reviewer"

    shop = ObjectStoragePath(f"file://{out}/published.csv")
    publishing.write_shop_manifest(results, shop)
    assert shop.read_text().splitlines() == [
        "sku,channel,position,uri,width,height,alt_text",
        f"MUG-001,shopify_square,1,file://{out}/published/shopify_square/MUG-001/1.jpg,2048,2048,alt MUG-001 1",
    ]


def test_without_a_decision_every_rendition_is_not_reviewed(tmp_path: Path):
    offered = review_choices([_rendition(tmp_path, "MUG-001", "amazon_main", 1, None)])
    results = publishing.reviewed_renditions(offered, None)
    assert [r.decision for r in results] == ["not reviewed"]


def test_catalogue_channels_default_separators_and_refusals():
    assert catalogue_channels("", "MUG-001") == list(DEFAULT_CHANNELS) == ["shopify_square", "web_thumbnail"]
    assert catalogue_channels(None, "MUG-001") == ["shopify_square", "web_thumbnail"]
    assert catalogue_channels(" instagram_story;web_thumbnail  instagram_story ", "X") == [
        "instagram_story",
        "web_thumbnail",
    ]
    with pytest.raises(OneMinValidationError, match=r"product 'SNK-014': unknown channel 'tiktok'"):
        catalogue_channels("shopify_square tiktok", "SNK-014")
    with pytest.raises(OneMinValidationError, match=r"product 'SNK-014': channel 'amazon_main' is made from"):
        catalogue_channels("amazon_main", "SNK-014")


def test_the_subject_names_the_run_and_its_products():
    from airflow_provider_onemin.operators.review import review_subject

    subject = review_subject("scheduled__2026-01-02T00:00:00+00:00", LINES)
    assert subject == (
        "Publish which images of run scheduled__2026-01-02T00:00:00+00:00? 3 line(s): MUG-001, SNK-014"
    )
    many = [{"sku": f"SKU-{n}", "prompt": "p"} for n in range(6)]
    assert review_subject("r", many).endswith("SKU-0, SKU-1, SKU-2, SKU-3 and 2 more")


def test_the_body_says_what_waits_until_when_and_why_it_asks_again():
    from airflow_provider_onemin.operators.review import waiting_note

    first = waiting_note("run-1", "2026-01-04 00:00", 1)
    assert "Run `run-1` waits" in first and "by 2026-01-04 00:00 (UTC) nothing of it is published" in first
    assert "again" not in first
    assert "Asked again (try 2)" in waiting_note("run-1", None, 2)


@pytest.mark.skipif(not REVIEW_AVAILABLE, reason="human-in-the-loop needs Airflow 3.1+")
def test_a_review_nobody_answered_fails_without_retrying():
    # Retries are there for Airflow losing an answer; a timeout would only wait as long again.
    from airflow.providers.common.compat.sdk import AirflowFailException

    operator = ResultsReviewOperator(task_id="review", lines=LINES, response_timeout_minutes="30", retries=3)
    event = {"error": "timeout", "error_type": "timeout"}
    with pytest.raises(AirflowFailException, match="within 30 minute"):
        operator.execute_complete(context={}, event=event)


def test_outside_a_test_run_the_review_asks():
    from airflow_provider_onemin.compat import in_test_run

    assert in_test_run() is False


def test_published_and_review_uris_are_plain_on_an_object_store(s3_server, s3_bucket, tmp_path):
    """As ``stored_paths`` are: ``s3://bucket/key``, the connection id reported beside, never inside."""
    base = f"s3://onemin_s3_admin@{s3_bucket}/out"
    stored = (
        f"s3://{s3_bucket}/out/marketing_asset_pipeline/run/render_scenes/map-0/shopify_square/image-0.jpg"
    )
    s3_server.client().put_object(Bucket=s3_bucket, Key=stored.split("/", 3)[3], Body=b"\xff\xd8\xffx")
    record = {**_rendition(tmp_path, "MUG-001", "shopify_square", 1, "a kitchen"), "uri": stored}
    results = publishing.reviewed_renditions(review_choices([record]), approved=[0])
    published = publishing.publish_rendition(results[0], base)
    assert published == f"s3://{s3_bucket}/out/published/shopify_square/MUG-001/1.jpg"
    assert s3_server.read(published) == b"\xff\xd8\xffx"
    results[0].published_path = published
    review = publishing.write_review_manifest(results, f"{base}/review.csv", "reviewer")
    assert review == f"s3://{s3_bucket}/out/review.csv"
    assert published in s3_server.read(review).decode("utf-8")
    shop = publishing.write_shop_manifest(results, f"{base}/published.csv")
    assert shop == f"s3://{s3_bucket}/out/published.csv"
    assert published in s3_server.read(shop).decode("utf-8")


def test_publishing_copies_only_files_of_the_run_whatever_the_choices_xcom_says(tmp_path: Path):
    from airflow.providers.common.compat.sdk import AirflowFailException

    out = tmp_path / "out"
    secret = tmp_path / "elsewhere" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(b"\xff\xd8\xffnot for the shop")
    honest = _rendition(out, "MUG-001", "shopify_square", 1, "a kitchen")
    tampered = {**_rendition(out, "MUG-001", "web_thumbnail", 1, "a kitchen"), "uri": f"file://{secret}"}
    answer = {"approved": [0, 1], "responded_by_user": {"name": "reviewer"}}

    with pytest.raises(AirflowFailException, match=r"1 approved rendition\(s\) are not files of this run"):
        publishing.publish_reviewed(
            review_choices([honest, tampered]), answer, str(out), "marketing_asset_pipeline", "run"
        )
    assert not (out / "published").exists(), "nothing copied"

    done = publishing.publish_reviewed(
        review_choices([honest]), {"approved": [0]}, str(out), "marketing_asset_pipeline", "run"
    )
    assert done["published"] == [f"file://{out}/published/shopify_square/MUG-001/1.jpg"]
    assert done["shop_manifest"] == f"file://{out}/marketing_asset_pipeline/run/published.csv"
