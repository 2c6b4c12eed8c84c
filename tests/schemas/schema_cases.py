"""
The seed's ideogram-3 Background Replacer body, its values and example answer, and the assertions
the schema tests share (``tests/test_schema_*.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_onemin.exceptions import (
    OneMinValidationError,
)
from airflow_provider_onemin.schemas.validation import (
    request_violations,
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
