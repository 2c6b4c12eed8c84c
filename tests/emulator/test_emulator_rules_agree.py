"""
Property: the provider's schema and the emulator's own rules disagree only where the provider
refuses on purpose what the contract allows.

A body the provider's schema accepts must be one the emulator accepts: otherwise a valid task
would fail against the emulator, and the two statements of the API's rules could not both be
right. The other way, the emulator may accept what the provider refuses only at the documented
spots (a blank prompt or image path, a blank or empty list of style references): with those
made plain, the provider must accept too.

Bodies are the seed's example with fields drawn from the contract's values, their edges and
wrong types; Hypothesis explores the mix.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

from contract_cases import CASES, SEED_EXAMPLE, SEED_STYLE_PRESETS
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from airflow_provider_onemin.emulator.models import MODELS
from airflow_provider_onemin.emulator.rules import check_request
from airflow_provider_onemin.schemas.validation import request_violations

EXAMPLES = 300
BLANKS = ["", " ", "\t\n", "\u00a0", "\u3000"]
WRONG_TYPES: list[Any] = [None, True, 0, 1.5, ["x"], {"x": 1}]


def _integers(low: int, high: int) -> st.SearchStrategy[Any]:
    edges = [low, high, low - 1, high + 1]
    return st.one_of(
        st.integers(low, high),
        st.sampled_from(edges),
        st.sampled_from([float(edge) for edge in edges] + [low + 0.5]),
        st.sampled_from(edges).map(str),
        st.sampled_from(WRONG_TYPES),
    )


def _names(*allowed: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(allowed),
        st.sampled_from(allowed).map(str.lower),
        st.sampled_from(["", "NONE", "AUTO ", "General"]),
        st.sampled_from(WRONG_TYPES),
    )


texts = st.one_of(st.text(max_size=12), st.sampled_from(BLANKS), st.sampled_from(WRONG_TYPES))
paths = st.one_of(
    st.sampled_from(["development/images/a.png", "https://example.com/b.jpg", "x"]),
    st.sampled_from(BLANKS),
    st.sampled_from(WRONG_TYPES),
)
good_paths = st.sampled_from(["development/images/a.png", "https://example.com/b.jpg", "x"])
# Per field: values the contract allows, and a mix of allowed, edge and wrong ones.
VALID: dict[str, st.SearchStrategy[Any]] = {
    "prompt": st.text(min_size=1, max_size=12),
    "imageUrl": good_paths,
    "num_images": st.integers(1, 8),
    "rendering_speed": st.sampled_from(["FLASH", "TURBO", "DEFAULT", "QUALITY"]),
    "magic_prompt": st.sampled_from(["AUTO", "ON", "OFF"]),
    "style_type": st.sampled_from(["AUTO", "GENERAL", "REALISTIC", "DESIGN", "FICTION"]),
    "style_preset": st.sampled_from(SEED_STYLE_PRESETS),
    "style_reference_images": st.lists(good_paths, max_size=5),
    "negative_prompt": st.text(max_size=12),
    "seed": st.integers(0, 2147483647),
}
MIXED: dict[str, st.SearchStrategy[Any]] = {
    "prompt": texts,
    "imageUrl": paths,
    "num_images": _integers(1, 8),
    "rendering_speed": _names("FLASH", "TURBO", "DEFAULT", "QUALITY"),
    "magic_prompt": _names("AUTO", "ON", "OFF"),
    "style_type": _names("AUTO", "GENERAL", "REALISTIC", "DESIGN", "FICTION"),
    "style_preset": _names(*SEED_STYLE_PRESETS),
    "style_reference_images": st.one_of(st.lists(paths, max_size=7), paths),
    "negative_prompt": texts,
    "seed": _integers(0, 2147483647),
    "size": st.sampled_from(["1024x1024"]),  # another model's field
}
REQUIRED = ("prompt", "imageUrl", "num_images")


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = copy.deepcopy(SEED_EXAMPLE)
    prompt_object: dict[str, Any] = {}
    for name, mixed in MIXED.items():
        if draw(st.integers(0, 9)) >= (9 if name in REQUIRED else 3):
            continue
        if name in body["promptObject"] and draw(st.booleans()):
            prompt_object[name] = body["promptObject"][name]
        elif name in VALID and draw(st.integers(0, 4)) < 4:
            prompt_object[name] = draw(VALID[name])
        else:
            prompt_object[name] = draw(mixed)
    body["promptObject"] = prompt_object
    if draw(st.integers(0, 3)) == 3:
        body["async"] = draw(st.sampled_from([True, False, "true", None]))
    if draw(st.integers(0, 9)) == 9:
        body["model"] = draw(st.sampled_from(["ideogram-2", "Ideogram-3", None]))
    return body


def _seed_with(**fields: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED_EXAMPLE)
    body["promptObject"].update(fields)
    return body


#: One body per spot where the provider is stricter on purpose, always run besides the drawn ones:
#: drawn at random, a body valid but for one blank field is rare enough that some runs had none.
#: The contract's table names some (``provider_stricter``); blank text in the other two fields
#: that ``_without_the_stricter_spots`` makes plain are added here.
STRICTER_SPOTS = [
    *(case.body() for case in CASES if case.provider_stricter),
    _seed_with(imageUrl="\t\n"),
    _seed_with(style_reference_images=["development/images/a.png", "\u3000"]),
]


def _is_blank(value: Any) -> bool:
    return isinstance(value, str) and re.search(r"\S", value) is None


def _without_the_stricter_spots(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with what only the provider refuses (on purpose) made plain."""
    plain = copy.deepcopy(body)
    prompt_object = plain.get("promptObject")
    if isinstance(prompt_object, dict):
        for name in ("prompt", "imageUrl"):
            if _is_blank(prompt_object.get(name)):
                prompt_object[name] = "x"
        references = prompt_object.get("style_reference_images")
        if isinstance(references, list):
            prompt_object["style_reference_images"] = [
                "x" if _is_blank(item) else item for item in references
            ]
            if not references:
                prompt_object["style_reference_images"].append("x")
    return plain


def _examples(bodies: list[dict[str, Any]]) -> Any:
    def decorate(test: Any) -> Any:
        for body in reversed(bodies):
            test = example(body)(test)
        return test

    return decorate


def _emulator_accepts(body: dict[str, Any]) -> bool:
    rules, refusal = check_request(body, MODELS)
    return refusal is None and rules is not None


def test_the_provider_and_the_emulator_agree_but_where_the_provider_is_stricter() -> None:
    counts: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(bodies())
    @_examples(STRICTER_SPOTS)
    def check(body: dict[str, Any]) -> None:
        provider_ok = not request_violations(body)
        emulator_ok = _emulator_accepts(body)
        verdict = f"provider {'accepts' if provider_ok else 'refuses'}, emulator {'accepts' if emulator_ok else 'refuses'}"
        counts[verdict] += 1
        event(verdict)
        if provider_ok:
            assert emulator_ok, f"the emulator refuses a body the provider sends: {body!r}"
        elif emulator_ok:
            plain = _without_the_stricter_spots(body)
            assert request_violations(plain) == [], (
                f"the provider refuses {body!r} beyond its documented strictness: {request_violations(plain)}"
            )

    check()
    # Both verdicts, and the stricter spots, are reached, not once by luck.
    assert counts["provider accepts, emulator accepts"] >= EXAMPLES // 10, counts
    assert counts["provider refuses, emulator refuses"] >= EXAMPLES // 10, counts
    assert counts["provider refuses, emulator accepts"] >= len(STRICTER_SPOTS), counts
