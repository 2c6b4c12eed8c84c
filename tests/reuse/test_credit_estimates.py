"""
The credit estimate of one request and the cap on a run's credits, on their own: which source
gives the figure (the model list, earlier paid calls with identical options, else unknown), what
counts as identical options, and what ``max_credits`` does with an unknown estimate.
DAG runs: tests/operators/test_credits_dag_runs.py, tests/pipeline/test_pipeline_credits.py.
"""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_onemin.exceptions import OneMinCostCapError, OneMinCreditCapError
from airflow_provider_onemin.hooks.model_list import parse_model_list
from airflow_provider_onemin.reuse import credits
from airflow_provider_onemin.reuse.key import request_key
from airflow_provider_onemin.reuse.policy import PreviewLine, ReusePreview

LOG = logging.getLogger("test_credit_estimates")
LISTED = parse_model_list(
    {
        "models": [
            {
                "modelId": "ideogram-3",
                "creditEstimation": {
                    "unit": "image",
                    "credit": 6000,
                    "byOptions": [{"options": {"rendering_speed": "TURBO"}, "credit": 3000}],
                },
            },
            {"modelId": "clipdrop", "creditEstimation": {"unit": "call", "credit": 50000}},
            {
                "modelId": "gpt-image-1",
                "creditEstimation": {
                    "byOptions": [
                        {"options": {"quality": "low"}, "credit": 11000},
                        {"options": {"quality": "high"}, "credit": 250000},
                    ]
                },
            },
        ]
    },
    "BACKGROUND_REPLACER",
)
TURBO_2 = {
    "prompt": "a counter",
    "imageUrl": "development/images/a.png",
    "num_images": 2,
    "rendering_speed": "TURBO",
}


def test_the_model_list_gives_a_figure_per_image_or_per_call_and_says_so():
    found = credits.estimate("ideogram-3", TURBO_2, model_list=LISTED)
    assert (found.credits, found.source) == (6000, "model list")
    assert found.describe() == "6,000 credits (model list: 3,000 per image x 2 images)"
    default = credits.estimate("ideogram-3", {**TURBO_2, "rendering_speed": "QUALITY"}, model_list=LISTED)
    assert default.credits == 12000, "no option matched: the model's own figure, per image"
    per_call = credits.estimate("clipdrop", {"prompt": "p", "imageUrl": "k"}, model_list=LISTED)
    assert (per_call.credits, per_call.detail) == (50000, "50,000 per call")
    high = credits.estimate("gpt-image-1", {"size": "1024x1024"}, model_list=LISTED)
    assert high.credits == 250000 and "the highest figure listed" in high.detail


def test_earlier_paid_calls_with_identical_options_give_the_figure_when_the_list_does_not(tmp_path):
    out = str(tmp_path)
    assert credits.estimate("recraft", TURBO_2, model_list=LISTED, output_path=out).source == "unknown"
    paid = request_key("ideogram-3", TURBO_2).request
    credits.remember_price(out, paid, 6000, "gen-1", LOG)

    other_content = {
        "prompt": "a rock",
        "imageUrl": "development/images/b.png",
        "seed": 4,
        "num_images": 3,
        "rendering_speed": "TURBO",
    }
    found = credits.estimate("ideogram-3", other_content, model_list=None, output_path=out)
    assert (found.credits, found.source) == (9000, "earlier paid calls"), "3,000 per image x 3"
    assert "as paid for generation gen-1" in found.detail

    other_options = {**other_content, "rendering_speed": "QUALITY"}
    unknown = credits.estimate("ideogram-3", other_options, model_list=None, output_path=out)
    assert (unknown.credits, unknown.source) == (None, "unknown")
    assert unknown.describe() == (
        "credits unknown (the model list could not be read, and no earlier paid call with these options)"
    )
    assert credits.estimate("clipdrop", other_content, model_list=None, output_path=out).credits is None, (
        "another model is not identical options"
    )


def test_a_price_record_keeps_no_link_and_a_tampered_one_is_not_used(tmp_path, caplog):
    out = str(tmp_path)
    request = {
        "type": "BACKGROUND_REPLACER",
        "model": "some-model",
        "promptObject": {
            "prompt": "p",
            "maskUrl": "https://cdn.example.com/m.png?X-Amz-Signature=s3cr3t",
            "style": "x",
            "n": 2,
        },
    }
    credits.remember_price(out, request, 100, "gen-2", LOG)
    (record_path,) = (tmp_path / ".onemin-reuse" / "credits").iterdir()
    text = record_path.read_text()
    assert "s3cr3t" not in text and "cdn.example.com" not in text, "a link may be signed: never kept"
    assert json.loads(text)["credit_per_image"] == 50
    assert credits.estimate("some-model", {"style": "x"}, model_list=None, output_path=out).credits == 50

    record = json.loads(text)
    record["options"]["options"]["style"] = "y"  # no longer the options its name stands for
    record_path.write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING):
        assert (
            credits.estimate("some-model", {"style": "x"}, model_list=None, output_path=out).credits is None
        )
    assert "does not match its options" in caplog.text


def _preview(*figures: float | None) -> ReusePreview:
    key = request_key("ideogram-3", TURBO_2)
    lines = [
        PreviewLine(
            key, 1, None, credits.CreditEstimate(f, "model list" if f is not None else "unknown", "d", 1)
        )
        for f in figures
    ]
    return ReusePreview(lines)


def test_max_credits_refuses_over_the_cap_and_an_unknown_unless_allowed():
    _preview(3000, 3000).check_cap(10, 6000)
    with pytest.raises(OneMinCreditCapError, match="1 over max_credits=5,999") as over:
        _preview(3000, 3000).check_cap(10, 5999)
    assert (over.value.credits, over.value.unknown_lines) == (6000, 0)
    assert isinstance(over.value, OneMinCostCapError), "caught where the image cap's error is"

    with pytest.raises(OneMinCreditCapError, match=r"what 1 line\(s\) would cost is unknown"):
        _preview(3000, None).check_cap(10, 1_000_000)
    _preview(3000, None).check_cap(10, 1_000_000, allow_unknown_credits=True)
    with pytest.raises(OneMinCreditCapError, match="over max_credits"):
        _preview(3000, None).check_cap(10, 2999, allow_unknown_credits=True)
    # No credit cap: unknown credits are paid for (max_new_images caps them).
    _preview(None, None).check_cap(10)
    with pytest.raises(OneMinCostCapError, match="over max_new_images=1"):
        _preview(1, 1).check_cap(1, 1_000_000)
