"""
What each model costs on the emulator: its own price table, the model list built from it, and the
credits a generation reports (``aiRecord.metadata.credit``).

The emulator's own figures, in the ranges a public snapshot of 1min.ai's model list showed
(``onemin-api.md``: clipdrop 50,000; gpt-image-1-mini 5k-52k and gpt-image-1 11k-250k by quality
and size; recraft 40,000; Background Remover recraft 10,000, stable-image 20,000). ideogram-3 and
gpt-image-2 were not in that snapshot: their figures here are made up, by rendering speed and by
quality. Nothing here comes from the provider (it has no price table: it reads the model list).

A price is per image: a call costs the price of its options times the images it makes.

The model list answers ``GET /models?feature=...`` as public clients see it: ``{models: [{modelId,
name, status, features, creditMetadata, creditEstimation}], total}``. The real list's
``creditEstimation`` is undocumented; the emulator's is ``{"unit": "image", "credit": <when no
option below matches>, "byOptions": [{"options": {field: value}, "credit": n}, ...]}`` (``credit``
left out when every price depends on options).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BACKGROUND_REPLACER = "BACKGROUND_REPLACER"
BACKGROUND_REMOVER = "BACKGROUND_REMOVER"


@dataclass(frozen=True)
class Price:
    """
    What one image of a model costs, by options.

    :param feature: the feature type.
    :param model: the model id.
    :param name: the name the list shows.
    :param per_image: the price when no option rule matches (None: every price depends on options).
    :param rules: ``(options, price)`` pairs, the first whose options all equal the request's wins.
    :param defaults: the value an option takes when the request leaves it out (as the API would).
    """

    feature: str
    model: str
    name: str
    per_image: int | None
    rules: tuple[tuple[Mapping[str, str], int], ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)

    def image_price(self, prompt_object: Mapping[str, Any]) -> int:
        """The price of one image of a request with these options."""
        options = {**self.defaults, **{k: v for k, v in prompt_object.items() if isinstance(v, str)}}
        for wanted, price in self.rules:
            if all(options.get(name) == value for name, value in wanted.items()):
                return price
        if self.per_image is None:
            # Every combination of the required options has a rule: the request was checked first.
            raise LookupError(f"no price for {self.model} with {options}")
        return self.per_image

    def list_entry(self) -> dict[str, Any]:
        """This model as the model list shows it."""
        estimation: dict[str, Any] = {
            "unit": "image",
            "byOptions": [{"options": dict(options), "credit": price} for options, price in self.rules],
        }
        if self.per_image is not None:
            estimation["credit"] = self.per_image
        figures = [price for _, price in self.rules] + ([self.per_image] if self.per_image else [])
        return {
            "modelId": self.model,
            "name": self.name,
            "status": "ACTIVE",
            "features": [self.feature],
            "creditMetadata": {"IMAGE_MIN": min(figures), "IMAGE_MAX": max(figures)},
            "creditEstimation": estimation,
        }


def _by_quality_and_size(low: tuple[int, int], medium: tuple[int, int], high: tuple[int, int]) -> tuple:
    """Rules for gpt-image-1 models: (square, other size) per quality."""
    rules = []
    for quality, (square, other) in (("low", low), ("medium", medium), ("high", high)):
        rules.append(({"quality": quality, "size": "1024x1024"}, square))
        rules.append(({"quality": quality, "size": "1024x1536"}, other))
        rules.append(({"quality": quality, "size": "1536x1024"}, other))
    return tuple(rules)


PRICES: tuple[Price, ...] = (
    Price(
        BACKGROUND_REPLACER,
        "ideogram-3",
        "Ideogram 3.0",
        per_image=6_000,  # DEFAULT rendering speed
        rules=(
            ({"rendering_speed": "FLASH"}, 1_500),
            ({"rendering_speed": "TURBO"}, 3_000),
            ({"rendering_speed": "QUALITY"}, 9_000),
        ),
    ),
    Price(BACKGROUND_REPLACER, "clipdrop", "Stable Diffusion XL (Clipdrop)", per_image=50_000),
    Price(
        BACKGROUND_REPLACER,
        "gpt-image-1",
        "GPT Image 1",
        per_image=None,
        rules=_by_quality_and_size((11_000, 16_000), (42_000, 63_000), (167_000, 250_000)),
        defaults={"quality": "medium"},
    ),
    Price(
        BACKGROUND_REPLACER,
        "gpt-image-1-mini",
        "GPT Image 1 Mini",
        per_image=None,
        rules=_by_quality_and_size((5_000, 7_000), (11_000, 16_000), (36_000, 52_000)),
        defaults={"quality": "medium"},
    ),
    Price(
        BACKGROUND_REPLACER,
        "gpt-image-2",
        "GPT Image 2",
        per_image=None,
        rules=(({"quality": "low"}, 20_000), ({"quality": "medium"}, 80_000), ({"quality": "high"}, 200_000)),
    ),
    Price(BACKGROUND_REPLACER, "recraft", "Recraft V3", per_image=40_000),
    Price(BACKGROUND_REMOVER, "stable-image", "Stable Image", per_image=20_000),
    Price(BACKGROUND_REMOVER, "clipdrop", "Clipdrop", per_image=20_000),
    Price(BACKGROUND_REMOVER, "recraft", "Recraft", per_image=10_000),
)
_BY_MODEL = {(price.feature, price.model): price for price in PRICES}


def call_credit(feature: str, model: str, prompt_object: Mapping[str, Any], images: int) -> int | None:
    """What a call costs: the price of one image of its options times ``images``; None: not priced."""
    price = _BY_MODEL.get((feature, model))
    if price is None:
        return None
    try:
        return price.image_price(prompt_object) * images
    except LookupError:
        return None  # options the table has no price for: the record says nothing (unknown)


def model_list(feature: str | None, unlisted: frozenset[str] = frozenset()) -> dict[str, Any]:
    """
    The answer of ``GET /models?feature=...``: the models of ``feature`` but the ``unlisted`` ones;
    without a feature an empty list, as the real list answers.
    """
    models = [
        price.list_entry()
        for price in PRICES
        if feature is not None and price.feature == feature and price.model not in unlisted
    ]
    return {"models": models, "total": len(models)}
