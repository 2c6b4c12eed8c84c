"""
Property: for every Background Replacer model but ideogram-3 (tests/emulator/ covers that one),
the provider's schema and the emulator's own rules (emulator/models.py, written from the API's
pages, not from the schema) disagree only where the provider refuses on purpose: a blank string
in a text field (``prompt``, ``imageUrl``, ``style``, ``substyle``).

A body the provider accepts must be one the emulator accepts, or a valid task would fail against
the emulator; a body only the emulator accepts must become acceptable to the provider once its
blank strings are made plain. Bodies mix every model's fields (so fields of other models turn up)
with valid values, their edges and wrong types.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from airflow_provider_onemin.emulator.models import MODELS
from airflow_provider_onemin.emulator.rules import check_request
from airflow_provider_onemin.schemas.validation import request_violations

EXAMPLES = 250
ABSENT = object()
#: Values per field: the issue's valid ones, their edges, wrong ones and wrong types.
POOLS: dict[str, list[Any]] = {
    "prompt": ["a beach", "a" * 4000, "a" * 4001, "", " ", 7, None],
    "imageUrl": ["development/images/mug.png", "https://example.com/p.png", "", 3],
    "size": [
        "1024x1024",
        "1024x1536",
        "1536x1024",
        "512x512",
        "1000x1000",
        "3840x2160",
        "3840x1264",
        "auto",
        1024,
    ],
    "quality": ["low", "medium", "high", "ultra", "HIGH", None],
    "background": ["auto", "opaque", "transparent", "none"],
    "n": [1, 2, 10, 11, 0, True, "2"],
    "output_format": ["png", "jpeg", "webp", "gif"],
    "output_compression": [0, 85, 100, 101, -1, "85"],
    "style": ["realistic_image", "", 5],
    "substyle": ["hdr", " "],
    "negative_prompt": ["people", "", 5],
    "task_type": ["recraftv3", "recraftv2"],
    "num_images": [1, 2],
    "style_preset": ["ART_DECO"],
    "seed": [5],
    "rendering_speed": ["TURBO"],
}
#: The fields each model takes, from the issue's table: drawn more often than the others.
OWN = {
    "clipdrop": ("prompt", "imageUrl"),
    "gpt-image-1": (
        "prompt",
        "imageUrl",
        "size",
        "quality",
        "n",
        "output_format",
        "output_compression",
        "background",
    ),
    "gpt-image-1-mini": (
        "prompt",
        "imageUrl",
        "size",
        "quality",
        "n",
        "output_format",
        "output_compression",
        "background",
    ),
    "gpt-image-2": ("prompt", "imageUrl", "size", "quality", "background"),
    "recraft": ("prompt", "imageUrl", "n", "style", "substyle", "negative_prompt", "task_type"),
}
TEXT_FIELDS = ("prompt", "imageUrl", "style", "substyle")


#: Values every model that has the field takes (the issue's table).
VALID: dict[str, list[Any]] = {
    "prompt": ["a beach", "a" * 4000],
    "imageUrl": ["development/images/mug.png", "https://example.com/p.png"],
    "size": ["1024x1024", "1024x1536", "1536x1024"],
    "quality": ["low", "medium", "high"],
    "background": ["auto", "opaque", "transparent"],
    "n": [1],
    "output_format": ["png", "jpeg", "webp"],
    "output_compression": [0, 85, 100],
    "style": ["realistic_image"],
    "substyle": ["hdr"],
    "negative_prompt": ["people", ""],
    "task_type": ["recraftv3"],
}


@st.composite
def bodies(draw: st.DrawFn, model: str) -> dict[str, Any]:
    prompt_object: dict[str, Any] = {}
    for name, pool in POOLS.items():
        if name in OWN[model]:
            if draw(st.integers(0, 9)) < 8:  # a model's own field is usually there, usually valid
                prompt_object[name] = draw(
                    st.sampled_from(pool if draw(st.integers(0, 3)) == 3 else VALID[name])
                )
        elif draw(st.integers(0, 39)) == 39:  # another model's field, now and then
            prompt_object[name] = draw(st.sampled_from(pool))
    return {"type": "BACKGROUND_REPLACER", "model": model, "promptObject": prompt_object}


def _blank(value: Any) -> bool:
    return isinstance(value, str) and re.search(r"\S", value) is None


def _emulator_accepts(body: dict[str, Any]) -> bool:
    rules, refusal = check_request(body, MODELS)
    return refusal is None and rules is not None


@pytest.mark.parametrize("model", sorted(OWN))
def test_the_provider_and_the_emulator_agree_but_where_the_provider_is_stricter(model: str) -> None:
    counts: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(bodies(model))
    def check(body: dict[str, Any]) -> None:
        provider_ok = request_violations(body, model) == []
        emulator_ok = _emulator_accepts(body)
        verdict = f"provider {'accepts' if provider_ok else 'refuses'}, emulator {'accepts' if emulator_ok else 'refuses'}"
        counts[verdict] += 1
        event(verdict)
        if provider_ok:
            assert emulator_ok, f"the emulator refuses a body the provider sends: {body!r}"
        elif emulator_ok:
            plain = {**body, "promptObject": dict(body["promptObject"])}
            for name in TEXT_FIELDS:
                if _blank(plain["promptObject"].get(name)):
                    plain["promptObject"][name] = "x"
            assert request_violations(plain, model) == [], (
                f"the provider refuses {body!r} beyond its documented strictness: "
                f"{request_violations(plain, model)}"
            )

    check()
    assert counts["provider accepts, emulator accepts"] >= EXAMPLES // 20, counts
    assert counts["provider refuses, emulator refuses"] >= EXAMPLES // 20, counts
