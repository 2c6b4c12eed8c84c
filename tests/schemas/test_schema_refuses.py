"""
Bodies the seed forbids are refused, each violation naming its field path and rule, all at once.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_provider_onemin.exceptions import (
    OneMinValidationError,
)
from airflow_provider_onemin.schemas.validation import (
    request_violations,
    validate_request,
)
from tests.schemas.schema_cases import (
    MAGIC_PROMPTS,
    MAX_SEED,
    REFS,
    RENDERING_SPEEDS,
    assert_rejected,
    body,
    paths,
)

# --------------------------------------------------------------------------------------------
# Rejected bodies: field path named, rule stated
# --------------------------------------------------------------------------------------------


def test_num_images_above_maximum_exact_message() -> None:
    violations = request_violations(body(num_images=9))
    assert violations == ["promptObject.num_images: 9 is greater than the maximum of 8"]
    with pytest.raises(OneMinValidationError) as caught:
        validate_request(body(num_images=9))
    assert caught.value.violations == violations
    assert "promptObject.num_images: 9 is greater than the maximum of 8" in str(caught.value)
    assert "nothing was sent" in str(caught.value)


def test_num_images_below_minimum() -> None:
    violations = assert_rejected(body(num_images=0), "promptObject.num_images", "less than the minimum of 1")
    assert violations == ["promptObject.num_images: 0 is less than the minimum of 1"]


def test_seed_below_minimum() -> None:
    assert request_violations(body(seed=-1)) == ["promptObject.seed: -1 is less than the minimum of 0"]


def test_seed_above_maximum() -> None:
    assert request_violations(body(seed=MAX_SEED + 1)) == [
        "promptObject.seed: 2147483648 is greater than the maximum of 2147483647"
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_images", True),  # bool is not an integer
        ("num_images", False),
        ("num_images", 1.5),
        ("num_images", "3"),  # a string of digits is not an integer at schema level
        ("num_images", [1]),
        ("seed", "42"),
        ("seed", 0.5),
        ("seed", True),
        ("prompt", 42),
        ("prompt", ["a beach"]),
        ("imageUrl", 7),
        ("imageUrl", {"path": "a.png"}),
        ("negative_prompt", 0),
        ("style_reference_images", "development/images/style.png"),
    ],
)
def test_wrong_types_rejected(field: str, value: Any) -> None:
    expected = (
        "array"
        if field == "style_reference_images"
        else "integer"
        if field in ("num_images", "seed")
        else "string"
    )
    violations = assert_rejected(
        body(**{field: value}), f"promptObject.{field}", f"is not of type '{expected}'"
    )
    assert paths(violations) == {f"promptObject.{field}"}


@pytest.mark.parametrize("field", ["rendering_speed", "magic_prompt", "style_type", "style_preset"])
@pytest.mark.parametrize("value", [1, True, "auto", "", ["AUTO"]])
def test_enum_fields_reject_wrong_values_and_types(field: str, value: Any) -> None:
    violations = assert_rejected(body(**{field: value}), f"promptObject.{field}", "not one of")
    assert paths(violations) == {f"promptObject.{field}"}


@pytest.mark.parametrize(("field", "bad"), [("rendering_speed", "FAST"), ("magic_prompt", "YES")])
def test_enum_message_lists_the_allowed_values(field: str, bad: str) -> None:
    allowed = RENDERING_SPEEDS if field == "rendering_speed" else MAGIC_PROMPTS
    assert_rejected(body(**{field: bad}), f"promptObject.{field}", repr(bad), *allowed)


def test_unknown_preset_rejected_with_the_count_of_allowed_values() -> None:
    violations = assert_rejected(
        body(style_preset="VAPORWAVE"), "promptObject.style_preset", "'VAPORWAVE'", "62 allowed values"
    )
    assert len(violations) == 1


@pytest.mark.parametrize("blank", ["", " ", "   \t\n", "\u00a0\u2003"])
@pytest.mark.parametrize("field", ["prompt", "imageUrl"])
def test_blank_prompt_or_image_url_rejected(field: str, blank: str) -> None:
    assert_rejected(body(**{field: blank}), f"promptObject.{field}", "must not be blank")


@pytest.mark.parametrize("field", ["prompt", "imageUrl", "num_images"])
def test_missing_required_prompt_field_rejected(field: str) -> None:
    violations = request_violations(body(**{field: None}))
    assert violations == [f"promptObject.{field}: is required"]


@pytest.mark.parametrize("field", ["type", "model", "promptObject"])
def test_missing_required_top_level_field_rejected(field: str) -> None:
    request = body()
    del request[field]
    assert request_violations(request) == [f"{field}: is required"]


def test_unknown_prompt_object_field_rejected() -> None:
    violations = assert_rejected(body(numImages=2), "promptObject", "'numImages'", "not allowed")
    assert len(violations) == 1


def test_unknown_top_level_field_rejected() -> None:
    request = body()
    request["webhook"] = "https://example.com/hook"
    violations = assert_rejected(request, "(request)", "'webhook'", "not allowed")
    assert len(violations) == 1


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("type", "IMAGE_GENERATOR", "BACKGROUND_REPLACER"),
        ("type", "background_replacer", "BACKGROUND_REPLACER"),
        ("model", "ideogram-2", "ideogram-3"),
        ("model", None, "ideogram-3"),
    ],
)
def test_wrong_type_or_model_const_rejected(field: str, value: Any, expected: str) -> None:
    request = body()
    request[field] = value
    violations = assert_rejected(request, field, f"'{expected}' was expected")
    assert len(violations) == 1


def test_async_must_be_boolean() -> None:
    request = body()
    request["async"] = "true"
    assert_rejected(request, "async", "is not of type 'boolean'")


@pytest.mark.parametrize("request_body", [[], "text", None, 3])
def test_body_that_is_not_an_object_rejected(request_body: Any) -> None:
    assert_rejected(request_body, "(request)", "is not of type 'object'")


def test_prompt_object_that_is_not_an_object_rejected() -> None:
    request = body()
    request["promptObject"] = "A quiet beach"
    assert_rejected(request, "promptObject", "is not of type 'object'")


def test_six_references_rejected_and_the_limit_stated() -> None:
    violations = request_violations(body(style_reference_images=REFS[:6]))
    assert violations == ["promptObject.style_reference_images: 6 items given, at most 5 allowed"]


def test_empty_reference_list_rejected() -> None:
    assert_rejected(body(style_reference_images=[]), "promptObject.style_reference_images", "non-empty")


@pytest.mark.parametrize("item", ["", "  ", 5, None])
def test_bad_reference_item_rejected_at_its_index(item: Any) -> None:
    refs = [REFS[0], item]
    assert_rejected(body(style_reference_images=refs), "promptObject.style_reference_images[1]")


def test_preset_together_with_references_rejected() -> None:
    violations = assert_rejected(
        body(style_preset="WATERCOLOR", style_reference_images=REFS[:1]),
        "promptObject.style_reference_images",
        "style_preset",
        "exclude each other",
    )
    assert len(violations) == 1


@pytest.mark.parametrize("style_type", ["REALISTIC", "DESIGN", "FICTION"])
def test_style_type_other_than_auto_general_with_preset_rejected(style_type: str) -> None:
    violations = assert_rejected(
        body(style_type=style_type, style_preset="WATERCOLOR"),
        "promptObject.style_type",
        "must be AUTO or GENERAL when style_preset is given",
    )
    assert len(violations) == 1


@pytest.mark.parametrize("style_type", ["REALISTIC", "DESIGN", "FICTION"])
def test_style_type_other_than_auto_general_with_references_rejected(style_type: str) -> None:
    violations = assert_rejected(
        body(style_type=style_type, style_reference_images=REFS[:3]),
        "promptObject.style_type",
        "must be AUTO or GENERAL when style_reference_images is given",
    )
    assert len(violations) == 1


def test_all_violations_are_collected_at_once() -> None:
    request = body(num_images=9, prompt="   ", style_preset="VAPORWAVE")
    del request["model"]
    violations = request_violations(request)
    assert len(violations) == 4, violations
    assert paths(violations) == {
        "model",
        "promptObject.num_images",
        "promptObject.prompt",
        "promptObject.style_preset",
    }
    with pytest.raises(OneMinValidationError) as caught:
        validate_request(request)
    assert caught.value.violations == violations
    assert "(4 problem(s))" in str(caught.value)
    for line in violations:
        assert f"  - {line}" in str(caught.value)


def test_many_problems_in_one_body_all_reported() -> None:
    request = {
        "type": "X",
        "extra": 1,
        "promptObject": {
            "prompt": "",
            "num_images": True,
            "seed": -5,
            "style_preset": "WEIRD",
            "style_reference_images": REFS[:6],
            "style_type": "DESIGN",
            "colour": "red",
        },
    }
    found = paths(request_violations(request))
    assert found >= {
        "type",
        "model",
        "(request)",
        "promptObject",
        "promptObject.prompt",
        "promptObject.imageUrl",
        "promptObject.num_images",
        "promptObject.seed",
        "promptObject.style_reference_images",
        "promptObject.style_type",
    }


def test_validation_error_is_final_and_lists_violations() -> None:
    with pytest.raises(OneMinValidationError) as caught:
        validate_request(body(num_images=0, seed=-1))
    assert caught.value.final is True
    assert caught.value.violations == [
        "promptObject.num_images: 0 is less than the minimum of 1",
        "promptObject.seed: -1 is less than the minimum of 0",
    ]


def test_validation_does_not_modify_the_body() -> None:
    request = body(style_preset="WATERCOLOR", num_images=9)
    before = copy.deepcopy(request)
    request_violations(request)
    assert request == before
