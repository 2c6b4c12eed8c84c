"""
Bodies the seed allows are accepted by the provider's schema (``schemas.validation``).
"""

from __future__ import annotations

import copy

import pytest

from tests.schemas.schema_cases import (
    MAGIC_PROMPTS,
    MAX_SEED,
    REFS,
    RENDERING_SPEEDS,
    SEED_BODY,
    SEED_PRESETS,
    STYLE_TYPES,
    assert_accepted,
    body,
)

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
