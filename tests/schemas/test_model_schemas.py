"""
The request schema of every Background Replacer model (issue 21), refusing and accepting.

Expected outcomes are written out from the issue's table of models (fields, required ones,
values, limits), never read from the schema files or the module under test. The size grid of
gpt-image-2 is also judged against the emulator's own statement of that rule.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_onemin.emulator.models import MODELS
from airflow_provider_onemin.exceptions import OneMinConfigurationError, OneMinValidationError
from airflow_provider_onemin.schemas.sizes import size_grid_violation
from airflow_provider_onemin.schemas.validation import request_violations, supported_models, validate_request

SOURCE = {"prompt": "a marble kitchen counter", "imageUrl": "development/images/mug.png"}
#: The least each model needs (the issue's required fields).
MINIMAL: dict[str, dict[str, Any]] = {
    "ideogram-3": {"num_images": 1},
    "clipdrop": {},
    "gpt-image-1": {"size": "1024x1024"},
    "gpt-image-1-mini": {"size": "1024x1024"},
    "gpt-image-2": {"size": "1024x1024", "quality": "medium"},
    "recraft": {},
}
#: gpt-image-2's grid as the issue states it.
GRID = {"multiple_of": 16, "min_pixels": 655_360, "max_pixels": 8_294_400, "max_side": 3840, "max_ratio": 3}


def body(model: str, **fields: Any) -> dict[str, Any]:
    prompt_object = {**SOURCE, **MINIMAL[model], **fields}
    return {"type": "BACKGROUND_REPLACER", "model": model, "promptObject": prompt_object}


def test_every_model_of_the_issue_has_a_schema() -> None:
    assert supported_models() == [
        "clipdrop",
        "gpt-image-1",
        "gpt-image-1-mini",
        "gpt-image-2",
        "ideogram-3",
        "recraft",
    ]


@pytest.mark.parametrize("model", sorted(MINIMAL))
def test_the_required_fields_alone_are_accepted(model: str) -> None:
    assert request_violations(body(model), model) == []


@pytest.mark.parametrize(
    ("model", "missing"),
    [
        ("clipdrop", "prompt"),
        ("clipdrop", "imageUrl"),
        ("gpt-image-1", "size"),
        ("gpt-image-1-mini", "size"),
        ("gpt-image-2", "size"),
        ("gpt-image-2", "quality"),
        ("recraft", "imageUrl"),
    ],
)
def test_a_missing_required_field_is_named(model: str, missing: str) -> None:
    request = body(model)
    del request["promptObject"][missing]
    assert request_violations(request, model) == [f"promptObject.{missing}: is required"]


def test_unknown_model_fails_listing_the_known_ones() -> None:
    with pytest.raises(OneMinConfigurationError) as caught:
        request_violations(body("clipdrop"), "dall-e-3")
    assert "'dall-e-3'" in str(caught.value)
    assert "clipdrop, gpt-image-1, gpt-image-1-mini, gpt-image-2, ideogram-3, recraft" in str(caught.value)


# --- a field of another model ---------------------------------------------------------------


def test_style_preset_on_clipdrop_names_the_field_and_the_model() -> None:
    assert request_violations(body("clipdrop", style_preset="ART_DECO"), "clipdrop") == [
        "promptObject: 'style_preset' is not allowed for model clipdrop (its fields: prompt, imageUrl)"
    ]


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("clipdrop", "size", "1024x1024"),
        ("clipdrop", "num_images", 1),
        ("gpt-image-1", "num_images", 2),
        ("gpt-image-1", "style", "digital_illustration"),
        ("gpt-image-1-mini", "seed", 3),
        ("gpt-image-2", "style_preset", "ART_DECO"),
        ("gpt-image-2", "n", 1),
        ("gpt-image-2", "output_format", "png"),
        ("recraft", "size", "1024x1024"),
        ("recraft", "rendering_speed", "TURBO"),
        ("ideogram-3", "size", "1024x1024"),
        ("ideogram-3", "quality", "high"),
        ("ideogram-3", "style", "realistic_image"),
    ],
)
def test_a_field_of_another_model_is_refused_naming_both(model: str, field: str, value: Any) -> None:
    (line,) = request_violations(body(model, **{field: value}), model)
    assert line.startswith(f"promptObject: {field!r} is not allowed for model {model} (its fields: ")


def test_the_error_header_names_the_model() -> None:
    with pytest.raises(OneMinValidationError) as caught:
        validate_request(body("gpt-image-2", quality="ultra"), "gpt-image-2")
    assert str(caught.value).startswith(
        "Invalid Background Replacer request for model gpt-image-2 (1 problem(s))"
    )


# --- gpt-image-1 and gpt-image-1-mini ---------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1-mini"])
@pytest.mark.parametrize("size", ["1024x1024", "1024x1536", "1536x1024"])
def test_gpt_image_1_sizes_offered(model: str, size: str) -> None:
    assert request_violations(body(model, size=size), model) == []


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1-mini"])
@pytest.mark.parametrize("size", ["512x512", "1024x1792", "2048x2048", "auto", "1024X1024"])
def test_gpt_image_1_sizes_not_offered(model: str, size: str) -> None:
    assert request_violations(body(model, size=size), model) == [
        f"promptObject.size: {size!r} is not one of ['1024x1024', '1024x1536', '1536x1024']"
    ]


@pytest.mark.parametrize(
    ("fields", "accepted"),
    [
        ({"quality": "low"}, True),
        ({"quality": "high"}, True),
        ({"quality": "ultra"}, False),
        ({"n": 1}, True),
        ({"n": 10}, True),
        ({"n": 0}, False),
        ({"n": 11}, False),
        ({"output_format": "webp"}, True),
        ({"output_format": "gif"}, False),
        ({"output_compression": 0}, True),
        ({"output_compression": 100}, True),
        ({"output_compression": 101}, False),
        ({"output_compression": -1}, False),
        # Both versions of the API page at once: accepted, each field only sent when set.
        ({"background": "transparent", "output_format": "png", "n": 2}, True),
        ({"background": "none"}, False),
        ({"prompt": "a" * 4000}, True),
        ({"prompt": "a" * 4001}, False),
    ],
)
def test_gpt_image_1_fields(fields: dict[str, Any], accepted: bool) -> None:
    violations = request_violations(body("gpt-image-1", **fields), "gpt-image-1")
    assert (violations == []) is accepted, violations
    assert all(line.split(": ")[0] == f"promptObject.{next(iter(fields))}" for line in violations)


def test_gpt_image_1_n_out_of_range_names_num_images() -> None:
    assert request_violations(body("gpt-image-1", n=11), "gpt-image-1") == [
        "promptObject.n: must be an integer from 1 to 10 (the operator's num_images)"
    ]


# --- recraft ----------------------------------------------------------------------------------


def test_recraft_fields() -> None:
    request = body(
        "recraft",
        n=1,
        style="digital_illustration",
        substyle="pixel_art",
        negative_prompt="text",
        task_type="recraftv3",
    )
    assert request_violations(request, "recraft") == []
    assert request_violations(body("recraft", n=2), "recraft") == [
        "promptObject.n: must be 1: recraft makes one image per request (the operator's num_images)"
    ]
    assert request_violations(body("recraft", task_type="recraftv2"), "recraft") == [
        "promptObject.task_type: 'recraftv3' was expected"
    ]


# --- gpt-image-2: the size grid ---------------------------------------------------------------

#: (size, what is wrong) from the issue's rules, worked out by hand; None: on the grid.
SIZES = [
    ("1024x1024", None),
    ("1024x640", None),  # exactly 655,360 pixels
    ("2880x2880", None),  # exactly 8,294,400 pixels
    ("3840x2160", None),  # exactly 8,294,400 pixels, longest side 3840
    ("3840x1280", None),  # exactly 3:1
    ("1280x3840", None),
    ("1000x1000", "both sides must be multiples of 16 (1000x1000 given)"),
    ("1024x1030", "both sides must be multiples of 16 (1024x1030 given)"),
    ("800x800", "must have 655,360 to 8,294,400 pixels (800x800 has 640,000)"),
    ("1008x640", "must have 655,360 to 8,294,400 pixels (1008x640 has 645,120)"),
    ("2896x2880", "must have 655,360 to 8,294,400 pixels (2896x2880 has 8,340,480)"),
    ("3856x1296", "no side may be longer than 3840 pixels (3856x1296 given)"),
    ("3840x1264", "the long side may be at most 3 times the short one (3840x1264 given)"),
    ("1264x3840", "the long side may be at most 3 times the short one (1264x3840 given)"),
    ("auto", "must be WIDTHxHEIGHT in pixels, like 1024x1536 ('auto' given)"),
    ("1024X1024", "must be WIDTHxHEIGHT in pixels, like 1024x1536 ('1024X1024' given)"),
    ("0x1024", "must be WIDTHxHEIGHT in pixels, like 1024x1536 ('0x1024' given)"),
    (" 1024x1024", "must be WIDTHxHEIGHT in pixels, like 1024x1536 (' 1024x1024' given)"),
]


@pytest.mark.parametrize(("size", "problem"), SIZES)
def test_size_grid_checker(size: str, problem: str | None) -> None:
    assert size_grid_violation(size, GRID) == problem


@pytest.mark.parametrize(("size", "problem"), SIZES)
def test_gpt_image_2_size_through_its_schema(size: str, problem: str | None) -> None:
    violations = request_violations(body("gpt-image-2", size=size), "gpt-image-2")
    assert violations == ([] if problem is None else [f"promptObject.size: {problem}"])


def test_gpt_image_2_size_that_is_not_a_string() -> None:
    assert request_violations(body("gpt-image-2", size=1024), "gpt-image-2") == [
        "promptObject.size: 1024 is not of type 'string'"
    ]


@pytest.mark.parametrize(
    ("fields", "accepted"),
    [
        ({"quality": "low"}, True),
        ({"quality": "ultra"}, False),
        ({"background": "auto"}, True),
        ({"background": "opaque"}, True),
        ({"background": "transparent"}, True),
        ({"background": "clear"}, False),
    ],
)
def test_gpt_image_2_fields(fields: dict[str, Any], accepted: bool) -> None:
    assert (request_violations(body("gpt-image-2", **fields), "gpt-image-2") == []) is accepted


_EMULATOR_SIZE_RULE = MODELS[("BACKGROUND_REPLACER", "gpt-image-2")].fields["size"]


@given(
    width=st.integers(min_value=1, max_value=300).map(lambda k: k * 16) | st.integers(1, 5000),
    height=st.integers(min_value=1, max_value=300).map(lambda k: k * 16) | st.integers(1, 5000),
)
def test_gpt_image_2_grid_agrees_with_the_emulator(width: int, height: int) -> None:
    # The emulator states the rule on its own (emulator/models.py): the two must agree on every size.
    size = f"{width}x{height}"
    provider_ok = request_violations(body("gpt-image-2", size=size), "gpt-image-2") == []
    emulator_ok = _EMULATOR_SIZE_RULE(size) is None
    assert provider_ok == emulator_ok, size
