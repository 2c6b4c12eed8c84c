"""
Hypothesis strategies for request bodies (valid, near-valid, wild) and the edge values of each
field, for ``tests/schemas/test_schema_properties.py``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import strategies as st

from tests.schemas.seed_oracle import (
    NUM_IMAGES_RANGE,
    PROMPT_OBJECT_FIELDS,
    SEED_MAGIC_PROMPTS,
    SEED_RANGE,
    SEED_RENDERING_SPEEDS,
    SEED_STYLE_PRESETS,
    SEED_STYLE_TYPES,
    STYLE_TYPES_WITH_PRESET_OR_REFERENCES,
)

# ============================================================================================
# Strategies
# ============================================================================================

WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_WHITESPACE_BUT_INVISIBLE = "\u200b\u200d\u2060\ufeff"  # zero-width: not blank by str.strip

blank_strings = st.text(alphabet=WHITESPACE, max_size=4)
tricky_strings = st.text(alphabet=WHITESPACE + NOT_WHITESPACE_BUT_INVISIBLE + "ab", max_size=5)
good_texts = st.one_of(
    st.sampled_from(["A quiet beach at sunset", "x", "  padded  ", "café ☕ in Paris", "\u200b"]),
    st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != ""),
)
good_paths = st.one_of(
    st.sampled_from(
        [
            "development/images/portrait.png",
            "development/images/style.webp",
            "https://example.com/a.jpg",
            "a",
        ]
    ),
    st.from_regex(r"development/images/[a-z0-9_]{1,12}\.(png|jpg|webp)", fullmatch=True),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
anything = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=4), json_scalars, max_size=2),
)


def integers_around(low: int, high: int) -> st.SearchStrategy[Any]:
    """Integers in and just out of [low, high], plus the usual impostors of an integer."""
    edges = [low, high, low - 1, high + 1, low + 1, high - 1]
    return st.one_of(
        st.integers(min_value=low - 3, max_value=min(high + 3, low + 20)),
        st.integers(min_value=max(low - 3, high - 20), max_value=high + 3),
        st.sampled_from(edges),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.sampled_from([float(x) for x in edges] + [low + 0.5, high - 0.5, -0.0]),
        st.sampled_from([math.nan, math.inf, -math.inf, 1e300]),
        st.booleans(),
        st.sampled_from(edges).map(str),
        st.none(),
        st.sampled_from(edges).map(lambda x: [x]),
    )


def enum_values(allowed: frozenset[str]) -> st.SearchStrategy[Any]:
    """Allowed names, near misses (case, spaces, other enums' names) and wrong types."""
    names = sorted(allowed)
    neighbours = sorted((SEED_RENDERING_SPEEDS | SEED_MAGIC_PROMPTS | SEED_STYLE_TYPES | {"NONE"}) - allowed)
    return st.one_of(
        st.sampled_from(names),
        st.sampled_from(names).map(str.lower),
        st.sampled_from(names).map(lambda s: s + " "),
        st.sampled_from(names).map(lambda s: s.replace("_", " ")),
        st.sampled_from(neighbours + ["", "AUTO_", "Auto"]),
        st.sampled_from(names).map(lambda s: [s]),
        st.one_of(st.none(), st.booleans(), st.integers(-2, 70)),
        st.text(max_size=6),
    )


reference_items = st.one_of(good_paths, good_paths, blank_strings, st.integers(0, 3), st.none())
reference_values = st.one_of(
    st.lists(good_paths, min_size=1, max_size=5),
    st.lists(good_paths, min_size=5, max_size=6),
    st.lists(good_paths, min_size=0, max_size=8),
    st.just([]),
    st.tuples(st.lists(good_paths, max_size=3), reference_items, st.lists(good_paths, max_size=2)).map(
        lambda parts: [*parts[0], parts[1], *parts[2]]
    ),
    st.lists(reference_items, min_size=0, max_size=7),
    good_paths,
    st.none(),
    st.dictionaries(st.sampled_from(["path", "key"]), good_paths, max_size=1),
)

MAX_SEED = SEED_RANGE[1]
_NOT_A_STRING: list[Any] = [0, None, True, ["a"], {"text": "a"}]
_BLANKS_AND_NEAR_BLANKS: list[Any] = [
    "",
    " ",
    "\t\n",
    "\u00a0",
    "\u3000",
    "\x1c",
    "\u200b",
    "\ufeff",
    "a",
    " a ",
]

# Boundary and impostor values per field, each on both sides of every rule of the seed. They are
# drawn often by the strategies and also checked exhaustively by test_edge_value_table.
EDGE_VALUES: dict[str, list[Any]] = {
    "type": [
        "BACKGROUND_REPLACER",
        "background_replacer",
        "IMAGE_GENERATOR",
        "",
        None,
        0,
        ["BACKGROUND_REPLACER"],
    ],
    "model": ["ideogram-3", "ideogram-2", "Ideogram-3", "ideogram_3", "ideogram-3 ", "", None, 3],
    "async": [True, False, "true", 1, 0, None],
    "promptObject": ["", "A beach", None, [], 0, {"prompt": "a", "imageUrl": "a", "num_images": 1}],
    "promptObject.prompt": _BLANKS_AND_NEAR_BLANKS + _NOT_A_STRING,
    "promptObject.imageUrl": _BLANKS_AND_NEAR_BLANKS + _NOT_A_STRING,
    "promptObject.negative_prompt": ["", " ", "cars, text", *_NOT_A_STRING],
    "promptObject.num_images": [
        *(0, 1, 2, 7, 8, 9, -1, 2**31),
        *(0.0, 1.0, 8.0, 9.0, 1.5, 7.5, math.nan, math.inf),
        *(True, False, "1", "8", None, [1]),
    ],
    "promptObject.seed": [
        *(-1, 0, 1, MAX_SEED - 1, MAX_SEED, MAX_SEED + 1, -(2**63), 2**64),
        *(0.0, -0.0, float(MAX_SEED), float(MAX_SEED + 1), 0.5, 1e300, math.nan, -math.inf),
        *(True, False, "0", "42", None, [0]),
    ],
    "promptObject.rendering_speed": [
        *sorted(SEED_RENDERING_SPEEDS),
        *("default", "FAST", "HIGH", "AUTO", "", "DEFAULT ", None, 1, True, ["FLASH"]),
    ],
    "promptObject.magic_prompt": [
        *sorted(SEED_MAGIC_PROMPTS),
        *("auto", "YES", "TRUE", "DEFAULT", "", None, True, False, 0),
    ],
    "promptObject.style_type": [
        *sorted(SEED_STYLE_TYPES),
        *("auto", "General", "NONE", "ANIME", "DEFAULT", "", None, 1, ["AUTO"]),
    ],
    "promptObject.style_preset": [
        *sorted(SEED_STYLE_PRESETS),
        *("VAPORWAVE", "watercolor", "WATERCOLOUR", "GRAFFITI_III", "COLORING_BOOK", "80S ILLUSTRATION"),
        *("", "AUTO", None, 0, ["WEIRD"]),
    ],
    "promptObject.style_reference_images": [
        *([], ["a.png"], ["a.png"] * 5, ["a.png"] * 6, ["a.png"] * 10, [""], [" "], ["a.png", "\t"]),
        *([None], [1], [["a.png"]], ["a.png"] * 4 + [None], "a.png", None, {"0": "a.png"}),
    ],
}

# Per promptObject field: valid values, and a mix of valid, edge and wrong values.
VALID_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "prompt": good_texts,
    "imageUrl": good_paths,
    "num_images": st.integers(1, 8),
    "rendering_speed": st.sampled_from(sorted(SEED_RENDERING_SPEEDS)),
    "magic_prompt": st.sampled_from(sorted(SEED_MAGIC_PROMPTS)),
    "style_type": st.sampled_from(sorted(SEED_STYLE_TYPES)),
    "style_preset": st.sampled_from(sorted(SEED_STYLE_PRESETS)),
    "style_reference_images": st.lists(good_paths, min_size=1, max_size=5),
    "negative_prompt": st.text(max_size=20),
    "seed": st.one_of(st.integers(0, 2147483647), st.sampled_from([0, 1, 2147483646, 2147483647])),
}
_MIXED_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "prompt": st.one_of(good_texts, blank_strings, tricky_strings, json_scalars),
    "imageUrl": st.one_of(good_paths, blank_strings, tricky_strings, json_scalars),
    "num_images": integers_around(*NUM_IMAGES_RANGE),
    "rendering_speed": enum_values(SEED_RENDERING_SPEEDS),
    "magic_prompt": enum_values(SEED_MAGIC_PROMPTS),
    "style_type": enum_values(SEED_STYLE_TYPES),
    "style_preset": st.one_of(
        enum_values(SEED_STYLE_PRESETS),
        st.sampled_from(["VAPORWAVE", "80s_illustration", "GRAFFITI_III", "COLORING_BOOK", "WATERCOLOUR"]),
    ),
    "style_reference_images": reference_values,
    "negative_prompt": st.one_of(st.text(max_size=10), blank_strings, json_scalars),
    "seed": integers_around(*SEED_RANGE),
}
MIXED_VALUES: dict[str, st.SearchStrategy[Any]] = {
    name: st.one_of(st.sampled_from(EDGE_VALUES[f"promptObject.{name}"]), strategy)
    for name, strategy in _MIXED_VALUES.items()
}
TOP_LEVEL_MIXED: dict[str, st.SearchStrategy[Any]] = {
    "type": st.one_of(
        st.just("BACKGROUND_REPLACER"),
        st.sampled_from(["background_replacer", "IMAGE_GENERATOR", "BACKGROUND_REPLACER ", ""]),
        json_scalars,
    ),
    "model": st.one_of(
        st.just("ideogram-3"),
        st.sampled_from(["ideogram-2", "Ideogram-3", "ideogram-3.0", "ideogram_3", ""]),
        json_scalars,
    ),
    "async": st.one_of(st.booleans(), st.sampled_from(["true", 1, 0, None])),
}
TOP_LEVEL_MIXED_OK = {"type": "BACKGROUND_REPLACER", "model": "ideogram-3"}
unknown_names = st.one_of(
    st.sampled_from(
        [
            "numImages",
            "num_image",
            "image_url",
            "Prompt",
            "style_presets",
            "negativePrompt",
            "aspect_ratio",
            "",
            # names that are known at the other level
            "async",
            "type",
            "model",
            "prompt",
            "num_images",
            "promptObject",
        ]
    ),
    st.text(max_size=10),
)


