"""
Schema tests: every rule of the 1min.ai seed for the ideogram-3 Background Replacer body, checked
through ``airflow_provider_onemin.schemas.validation`` (the public way the provider validates a request).

Each rejected body must name the offending field path and state the rule; all violations of a
body are reported at once. The answer schema is covered through ``validate_answer``.
"""

from __future__ import annotations

import copy
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from airflow_provider_onemin.exceptions import (
    OneMinConfigurationError,
    OneMinMalformedResponseError,
    OneMinValidationError,
)
from airflow_provider_onemin.schemas.validation import (
    request_schema,
    request_violations,
    supported_models,
    validate_answer,
    validate_request,
)

# The 62 style_preset names, copied from the seed document (style_preset values).
SEED_PRESETS = (
    "80S_ILLUSTRATION, 90S_NOSTALGIA, ABSTRACT_ORGANIC, ANALOG_NOSTALGIA, ART_BRUT, ART_DECO, "
    "ART_POSTER, AURA, AVANT_GARDE, BAUHAUS, BLUEPRINT, BLURRY_MOTION, BRIGHT_ART, C4D_CARTOON, "
    "CHILDRENS_BOOK, COLLAGE, COLORING_BOOK_I, COLORING_BOOK_II, CUBISM, DARK_AURA, DOODLE, "
    "DOUBLE_EXPOSURE, DRAMATIC_CINEMA, EDITORIAL, EMOTIONAL_MINIMAL, ETHEREAL_PARTY, EXPIRED_FILM, "
    "FLAT_ART, FLAT_VECTOR, FOREST_REVERIE, GEO_MINIMALIST, GLASS_PRISM, GOLDEN_HOUR, GRAFFITI_I, "
    "GRAFFITI_II, HALFTONE_PRINT, HIGH_CONTRAST, HIPPIE_ERA, ICONIC, JAPANDI_FUSION, JAZZY, "
    "LONG_EXPOSURE, MAGAZINE_EDITORIAL, MINIMAL_ILLUSTRATION, MIXED_MEDIA, MONOCHROME, NIGHTLIFE, "
    "OIL_PAINTING, OLD_CARTOONS, PAINT_GESTURE, POP_ART, RETRO_ETCHING, RIVIERA_POP, SPOTLIGHT_80S, "
    "STYLIZED_RED, SURREAL_COLLAGE, TRAVEL_POSTER, VINTAGE_GEO, VINTAGE_POSTER, WATERCOLOR, WEIRD, "
    "WOODBLOCK_PRINT"
).split(", ")

RENDERING_SPEEDS = ["FLASH", "TURBO", "DEFAULT", "QUALITY"]
MAGIC_PROMPTS = ["AUTO", "ON", "OFF"]
STYLE_TYPES = ["AUTO", "GENERAL", "REALISTIC", "DESIGN", "FICTION"]
MAX_SEED = 2147483647

# The seed's own example body and answer (the curl example and the playground answer).
SEED_BODY: dict[str, Any] = {
    "type": "BACKGROUND_REPLACER",
    "model": "ideogram-3",
    "promptObject": {
        "prompt": "A man standing in a busy coffee shop",
        "imageUrl": "development/images/portrait.png",
        "num_images": 1,
        "rendering_speed": "DEFAULT",
        "magic_prompt": "AUTO",
        "style_type": "AUTO",
    },
}

SEED_ANSWER: dict[str, Any] = {
    "aiRecord": {
        "uuid": "e40dd9ef-0944-4ce5-bc90-1edd2548619a",
        "model": "ideogram-3",
        "type": "BACKGROUND_REPLACER",
        "status": "SUCCESS",
        "aiRecordDetail": {
            "promptObject": {
                "prompt": "A man standing in a busy coffee shop",
                "imageUrl": "development/images/portrait.png",
                "num_images": 1,
                "rendering_speed": "DEFAULT",
                "style_type": "AUTO",
                "magic_prompt": "AUTO",
            },
            "resultObject": ["development/images/2026_04_15_bg_replace_result.png"],
            "responseObject": {
                "created": "2026-04-15T10:30:00Z",
                "data": [
                    {
                        "url": "https://ideogram.ai/.../bg_replace.png",
                        "prompt": "A man standing in a busy coffee shop",
                        "resolution": "1024x1024",
                        "is_image_safe": True,
                        "seed": 12345,
                        "style_type": "AUTO",
                    }
                ],
            },
        },
    }
}

REFS = [f"development/images/style_{i}.png" for i in range(6)]


def body(**prompt_fields: Any) -> dict[str, Any]:
    """The minimal valid body with ``prompt_fields`` merged into promptObject (None deletes)."""
    result: dict[str, Any] = {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {
            "prompt": "A quiet beach at sunset",
            "imageUrl": "development/images/portrait.png",
            "num_images": 1,
        },
    }
    for name, value in prompt_fields.items():
        if value is None:
            del result["promptObject"][name]
        else:
            result["promptObject"][name] = value
    return result


