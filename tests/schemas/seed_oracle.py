"""
The seed's rules for the ideogram-3 Background Replacer body, restated by hand in plain Python
(``seed/ideogram-background-replacer.txt``): the independent oracle of
``tests/schemas/test_schema_properties.py``. It reads no schema file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# ============================================================================================
# The oracle: the seed's rules, restated by hand
# ============================================================================================

# "style_preset values" of the seed, typed out.
SEED_STYLE_PRESETS = frozenset(
    {
        "80S_ILLUSTRATION", "90S_NOSTALGIA", "ABSTRACT_ORGANIC", "ANALOG_NOSTALGIA", "ART_BRUT",
        "ART_DECO", "ART_POSTER", "AURA", "AVANT_GARDE", "BAUHAUS", "BLUEPRINT", "BLURRY_MOTION",
        "BRIGHT_ART", "C4D_CARTOON", "CHILDRENS_BOOK", "COLLAGE", "COLORING_BOOK_I",
        "COLORING_BOOK_II", "CUBISM", "DARK_AURA", "DOODLE", "DOUBLE_EXPOSURE", "DRAMATIC_CINEMA",
        "EDITORIAL", "EMOTIONAL_MINIMAL", "ETHEREAL_PARTY", "EXPIRED_FILM", "FLAT_ART",
        "FLAT_VECTOR", "FOREST_REVERIE", "GEO_MINIMALIST", "GLASS_PRISM", "GOLDEN_HOUR",
        "GRAFFITI_I", "GRAFFITI_II", "HALFTONE_PRINT", "HIGH_CONTRAST", "HIPPIE_ERA", "ICONIC",
        "JAPANDI_FUSION", "JAZZY", "LONG_EXPOSURE", "MAGAZINE_EDITORIAL", "MINIMAL_ILLUSTRATION",
        "MIXED_MEDIA", "MONOCHROME", "NIGHTLIFE", "OIL_PAINTING", "OLD_CARTOONS", "PAINT_GESTURE",
        "POP_ART", "RETRO_ETCHING", "RIVIERA_POP", "SPOTLIGHT_80S", "STYLIZED_RED",
        "SURREAL_COLLAGE", "TRAVEL_POSTER", "VINTAGE_GEO", "VINTAGE_POSTER", "WATERCOLOR", "WEIRD",
        "WOODBLOCK_PRINT",
    }
)  # fmt: skip
SEED_RENDERING_SPEEDS = frozenset({"FLASH", "TURBO", "DEFAULT", "QUALITY"})
SEED_MAGIC_PROMPTS = frozenset({"AUTO", "ON", "OFF"})
SEED_STYLE_TYPES = frozenset({"AUTO", "GENERAL", "REALISTIC", "DESIGN", "FICTION"})
STYLE_TYPES_WITH_PRESET_OR_REFERENCES = frozenset({"AUTO", "GENERAL"})
MAX_REFERENCES = 5
NUM_IMAGES_RANGE = (1, 8)
SEED_RANGE = (0, 2147483647)

# Top level: type, model, promptObject (required) and the observed "async": true flag.
TOP_LEVEL_FIELDS = frozenset({"type", "model", "promptObject", "async"})
PROMPT_OBJECT_FIELDS = frozenset(
    {
        "prompt",
        "imageUrl",
        "num_images",
        "rendering_speed",
        "magic_prompt",
        "style_type",
        "style_preset",
        "style_reference_images",
        "negative_prompt",
        "seed",
    }
)


@dataclass(frozen=True)
class Blame:
    """One broken rule: a violation line must name one of ``paths`` (and quote ``unknown_key``)."""

    paths: frozenset[str]
    reason: str
    unknown_key: str | None = None


def _is_integer(value: Any) -> bool:
    # The seed types num_images and seed as "number" with an integer range. JSON does not tell 2
    # from 2.0, so an integral float is the integer; 1.5, NaN and infinities are not. A bool is
    # not a number in JSON at all, and a string of digits is a string.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value == math.floor(value)


def _is_non_blank_string(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _is_one_of(value: Any, allowed: frozenset[str]) -> bool:
    return isinstance(value, str) and value in allowed


def oracle_problems(body: Any) -> list[Blame]:
    """Every rule of the seed that ``body`` breaks (empty when the body is valid)."""
    problems: list[Blame] = []

    def blame(reason: str, *paths: str, unknown_key: str | None = None) -> None:
        problems.append(Blame(frozenset(paths), reason, unknown_key))

    if not isinstance(body, dict):
        blame("the body is a JSON object", "(request)")
        return problems
    for key in body:
        if key not in TOP_LEVEL_FIELDS:
            blame("no unknown top-level fields", "(request)", unknown_key=key)
    if "type" not in body:
        blame("type is required", "type")
    elif body["type"] != "BACKGROUND_REPLACER" or not isinstance(body["type"], str):
        blame("type must be BACKGROUND_REPLACER", "type")
    if "model" not in body:
        blame("model is required", "model")
    elif body["model"] != "ideogram-3" or not isinstance(body["model"], str):
        blame("model must be ideogram-3", "model")
    if "async" in body and not isinstance(body["async"], bool):
        blame("async is a boolean", "async")
    if "promptObject" not in body:
        blame("promptObject is required", "promptObject")
        return problems
    prompt_object = body["promptObject"]
    if not isinstance(prompt_object, dict):
        blame("promptObject is an object", "promptObject")
        return problems

    def at(name: str) -> str:
        return f"promptObject.{name}"

    for key in prompt_object:
        if key not in PROMPT_OBJECT_FIELDS:
            blame("no unknown promptObject fields", "promptObject", unknown_key=key)
    for name in ("prompt", "imageUrl", "num_images"):
        if name not in prompt_object:
            blame(f"{name} is required", at(name))

    def check(name: str, ok: Callable[[Any], bool], reason: str) -> None:
        if name in prompt_object and not ok(prompt_object[name]):
            blame(reason, at(name))

    check("prompt", _is_non_blank_string, "prompt is a non-blank string (the new background scene)")
    check("imageUrl", _is_non_blank_string, "imageUrl is a non-blank string (the source asset path)")
    low, high = NUM_IMAGES_RANGE
    check("num_images", lambda v: _is_integer(v) and low <= v <= high, "num_images is 1..8")
    check("rendering_speed", lambda v: _is_one_of(v, SEED_RENDERING_SPEEDS), "rendering_speed enum")
    check("magic_prompt", lambda v: _is_one_of(v, SEED_MAGIC_PROMPTS), "magic_prompt enum")
    check("style_type", lambda v: _is_one_of(v, SEED_STYLE_TYPES), "style_type enum")
    check("style_preset", lambda v: _is_one_of(v, SEED_STYLE_PRESETS), "one of the 62 presets")
    check("negative_prompt", lambda v: isinstance(v, str), "negative_prompt is a string")
    low, high = SEED_RANGE
    check("seed", lambda v: _is_integer(v) and low <= v <= high, "seed is 0..2147483647")

    if "style_reference_images" in prompt_object:
        references = prompt_object["style_reference_images"]
        if not isinstance(references, list):
            blame("style_reference_images is a list", at("style_reference_images"))
        else:
            if not 1 <= len(references) <= MAX_REFERENCES:
                blame("1 to 5 style references", at("style_reference_images"))
            for index, item in enumerate(references):
                if not _is_non_blank_string(item):
                    blame("a style reference is an asset path", f"{at('style_reference_images')}[{index}]")

    has_preset = "style_preset" in prompt_object
    has_references = "style_reference_images" in prompt_object
    if has_preset and has_references:
        blame(
            "style_preset and style_reference_images exclude each other",
            at("style_preset"),
            at("style_reference_images"),
        )
    if (has_preset or has_references) and "style_type" in prompt_object:
        if not _is_one_of(prompt_object["style_type"], STYLE_TYPES_WITH_PRESET_OR_REFERENCES):
            blame("style_type is AUTO or GENERAL with a preset or references", at("style_type"))
    return problems


def oracle_is_valid(body: Any) -> bool:
    return not oracle_problems(body)
