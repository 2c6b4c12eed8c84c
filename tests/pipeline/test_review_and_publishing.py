"""
The review step's options (built from the run's lines, not fixed at parse time) and the
publishing of approved results (stable layout, review manifest). The whole flow through a real
api-server, scheduler and the human-in-the-loop API is in tests/test_review_in_deployment.py.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_onemin.operators.review import (
    PUBLISH_NOTHING,
    REVIEW_AVAILABLE,
    ResultsReviewOperator,
    approved_lines,
    line_options,
    review_body,
)
from airflow_provider_onemin.pipeline import publishing

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


def test_scene_folders_are_readable_stable_and_distinct():
    slug = publishing.scene_slug("A sunlit marble kitchen counter, soft morning light")
    assert slug.startswith("a-sunlit-marble-kitchen-counter-soft-morning")
    assert slug == publishing.scene_slug("A sunlit marble kitchen counter, soft morning light")
    assert slug != publishing.scene_slug("A sunlit marble kitchen counter, soft morning light!")
    assert publishing.published_name("MUG/001", "x", 0, ".png").startswith("published/MUG_001-")


def test_approved_results_are_copied_to_the_published_layout_and_all_are_in_the_manifest(tmp_path: Path):
    out = tmp_path / "out"
    stored = []
    for position in range(3):
        path = (
            out
            / "marketing_asset_pipeline"
            / "run"
            / "replace_background"
            / f"map-{position}"
            / "result-0.png"
        )
        path.parent.mkdir(parents=True)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes([position]) * 32)
        stored.append([f"file://{path}"])
    results = publishing.reviewed_results(
        LINES, stored, [[11], [12], None], ["u0", "u1", None], approved=[0, 2]
    )
    assert [r.decision for r in results] == ["approved", "rejected", "approved"]
    for result in results:
        if result.decision == publishing.APPROVED:
            result.published_path = publishing.publish_result(result, str(out))
    first = Path(results[0].published_path.removeprefix("file://"))
    assert first == out / "published" / "MUG-001" / publishing.scene_slug(LINES[0]["prompt"]) / "result-0.png"
    assert first.read_bytes() == Path(stored[0][0].removeprefix("file://")).read_bytes()
    assert results[1].published_path == ""
    assert not (out / "published" / "MUG-001" / publishing.scene_slug(LINES[1]["prompt"])).exists()

    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{out}/review.csv")
    publishing.write_review_manifest(results, target, "reviewer", "2026-01-02T00:00:00+00:00")
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(r["line"], r["sku"], r["decision"], r["reviewed_by"]) for r in rows] == [
        ("1", "MUG-001", "approved", "reviewer"),
        ("2", "MUG-001", "rejected", "reviewer"),
        ("3", "SNK-014", "approved", "reviewer"),
    ]
    assert rows[2]["seed"] == "" and rows[0]["seed"] == "11"


def test_without_a_decision_every_result_is_not_reviewed():
    results = publishing.reviewed_results(LINES, [["file:///a.png"], ["file:///b.png"], []], [], [], None)
    assert [r.decision for r in results] == ["not reviewed", "not reviewed"]


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


def test_published_and_review_uris_are_plain_on_an_object_store(s3_server, s3_bucket):
    """As ``stored_paths`` are: ``s3://bucket/key``, the connection id reported beside, never inside."""
    base = f"s3://onemin_s3_admin@{s3_bucket}/out"
    stored = f"s3://{s3_bucket}/out/marketing_asset_pipeline/run/replace_background/map-0/result-0.png"
    s3_server.client().put_object(Bucket=s3_bucket, Key=stored.split("/", 3)[3], Body=b"\x89PNG\r\n\x1a\nx")
    results = publishing.reviewed_results(LINES[:1], [[stored]], [[11]], ["u0"], approved=[0])
    published = publishing.publish_result(results[0], base)
    assert published.startswith(f"s3://{s3_bucket}/out/published/MUG-001/")
    assert s3_server.read(published) == b"\x89PNG\r\n\x1a\nx"
    results[0].published_path = published
    review = publishing.write_review_manifest(results, f"{base}/review.csv", "reviewer")
    assert review == f"s3://{s3_bucket}/out/review.csv"
    assert published in s3_server.read(review).decode("utf-8")