def paths(violations: list[str]) -> set[str]:
    return {line.split(": ", 1)[0] for line in violations}


def assert_rejected(request: dict[str, Any], path: str, *rule_words: str) -> list[str]:
    """``request`` fails; one violation names ``path`` and (case-insensitively) every rule word."""
    violations = request_violations(request)
    assert violations, f"expected a violation at {path}"
    with pytest.raises(OneMinValidationError) as caught:
        validate_request(request)
    assert caught.value.violations == violations
    matching = [line for line in violations if line.split(": ", 1)[0] == path]
    assert matching, f"no violation names {path}: {violations}"
    assert any(all(w.lower() in line.lower() for w in rule_words) for line in matching), (
        f"no violation at {path} states {rule_words}: {matching}"
    )
    return violations


def assert_accepted(request: dict[str, Any]) -> None:
    assert request_violations(request) == []
    validate_request(request)  # does not raise


# --------------------------------------------------------------------------------------------
# The schema file itself
# --------------------------------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12_and_shipped_as_package_data() -> None:
    text = (
        resources.files("airflow_provider_onemin.schemas")
        .joinpath("background_replacer/ideogram-3.json")
        .read_text(encoding="utf-8")
    )
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert request_schema("ideogram-3") == schema
    assert request_schema() == schema
    assert "ideogram-3" in supported_models()


def test_answer_schema_is_valid_draft_2020_12_and_shipped_as_package_data() -> None:
    text = resources.files("airflow_provider_onemin.schemas").joinpath("ai_record.json").read_text("utf-8")
    Draft202012Validator.check_schema(json.loads(text))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_package_data_globs_cover_the_schemas() -> None:
    import tomllib

    # pyproject's package-data must ship every schema file, or an installed wheel has none.
    root = Path(__file__).resolve().parents[1]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["airflow_provider_onemin"]
    package = root / "airflow_provider_onemin"
    shipped = {p for pattern in globs for p in package.glob(pattern)}
    assert set(package.glob("schemas/**/*.json")) <= shipped
    assert (package / "schemas" / "background_replacer" / "ideogram-3.json") in shipped


def test_unknown_model_is_a_configuration_error_listing_the_known_ones() -> None:
    with pytest.raises(OneMinConfigurationError) as caught:
        request_schema("nope")
    assert "'nope'" in str(caught.value)
    assert "ideogram-3" in str(caught.value)
    with pytest.raises(OneMinConfigurationError, match="ideogram-3"):
        request_violations(SEED_BODY, model="nope")
    with pytest.raises(OneMinConfigurationError, match="ideogram-3"):
        validate_request(SEED_BODY, model="nope")


def test_schema_presets_are_the_62_of_the_seed() -> None:
    enum = request_schema()["properties"]["promptObject"]["properties"]["style_preset"]["enum"]
    assert len(SEED_PRESETS) == 62
    assert len(set(SEED_PRESETS)) == 62
    assert len(enum) == 62
    assert set(enum) == set(SEED_PRESETS)


# --------------------------------------------------------------------------------------------
# Accepted bodies and edge values
# --------------------------------------------------------------------------------------------


def test_seed_example_body_is_accepted() -> None:
    assert_accepted(copy.deepcopy(SEED_BODY))


def test_minimal_body_is_accepted() -> None:
    assert_accepted(body())


@pytest.mark.parametrize("num_images", [1, 2, 7, 8])
def test_num_images_edges_accepted(num_images: int) -> None:
    assert_accepted(body(num_images=num_images))


@pytest.mark.parametrize("seed", [0, 1, 12345, MAX_SEED])
def test_seed_edges_accepted(seed: int) -> None:
    assert_accepted(body(seed=seed))


@pytest.mark.parametrize("preset", SEED_PRESETS)
def test_every_seed_preset_accepted(preset: str) -> None:
    assert_accepted(body(style_preset=preset))


@pytest.mark.parametrize("speed", RENDERING_SPEEDS)
def test_every_rendering_speed_accepted(speed: str) -> None:
    assert_accepted(body(rendering_speed=speed))


@pytest.mark.parametrize("magic", MAGIC_PROMPTS)
def test_every_magic_prompt_accepted(magic: str) -> None:
    assert_accepted(body(magic_prompt=magic))


@pytest.mark.parametrize("style_type", STYLE_TYPES)
def test_every_style_type_accepted_alone(style_type: str) -> None:
    assert_accepted(body(style_type=style_type))


@pytest.mark.parametrize("style_type", ["AUTO", "GENERAL"])
def test_style_type_auto_or_general_with_a_preset_accepted(style_type: str) -> None:
    assert_accepted(body(style_type=style_type, style_preset="WATERCOLOR"))