@st.composite
def valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Bodies meant to satisfy every rule of the seed, optional fields present or not."""
    prompt_object: dict[str, Any] = {
        name: draw(VALID_VALUES[name]) for name in ("prompt", "imageUrl", "num_images")
    }
    for name in ("rendering_speed", "magic_prompt", "negative_prompt", "seed"):
        if draw(st.booleans()):
            prompt_object[name] = draw(VALID_VALUES[name])
    style = draw(st.sampled_from(["none", "preset", "references"]))
    if style == "preset":
        prompt_object["style_preset"] = draw(VALID_VALUES["style_preset"])
    elif style == "references":
        prompt_object["style_reference_images"] = draw(VALID_VALUES["style_reference_images"])
    if draw(st.booleans()):
        allowed = STYLE_TYPES_WITH_PRESET_OR_REFERENCES if style != "none" else SEED_STYLE_TYPES
        prompt_object["style_type"] = draw(st.sampled_from(sorted(allowed)))
    items = list(prompt_object.items())
    order = draw(st.permutations(range(len(items))))
    body: dict[str, Any] = {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {items[i][0]: items[i][1] for i in order},
    }
    if draw(st.booleans()):
        body["async"] = draw(st.booleans())
    return body


MUTATIONS = (
    "delete_prompt_field",
    "delete_top_field",
    "mixed_prompt_value",
    "mixed_top_value",
    "unknown_prompt_field",
    "unknown_top_field",
    "preset_and_references",
    "strict_style_type",
    "prompt_object_not_object",
    "body_not_object",
    "references_edge",
    "range_edge",
)

PROMPT_OBJECT_MUTATIONS = frozenset(
    {
        "delete_prompt_field",
        "mixed_prompt_value",
        "unknown_prompt_field",
        "preset_and_references",
        "strict_style_type",
        "references_edge",
        "range_edge",
    }
)

# Styles the cross-field rules look at, for edge values that meet them.
STYLE_CONTEXTS: list[dict[str, Any]] = [
    {},
    {"style_preset": "WEIRD"},
    {"style_reference_images": ["development/images/style.png"]},
    {"style_type": "GENERAL", "style_preset": "AURA"},
    {"style_type": "DESIGN"},
]


@st.composite
def edge_bodies(draw: st.DrawFn) -> Any:
    """A valid body with one field set to one of its edge values (sometimes with a style given)."""
    body: dict[str, Any] = draw(valid_bodies())
    if draw(st.integers(0, 2)) == 0:
        body["promptObject"].pop("style_preset", None)
        body["promptObject"].pop("style_reference_images", None)
        body["promptObject"].update(draw(st.sampled_from(STYLE_CONTEXTS)))
    field = draw(st.sampled_from(sorted(EDGE_VALUES)))
    value = copy.deepcopy(draw(st.sampled_from(EDGE_VALUES[field])))
    if field.startswith("promptObject."):
        body["promptObject"][field.split(".", 1)[1]] = value
    else:
        body[field] = value
    return body


@st.composite
def near_valid_bodies(draw: st.DrawFn) -> Any:
    """A valid body with one to three mutations, most of which break one rule."""
    body: Any = draw(valid_bodies())
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(body, dict):
            break
        prompt_object = body.get("promptObject")
        mutation = draw(st.sampled_from(MUTATIONS))
        if not isinstance(prompt_object, dict) and mutation in PROMPT_OBJECT_MUTATIONS:
            mutation = "mixed_top_value"
        if mutation == "delete_prompt_field" and prompt_object:
            del prompt_object[draw(st.sampled_from(sorted(prompt_object)))]
        elif mutation == "delete_top_field":
            body.pop(draw(st.sampled_from(["type", "model", "promptObject", "async"])), None)
        elif mutation == "mixed_prompt_value":
            name = draw(st.sampled_from(sorted(PROMPT_OBJECT_FIELDS)))
            prompt_object[name] = draw(MIXED_VALUES[name])
        elif mutation == "mixed_top_value":
            name = draw(st.sampled_from(sorted(TOP_LEVEL_MIXED)))
            body[name] = draw(TOP_LEVEL_MIXED[name])
        elif mutation == "unknown_prompt_field":
            prompt_object[draw(unknown_names)] = draw(json_scalars)
        elif mutation == "unknown_top_field":
            body[draw(unknown_names)] = draw(json_scalars)
        elif mutation == "preset_and_references":
            prompt_object["style_preset"] = draw(VALID_VALUES["style_preset"])
            prompt_object["style_reference_images"] = draw(VALID_VALUES["style_reference_images"])
        elif mutation == "strict_style_type":
            prompt_object["style_type"] = draw(st.sampled_from(sorted(SEED_STYLE_TYPES)))
            if draw(st.booleans()):
                prompt_object["style_preset"] = draw(VALID_VALUES["style_preset"])
            else:
                prompt_object["style_reference_images"] = draw(VALID_VALUES["style_reference_images"])
        elif mutation == "references_edge":
            prompt_object.pop("style_preset", None)
            prompt_object["style_reference_images"] = draw(reference_values)
        elif mutation == "range_edge":
            name = draw(st.sampled_from(["num_images", "seed"]))
            prompt_object[name] = draw(MIXED_VALUES[name])
        elif mutation == "prompt_object_not_object":
            body["promptObject"] = draw(st.one_of(json_scalars, st.lists(st.just(prompt_object), max_size=1)))
        elif mutation == "body_not_object" and draw(st.integers(0, 3)) == 0:
            body = draw(st.one_of(json_scalars, st.just([body])))
    return body


@st.composite
def wild_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Every field present or not, each from the mix of valid, edge and wrong values."""
    prompt_object: dict[str, Any] = {}
    for name in sorted(PROMPT_OBJECT_FIELDS):
        required = name in ("prompt", "imageUrl", "num_images")
        if draw(st.integers(0, 9)) < (9 if required else 4):
            source = VALID_VALUES[name] if draw(st.booleans()) else MIXED_VALUES[name]
            prompt_object[name] = draw(source)
    for _ in range(draw(st.integers(0, 1))):
        prompt_object[draw(unknown_names)] = draw(anything)
    body: dict[str, Any] = {}
    for name in ("type", "model"):
        if draw(st.integers(0, 9)):
            body[name] = (
                draw(TOP_LEVEL_MIXED[name]) if draw(st.integers(0, 3)) == 0 else TOP_LEVEL_MIXED_OK[name]
            )
    if draw(st.integers(0, 9)):
        body["promptObject"] = prompt_object
    if draw(st.booleans()):
        body["async"] = draw(TOP_LEVEL_MIXED["async"])
    if draw(st.integers(0, 5)) == 0:
        body[draw(unknown_names)] = draw(anything)
    return body


request_bodies = st.one_of(
    valid_bodies().map(lambda b: ("valid", b)),
    edge_bodies().map(lambda b: ("edge", b)),
    near_valid_bodies().map(lambda b: ("near", b)),
    wild_bodies().map(lambda b: ("wild", b)),
)
