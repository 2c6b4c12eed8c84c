"""
Request cases for the Background Replacer (ideogram-3), each with its verdict read from the API
contract (``onemin-api.md`` and the seed document), not from the emulator or the provider.

A case changes the seed's own example body in one way. ``valid`` is what the contract's text says;
``code`` is the ``errorCode`` the contract's error answers use for it; ``field`` is the field a
refusal must name. ``provider_stricter`` marks the few bodies the contract allows and the provider
refuses on purpose, before paying (its reason is the value).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The seed's code example, as sent.
SEED_EXAMPLE: dict[str, Any] = {
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

# The seed's "style_preset values", typed out from the seed (the contract says there are 62).
SEED_STYLE_PRESETS = """
80S_ILLUSTRATION, 90S_NOSTALGIA, ABSTRACT_ORGANIC, ANALOG_NOSTALGIA, ART_BRUT, ART_DECO, ART_POSTER,
AURA, AVANT_GARDE, BAUHAUS, BLUEPRINT, BLURRY_MOTION, BRIGHT_ART, C4D_CARTOON, CHILDRENS_BOOK,
COLLAGE, COLORING_BOOK_I, COLORING_BOOK_II, CUBISM, DARK_AURA, DOODLE, DOUBLE_EXPOSURE,
DRAMATIC_CINEMA, EDITORIAL, EMOTIONAL_MINIMAL, ETHEREAL_PARTY, EXPIRED_FILM, FLAT_ART, FLAT_VECTOR,
FOREST_REVERIE, GEO_MINIMALIST, GLASS_PRISM, GOLDEN_HOUR, GRAFFITI_I, GRAFFITI_II, HALFTONE_PRINT,
HIGH_CONTRAST, HIPPIE_ERA, ICONIC, JAPANDI_FUSION, JAZZY, LONG_EXPOSURE, MAGAZINE_EDITORIAL,
MINIMAL_ILLUSTRATION, MIXED_MEDIA, MONOCHROME, NIGHTLIFE, OIL_PAINTING, OLD_CARTOONS, PAINT_GESTURE,
POP_ART, RETRO_ETCHING, RIVIERA_POP, SPOTLIGHT_80S, STYLIZED_RED, SURREAL_COLLAGE, TRAVEL_POSTER,
VINTAGE_GEO, VINTAGE_POSTER, WATERCOLOR, WEIRD, WOODBLOCK_PRINT
""".replace(",", " ").split()

MISSING = "MISSING_REQUIRED_FIELDS"
INVALID = "UNKNOWN_ERROR"
UNSUPPORTED = "UNSUPPORTED_MODEL"


@dataclass(frozen=True)
class Case:
    """One body and what the contract says of it."""

    id: str
    change: Callable[[dict[str, Any]], None]
    valid: bool
    field: str | None = None
    code: str | None = None
    provider_stricter: str | None = None
    base: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        """The seed's example (or ``base``) with this case's change."""
        body = copy.deepcopy(self.base or SEED_EXAMPLE)
        self.change(body)
        return body


def _set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["promptObject"].update(copy.deepcopy(fields))


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["promptObject"].pop(name)


def _set_top(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.update(fields)


def _drop_top(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.pop(name)


def _without_style_type(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """Drop the example's optional fields, then set ``fields``."""

    def change(body: dict[str, Any]) -> None:
        for name in ("rendering_speed", "magic_prompt", "style_type"):
            body["promptObject"].pop(name)
        body["promptObject"].update(fields)

    return change


def _ok(case_id: str, change: Callable[[dict[str, Any]], None], stricter: str | None = None) -> Case:
    return Case(case_id, change, True, provider_stricter=stricter)


def _bad(case_id: str, change: Callable[[dict[str, Any]], None], field: str, code: str = INVALID) -> Case:
    return Case(case_id, change, False, field, code)


PO = "promptObject."
REFS = "style_reference_images"

