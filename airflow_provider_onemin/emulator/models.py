"""
The models the emulator serves, each with its rules as the API contract states them.

One :class:`~airflow_provider_onemin.emulator.rules.ModelRules` per ``(feature, model)`` in
:data:`MODELS`. To serve another model, add its entry here, written from the contract's table
for it (fields, required ones, limits, enum values, how many images it makes); reuse the rule
kinds of :mod:`~airflow_provider_onemin.emulator.rules` or add one there. Never copy a rule from
the provider's schema files: agreeing with them is what the tests check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.emulator.rules import (
    MEGABYTE,
    FileLimit,
    ModelRules,
    dimensions,
    integer,
    one_of,
    paths,
    text,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

BACKGROUND_REPLACER = "BACKGROUND_REPLACER"
BACKGROUND_REMOVER = "BACKGROUND_REMOVER"

# ----------------------------------------------------------------------------------------------
# ideogram-3: the seed document (seed/ideogram-background-replacer.txt)
# ----------------------------------------------------------------------------------------------

#: "style_preset values" of the seed, in its order.
IDEOGRAM_STYLE_PRESETS = (
    "80S_ILLUSTRATION", "90S_NOSTALGIA", "ABSTRACT_ORGANIC", "ANALOG_NOSTALGIA", "ART_BRUT",
    "ART_DECO", "ART_POSTER", "AURA", "AVANT_GARDE", "BAUHAUS", "BLUEPRINT", "BLURRY_MOTION",
    "BRIGHT_ART", "C4D_CARTOON", "CHILDRENS_BOOK", "COLLAGE", "COLORING_BOOK_I", "COLORING_BOOK_II",
    "CUBISM", "DARK_AURA", "DOODLE", "DOUBLE_EXPOSURE", "DRAMATIC_CINEMA", "EDITORIAL",
    "EMOTIONAL_MINIMAL", "ETHEREAL_PARTY", "EXPIRED_FILM", "FLAT_ART", "FLAT_VECTOR",
    "FOREST_REVERIE", "GEO_MINIMALIST", "GLASS_PRISM", "GOLDEN_HOUR", "GRAFFITI_I", "GRAFFITI_II",
    "HALFTONE_PRINT", "HIGH_CONTRAST", "HIPPIE_ERA", "ICONIC", "JAPANDI_FUSION", "JAZZY",
    "LONG_EXPOSURE", "MAGAZINE_EDITORIAL", "MINIMAL_ILLUSTRATION", "MIXED_MEDIA", "MONOCHROME",
    "NIGHTLIFE", "OIL_PAINTING", "OLD_CARTOONS", "PAINT_GESTURE", "POP_ART", "RETRO_ETCHING",
    "RIVIERA_POP", "SPOTLIGHT_80S", "STYLIZED_RED", "SURREAL_COLLAGE", "TRAVEL_POSTER",
    "VINTAGE_GEO", "VINTAGE_POSTER", "WATERCOLOR", "WEIRD", "WOODBLOCK_PRINT",
)  # fmt: skip
#: The only style_type values allowed beside a style_preset or style_reference_images.
IDEOGRAM_STYLE_TYPES_WITH_STYLE = ("AUTO", "GENERAL")


def _ideogram_style_rules(prompt_object: Mapping[str, Any]) -> list[tuple[str, str]]:
    # Seed: style_preset and style_reference_images are mutually exclusive; if style_type is
    # provided beside either, it must be AUTO or GENERAL.
    found = []
    given = [name for name in ("style_preset", "style_reference_images") if name in prompt_object]
    if len(given) == 2:
        found.append(
            (
                "style_reference_images",
                "must not be given together with style_preset (they exclude each other)",
            )
        )
    style_type = prompt_object.get("style_type")
    if given and "style_type" in prompt_object and style_type not in IDEOGRAM_STYLE_TYPES_WITH_STYLE:
        found.append(
            ("style_type", f"must be AUTO or GENERAL when {given[0]} is given ({style_type!r} given)")
        )
    return found


IDEOGRAM_3 = ModelRules(
    feature=BACKGROUND_REPLACER,
    model="ideogram-3",
    fields={
        "prompt": text(non_empty=True),
        "imageUrl": text(non_empty=True),
        "num_images": integer(1, 8),
        "rendering_speed": one_of("FLASH", "TURBO", "DEFAULT", "QUALITY"),
        "magic_prompt": one_of("AUTO", "ON", "OFF"),
        "style_type": one_of("AUTO", "GENERAL", "REALISTIC", "DESIGN", "FICTION"),
        "style_preset": one_of(*IDEOGRAM_STYLE_PRESETS),
        "style_reference_images": paths(max_items=5),
        "negative_prompt": text(),
        "seed": integer(0, 2147483647),
    },
    required=("prompt", "imageUrl", "num_images"),
    cross=(_ideogram_style_rules,),
    count_field="num_images",
    # Seed: each image <= 10 MB, style references <= 10 MB together; JPEG, PNG or WebP. The
    # contract: "The source image obeys the same format and 10 MB limit."
    files={
        "imageUrl": FileLimit(10 * MEGABYTE),
        "style_reference_images": FileLimit(10 * MEGABYTE, max_total_bytes=10 * MEGABYTE),
    },
)

# ----------------------------------------------------------------------------------------------
# Other Background Replacer models: the contract's "Other models and features" table (from the
# public API pages and clients, unverified live). Where two versions of a page differ, the fields
# of both are taken; where a rule is not stated (a prompt's length, file limits), none is made up.
# ----------------------------------------------------------------------------------------------

QUALITIES = ("low", "medium", "high")
#: gpt-image-2 lists ``background`` (``auto``); gpt-image-1's other page version lists all three.
BACKGROUNDS = ("auto", "opaque", "transparent")

CLIPDROP = ModelRules(
    feature=BACKGROUND_REPLACER,
    model="clipdrop",
    fields={"prompt": text(), "imageUrl": text(non_empty=True)},
    required=("prompt", "imageUrl"),
)


def _gpt_image_1(model: str) -> ModelRules:
    return ModelRules(
        feature=BACKGROUND_REPLACER,
        model=model,
        fields={
            "prompt": text(max_length=4000),
            "imageUrl": text(non_empty=True),
            "size": one_of("1024x1024", "1024x1536", "1536x1024"),
            "quality": one_of(*QUALITIES),
            # One version of the page:
            "n": integer(1, 10),
            "output_format": one_of("png", "jpeg", "webp"),
            "output_compression": integer(0, 100),
            # The other:
            "background": one_of(*BACKGROUNDS),
        },
        required=("prompt", "imageUrl", "size"),
        count_field="n",
    )


GPT_IMAGE_2 = ModelRules(
    feature=BACKGROUND_REPLACER,
    model="gpt-image-2",
    fields={
        "prompt": text(),
        "imageUrl": text(non_empty=True),
        "size": dimensions(
            multiple_of=16, min_pixels=655_360, max_pixels=8_294_400, max_side=3840, max_ratio=3
        ),
        "quality": one_of(*QUALITIES),
        "background": one_of(*BACKGROUNDS),
    },
    required=("prompt", "imageUrl", "size", "quality"),
)

RECRAFT = ModelRules(
    feature=BACKGROUND_REPLACER,
    model="recraft",
    fields={
        "prompt": text(),
        "imageUrl": text(non_empty=True),
        "n": integer(1, 1),
        # Styles come from GET /api/recraft/styles?taskType=recraftv3, which the emulator does
        # not serve: any string is taken.
        "style": text(),
        "substyle": text(),
        "negative_prompt": text(),
        "task_type": one_of("recraftv3"),
    },
    required=("prompt", "imageUrl"),
    count_field="n",
)

# ----------------------------------------------------------------------------------------------
# The Background Remover: the contract's row "BACKGROUND_REMOVER stable-image (also clipdrop,
# recraft) | imageUrl*, output_format". The contract names output_format without its values; the
# emulator takes the three the contract lists for output_format elsewhere (gpt-image-1: png, jpeg,
# webp). It makes one image, a cut-out with a transparent background (images.render_cutout).
# ----------------------------------------------------------------------------------------------


def _remover(model: str) -> ModelRules:
    return ModelRules(
        feature=BACKGROUND_REMOVER,
        model=model,
        fields={"imageUrl": text(non_empty=True), "output_format": one_of("png", "jpeg", "webp")},
        required=("imageUrl",),
    )


#: Every ``(feature, model)`` the emulator serves.
MODELS: dict[tuple[str, str], ModelRules] = {
    (rules.feature, rules.model): rules
    for rules in (
        IDEOGRAM_3,
        CLIPDROP,
        _gpt_image_1("gpt-image-1"),
        _gpt_image_1("gpt-image-1-mini"),
        GPT_IMAGE_2,
        RECRAFT,
        _remover("stable-image"),
        _remover("clipdrop"),
        _remover("recraft"),
    )
}