@pytest.mark.parametrize("style_type", ["AUTO", "GENERAL"])
def test_style_type_auto_or_general_with_references_accepted(style_type: str) -> None:
    assert_accepted(body(style_type=style_type, style_reference_images=REFS[:2]))


@pytest.mark.parametrize("count", [1, 5])
def test_one_to_five_references_accepted(count: int) -> None:
    assert_accepted(body(style_reference_images=REFS[:count]))


def test_preset_without_style_type_accepted() -> None:
    assert_accepted(body(style_preset="ART_DECO"))


@pytest.mark.parametrize("negative", ["people, text, watermark", ""])
def test_negative_prompt_accepted(negative: str) -> None:
    assert_accepted(body(negative_prompt=negative))


@pytest.mark.parametrize("flag", [True, False])
def test_async_flag_accepted(flag: bool) -> None:
    request = body()
    request["async"] = flag
    assert_accepted(request)


def test_absolute_url_as_image_url_accepted() -> None:
    assert_accepted(body(imageUrl="https://example.com/portrait.png"))


def test_every_optional_field_at_once_accepted() -> None:
    assert_accepted(
        body(
            rendering_speed="QUALITY",
            magic_prompt="OFF",
            style_type="GENERAL",
            style_preset="WOODBLOCK_PRINT",
            negative_prompt="cars",
            seed=MAX_SEED,
            num_images=8,
        )
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


# --------------------------------------------------------------------------------------------
# The answer schema
# --------------------------------------------------------------------------------------------


def test_seed_success_answer_passes_and_returns_the_ai_record() -> None:
    answer = copy.deepcopy(SEED_ANSWER)
    record = validate_answer(answer, what="POST /api/features")
    assert record is answer["aiRecord"]
    assert record["aiRecordDetail"]["resultObject"] == ["development/images/2026_04_15_bg_replace_result.png"]


@pytest.mark.parametrize("status", ["PROCESSING", "FAILURE", "FAILED", "ERROR"])
def test_non_success_answer_without_detail_has_the_expected_shape(status: str) -> None:
    # Shape only: the status decides success elsewhere; a PROCESSING record has no result yet.
    record = validate_answer({"aiRecord": {"uuid": "u-1", "status": status}}, what="GET /api/results/u-1")
    assert record == {"uuid": "u-1", "status": status}


def _without(path: list[str]) -> dict[str, Any]:
    answer = copy.deepcopy(SEED_ANSWER)
    target = answer
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return answer


def _with(path: list[str], value: Any) -> dict[str, Any]:
    answer = copy.deepcopy(SEED_ANSWER)
    target = answer
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return answer


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"aiRecord": None}, "aiRecord"),
        ({}, "aiRecord"),
        ([], "(request)"),
        ("<html>502 Bad Gateway</html>", "(request)"),
        (_without(["aiRecord", "status"]), "aiRecord.status"),
        (_without(["aiRecord", "uuid"]), "aiRecord.uuid"),
        (_with(["aiRecord", "status"], None), "aiRecord.status"),
        (
            _with(["aiRecord", "aiRecordDetail", "resultObject"], "a.png"),
            "aiRecord.aiRecordDetail.resultObject",
        ),
        (
            _with(["aiRecord", "aiRecordDetail", "resultObject"], [1, 2]),
            "aiRecord.aiRecordDetail.resultObject[0]",
        ),
        (
            _with(["aiRecord", "aiRecordDetail", "resultObject"], [""]),
            "aiRecord.aiRecordDetail.resultObject[0]",
        ),
        (_without(["aiRecord", "aiRecordDetail", "resultObject"]), "aiRecord.aiRecordDetail.resultObject"),
        (_without(["aiRecord", "aiRecordDetail"]), "aiRecord.aiRecordDetail"),
    ],
    ids=[
        "aiRecord-null",
        "no-aiRecord",
        "list",
        "html",
        "missing-status",
        "missing-uuid",
        "status-null",
        "resultObject-string",
        "resultObject-ints",
        "resultObject-blank",
        "success-without-resultObject",
        "success-without-detail",
    ],
)
def test_malformed_answers_rejected(answer: Any, named: str) -> None:
    with pytest.raises(OneMinMalformedResponseError) as caught:
        validate_answer(answer, what="POST /api/features")
    message = str(caught.value)
    assert "POST /api/features" in message
    assert f"{named}:" in message


def test_answer_missing_status_is_not_also_blamed_for_a_missing_detail() -> None:
    # Only a SUCCESS record must carry aiRecordDetail; an answer without a status must not be
    # told that aiRecordDetail is required.
    from airflow_provider_onemin.schemas.validation import answer_violations

    violations = answer_violations({"aiRecord": {"uuid": "u-1"}})
    assert violations == ["aiRecord.status: is required"]