CASES: list[Case] = [
    # The seed's example itself, and its three required fields alone.
    _ok("seed-example", lambda body: None),
    _ok("required-fields-only", _without_style_type()),
    # Required: type, model, promptObject; prompt, imageUrl, num_images ("Required: Yes").
    _bad("no-type", _drop_top("type"), "type", MISSING),
    _bad("no-model", _drop_top("model"), "model", MISSING),
    _bad("no-promptObject", _drop_top("promptObject"), "promptObject", MISSING),
    _bad("no-prompt", _drop("prompt"), PO + "prompt", MISSING),
    _bad("no-imageUrl", _drop("imageUrl"), PO + "imageUrl", MISSING),
    _bad("no-num_images", _drop("num_images"), PO + "num_images", MISSING),
    # type "Must be BACKGROUND_REPLACER"; model "Must be ideogram-3" (other models: UNSUPPORTED_MODEL).
    _bad("type-other-feature", _set_top(type="IMAGE_GENERATOR"), "type"),
    _bad("type-lower-case", _set_top(type="background_replacer"), "type"),
    _bad("model-ideogram-2", _set_top(model="ideogram-2"), "model", UNSUPPORTED),
    _bad("model-capitalised", _set_top(model="Ideogram-3"), "model", UNSUPPORTED),
    # async: true answers at once with PROCESSING.
    _ok("async-true", _set_top(**{"async": True})),
    _ok("async-false", _set_top(**{"async": False})),
    # prompt: string, non-empty; no length limit is stated for ideogram-3.
    _bad("prompt-empty", _set(prompt=""), PO + "prompt"),
    _bad("prompt-number", _set(prompt=42), PO + "prompt"),
    _bad("prompt-null", _set(prompt=None), PO + "prompt"),
    _ok("prompt-long", _set(prompt="a quiet beach at dawn, " * 400)),
    _ok("prompt-unicode", _set(prompt="café ☕ à Paris")),
    _ok(
        "prompt-blank",
        _set(prompt="   "),
        stricter="a blank prompt describes no scene: refused before paying",
    ),
    # imageUrl: string, an asset path or an absolute URL.
    _ok("imageUrl-absolute-url", _set(imageUrl="https://example.com/photos/mug.jpg")),
    _bad("imageUrl-empty", _set(imageUrl=""), PO + "imageUrl"),
    _bad("imageUrl-list", _set(imageUrl=["development/images/portrait.png"]), PO + "imageUrl"),
    # num_images: integer 1..8.
    *(_ok(f"num_images-{n}", _set(num_images=n)) for n in (1, 2, 8)),
    *(_bad(f"num_images-{n}", _set(num_images=n), PO + "num_images") for n in (0, 9, -1, 100)),
    _bad("num_images-fraction", _set(num_images=1.5), PO + "num_images"),
    _bad("num_images-string", _set(num_images="2"), PO + "num_images"),
    _bad("num_images-boolean", _set(num_images=True), PO + "num_images"),
    _bad("num_images-null", _set(num_images=None), PO + "num_images"),
    # The JSON number 2.0 is the number 2 (JSON has one number type).
    _ok("num_images-2.0", _set(num_images=2.0)),
    # rendering_speed: FLASH, TURBO, DEFAULT, QUALITY.
    *(_ok(f"rendering_speed-{v}", _set(rendering_speed=v)) for v in ("FLASH", "TURBO", "DEFAULT", "QUALITY")),
    *(_bad(f"rendering_speed-{v}", _set(rendering_speed=v), PO + "rendering_speed") for v in ("default", "FAST", "")),
    _bad("rendering_speed-number", _set(rendering_speed=1), PO + "rendering_speed"),
    # magic_prompt: AUTO, ON, OFF.
    *(_ok(f"magic_prompt-{v}", _set(magic_prompt=v)) for v in ("AUTO", "ON", "OFF")),
    *(_bad(f"magic_prompt-{v}", _set(magic_prompt=v), PO + "magic_prompt") for v in ("on", "YES")),
    _bad("magic_prompt-boolean", _set(magic_prompt=True), PO + "magic_prompt"),
    # style_type: AUTO, GENERAL, REALISTIC, DESIGN, FICTION.
    *(
        _ok(f"style_type-{v}", _set(style_type=v))
        for v in ("AUTO", "GENERAL", "REALISTIC", "DESIGN", "FICTION")
    ),
    *(_bad(f"style_type-{v}", _set(style_type=v), PO + "style_type") for v in ("ANIME", "general")),
    # style_preset: one of the 62 names (each is checked by its own test).
    _bad("style_preset-unknown", _set(style_preset="VAPORWAVE"), PO + "style_preset"),
    _bad("style_preset-lower-case", _set(style_preset="watercolor"), PO + "style_preset"),
    _bad("style_preset-british", _set(style_preset="WATERCOLOUR"), PO + "style_preset"),
    # style_reference_images: up to 5 asset paths.
    _ok("refs-one", _set(**{REFS: ["development/images/style.png"]})),
    _ok("refs-five", _set(**{REFS: [f"development/images/style{i}.png" for i in range(5)]})),
    _bad("refs-six", _set(**{REFS: [f"development/images/style{i}.png" for i in range(6)]}), PO + REFS),
    _bad("refs-a-string", _set(**{REFS: "development/images/style.png"}), PO + REFS),
    _bad("refs-a-number-inside", _set(**{REFS: ["development/images/style.png", 3]}), PO + REFS),
    _bad("refs-empty-path", _set(**{REFS: [""]}), PO + REFS),
    _ok(
        "refs-empty-list",
        _set(**{REFS: []}),
        stricter="an empty list of style references is a mistake in the task's arguments",
    ),
    # negative_prompt: a string.
    _ok("negative_prompt-text", _set(negative_prompt="people, text, logos")),
    _ok("negative_prompt-empty", _set(negative_prompt="")),
    _bad("negative_prompt-list", _set(negative_prompt=["people"]), PO + "negative_prompt"),
    # seed: integer 0..2147483647.
    *(_ok(f"seed-{n}", _set(seed=n)) for n in (0, 12345, 2147483647)),
    *(_bad(f"seed-{n}", _set(seed=n), PO + "seed") for n in (-1, 2147483648)),
    _bad("seed-fraction", _set(seed=0.5), PO + "seed"),
    _bad("seed-string", _set(seed="42"), PO + "seed"),
    # style_preset and style_reference_images exclude each other.
    _bad("preset-and-refs", _set(style_preset="BAUHAUS", **{REFS: ["development/images/s.png"]}), PO + REFS),
    # With either given, style_type (if given) must be AUTO or GENERAL.
    *(_ok(f"preset-with-{v}", _set(style_preset="BAUHAUS", style_type=v)) for v in ("AUTO", "GENERAL")),
    *(
        _bad(f"preset-with-{v}", _set(style_preset="BAUHAUS", style_type=v), PO + "style_type")
        for v in ("REALISTIC", "DESIGN", "FICTION")
    ),
    _ok("preset-without-style_type", _without_style_type(style_preset="POP_ART")),
    *(_ok(f"refs-with-{v}", _set(style_type=v, **{REFS: ["development/images/s.png"]})) for v in ("AUTO", "GENERAL")),
    *(
        _bad(f"refs-with-{v}", _set(style_type=v, **{REFS: ["development/images/s.png"]}), PO + "style_type")
        for v in ("REALISTIC", "DESIGN", "FICTION")
    ),
    _ok("refs-without-style_type", _without_style_type(**{REFS: ["development/images/s.png"]})),
    # A field of no table (another model's, or a typo) is refused by both, on purpose: the
    # contract lists each model's fields, and a leak of one model's fields shows this way.
    _bad("field-of-another-model", _set(size="1024x1024"), PO + "size"),
    _bad("field-typo", _set(numImages=2), PO + "numImages"),
]  # fmt: skip
