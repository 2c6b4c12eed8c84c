"""
The channels a rendition is made for: the built-in presets, each with the page its rules come
from, and custom presets checked against ``schemas/renditions/preset.json``.

Sources (read when the presets were written; the channels change their pages, check them):

* ``amazon_main``, ``amazon_lifestyle``: Amazon Seller Central, "Product image requirements"
  (https://sellercentral.amazon.com/help/hub/reference/external/G1881). The main image: "pure
  white background (RGB 255, 255, 255)", "the product must fill 85% of the image frame", JPEG
  preferred, sRGB, at least 1000 px on the longest side for zoom (2000 px chosen here). *Fill 85 %*
  is read as: the product's bounding box spans at least 85 % of the frame's width or height (its
  longer side), the reading Amazon's own image checker applies; the product is scaled to span 90 %
  and centred, so the check has slack. Lifestyle (additional) images have no background rule.
* ``shopify_square``: Shopify Help Center, "Product media types"
  (https://help.shopify.com/en/manual/products/product-media/product-media-types): 2048 x 2048 px
  recommended for square product images.
* ``instagram_portrait``, ``instagram_story``: Instagram Help Center, "Image resolution of photos
  you share on Instagram" (https://help.instagram.com/1631821640426723): 1080 px wide, portrait
  4:5 (1080 x 1350); stories and reels 9:16 (1080 x 1920, Meta Business Help Center "Story ads"
  specifications).
* ``web_thumbnail``: no channel rule; a 400 x 400 WebP for shop listings and e-mails (WebP is served
  by every current browser: https://caniuse.com/webp).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_onemin.exceptions import OneMinConfigurationError, OneMinValidationError

__all__ = ["BUILT_IN", "Preset", "resolve_channels"]

#: How a preset fits an image: ``cover`` fills the frame and crops around the product,
#: ``contain`` shows the whole image and pads, ``longest_side`` only scales (no padding, the
#: aspect kept), ``product`` crops to the product and centres it on the background at ``fill``.
FITS = ("cover", "contain", "longest_side", "product")
WHITE = (255, 255, 255)
DEFAULT_QUALITY = 90


@dataclass(frozen=True)
class Preset:
    """
    One channel's rendition.

    :param name: the channel name (a folder name in the output).
    :param width: the frame's width in pixels (the longest side's bound with ``longest_side``).
    :param height: the frame's height in pixels.
    :param fit: one of :data:`FITS`.
    :param format: ``jpeg``, ``png`` or ``webp``.
    :param quality: JPEG/WebP quality, 1 to 100.
    :param background: ``"edge"`` (the image's own border colour) or an RGB tuple, for padding.
    :param white_background: the channel requires a pure white background (checked on the result).
    :param min_coverage: the least fraction of the frame's side the product must span, or None.
    :param fill: with ``product``, the fraction of the frame's side the product is scaled to span.
    :param needs_product_mask: the source must be a cut-out or already white-bordered.
    :param source: where the rules come from.
    """

    name: str
    width: int
    height: int
    fit: str
    format: str
    quality: int = DEFAULT_QUALITY
    background: str | tuple[int, int, int] = "edge"
    white_background: bool = False
    min_coverage: float | None = None
    fill: float | None = None
    needs_product_mask: bool = False
    source: str = "custom preset"


_AMAZON = "Amazon Seller Central, Product image requirements (G1881)"
BUILT_IN: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "amazon_main",
            2000,
            2000,
            "product",
            "jpeg",
            background=WHITE,
            white_background=True,
            min_coverage=0.85,
            fill=0.90,
            needs_product_mask=True,
            source=_AMAZON,
        ),
        Preset("amazon_lifestyle", 2000, 2000, "longest_side", "jpeg", source=_AMAZON),
        Preset(
            "shopify_square", 2048, 2048, "contain", "jpeg", source="Shopify Help Center, Product media types"
        ),
        Preset(
            "instagram_portrait",
            1080,
            1350,
            "cover",
            "jpeg",
            source="Instagram Help Center, image resolution",
        ),
        Preset(
            "instagram_story", 1080, 1920, "cover", "jpeg", source="Meta Business Help Center, Story specs"
        ),
        Preset("web_thumbnail", 400, 400, "contain", "webp", quality=80, source="no channel rule (ours)"),
    )
}


def _custom_errors(spec: dict[str, Any], field: str) -> list[str]:
    """Every violation of the custom preset schema, as ``field.path: rule`` lines."""
    import json
    from importlib import resources

    from jsonschema import Draft202012Validator

    schema = json.loads(
        resources.files("airflow_provider_onemin.schemas").joinpath("renditions/preset.json").read_text()
    )
    problems = []
    for error in Draft202012Validator(schema).iter_errors(spec):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1]
            problems.append(f"{field}.{missing}: is required")
        elif error.validator == "additionalProperties":
            problems.append(
                f"{field}: {error.message} (a preset has name, width, height, fit, format, "
                "quality, background)"
            )
        else:
            node = error.schema if isinstance(error.schema, dict) else {}
            rule = node.get("x-rule")
            if rule is None:  # an item of background's array: its parent says the rule
                rule = schema["properties"]["background"]["x-rule"]
                path = ".background"
            problems.append(f"{field}{path}: {rule} (got {error.instance!r})")
    return sorted(set(problems))


def custom_preset(spec: dict[str, Any], field: str = "channels[0]") -> Preset:
    """
    A :class:`Preset` from a custom mapping, checked against the schema first.

    :param spec: ``{"name", "width", "height", "fit", "format", "quality"?, "background"?}``.
    :param field: how the mapping is named in errors.
    :raises OneMinValidationError: naming every field that breaks its rule.
    """
    problems = _custom_errors(spec, field)
    if problems:
        raise OneMinValidationError(problems, summary=f"{field}: the custom preset is not valid")
    background = spec.get("background", "edge")
    return Preset(
        name=spec["name"],
        width=spec["width"],
        height=spec["height"],
        fit=spec["fit"],
        format=spec["format"],
        quality=spec.get("quality", DEFAULT_QUALITY),
        background=background if background == "edge" else tuple(background),
    )


def resolve_channels(channels: Any) -> list[Preset]:
    """
    The presets ``channels`` names, in order; every problem is reported at once.

    :param channels: a preset name, or a list of names and custom preset mappings.
    :raises OneMinValidationError: an unknown name, a bad custom preset or a name used twice.
    """
    if isinstance(channels, (str, dict)):
        channels = [channels]
    if not isinstance(channels, (list, tuple)) or not channels:
        raise OneMinConfigurationError(
            f"channels: a preset name or a non-empty list of names and custom presets (got {channels!r})"
        )
    presets: list[Preset] = []
    problems: list[str] = []
    for position, item in enumerate(channels):
        field = f"channels[{position}]"
        if isinstance(item, str):
            if item in BUILT_IN:
                presets.append(BUILT_IN[item])
            else:
                problems.append(
                    f"{field}: unknown preset {item!r}; the built-in presets are {', '.join(BUILT_IN)} "
                    "(or give a custom preset mapping: docs/renditions.md)"
                )
        elif isinstance(item, dict):
            errors = _custom_errors(item, field)
            if errors:
                problems.extend(errors)
            else:
                presets.append(custom_preset(item, field))
        else:
            problems.append(f"{field}: a preset name or a mapping (got {type(item).__name__})")
    names = [preset.name for preset in presets]
    problems.extend(
        f"channels: {name!r} is given {names.count(name)} times (each channel once)"
        for name in sorted({n for n in names if names.count(n) > 1})
    )
    if problems:
        raise OneMinValidationError(problems, summary="channels are not valid; nothing was rendered")
    return presets
