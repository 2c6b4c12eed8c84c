"""
What a rendition is, read back from its encoded file, and whether it keeps its channel's rule;
and the product-fidelity score of a result against its source's cut-out.

**The checks** read the encoded file (what the channel receives), not the pixels before encoding:
its size and format from the header; for a channel that requires a pure white background, the
outermost rows and columns must all be white within :data:`WHITE_TOLERANCE` (JPEG may move a
white pixel by a level or two), and the product's coverage is measured again on the file, as the
box of the pixels more than :data:`NON_WHITE` levels from white in any channel.

**Product coverage** is the product box's longer span over the frame's matching side: 0.9 when a
product 1800 px tall sits in a 2000 px frame (Amazon's "fill 85 % of the frame", read as in
:mod:`.presets`).

**The product-fidelity score** says how far a result's product region is from the source's:
the mean absolute difference, over the pixels of the cut-out's mask and the three RGB channels,
between the result and the cut-out, divided by 255. 0 is identical; a product whose colour moved
by 25 levels everywhere scores about 0.1; the reddest red turned the bluest blue scores about
0.67. Both images are compared at :data:`FIDELITY_SIDE` px on their longest side, the result
scaled to the cut-out's size (the Background Replacer keeps the framing), and the mask is shrunk
by :data:`MASK_ERODE` px so that the product's outline, which a new background blends into, does
not count. A result whose aspect ratio differs from the cut-out's by more than 2 % has no score
(``None``) and needs review.

A change here that changes a rendition's bytes or its report must bump
:data:`~airflow_provider_onemin.renditions.reuse.RENDERER_VERSION`, or ``reuse=True`` keeps
serving renditions made the old way.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_onemin.renditions.presets import Preset

#: How far (levels) a border pixel of a white-background rendition may be from 255.
WHITE_TOLERANCE = 3
#: How far (levels, any channel) from white a pixel must be to count as product when measuring.
NON_WHITE = 16
#: The default product-fidelity threshold: a result scoring more needs review.
DEFAULT_FIDELITY_THRESHOLD = 0.08
FIDELITY_SIDE = 512
MASK_ERODE = 3
#: The score above which a mask pixel (alpha) belongs to the product.
MASK_ALPHA = 128
#: How far (a fraction of the cut-out's) two aspect ratios may differ for the same framing.
FRAMING_TOLERANCE = 0.02
_FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}


def inspect(path: str, preset: Preset) -> dict[str, Any]:
    """
    The facts of the encoded rendition at ``path`` the report gives: width, height, format, bytes,
    and for a white-background channel the border check and the measured coverage.
    """
    import os

    from PIL import Image

    with Image.open(path) as image:
        facts: dict[str, Any] = {
            "width": image.width,
            "height": image.height,
            "format": _FORMATS.get(image.format or "", image.format),
            "bytes": os.path.getsize(path),
        }
        if preset.white_background:
            facts.update(_white_background(image))
    return facts


def _white_background(image: Any) -> dict[str, Any]:
    from PIL import ImageChops

    image.draft("RGB", (image.width // 4, image.height // 4))  # JPEG: a quarter is plenty here
    rgb = image.convert("RGB")
    width, height = rgb.size
    ring = [
        (0, 0, width, 1),
        (0, height - 1, width, height),
        (0, 0, 1, height),
        (width - 1, 0, width, height),
    ]
    darkest = [255, 255, 255]
    for box in ring:
        for channel, (low, _) in enumerate(rgb.crop(box).getextrema()):
            darkest[channel] = min(darkest[channel], low)
    difference = ImageChops.invert(rgb)  # distance from white, per channel
    red, green, blue = difference.split()
    strongest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    box = strongest.point(lambda v: 255 if v > NON_WHITE else 0).getbbox()
    coverage = 0.0
    if box is not None:
        coverage = max((box[2] - box[0]) / width, (box[3] - box[1]) / height)
    return {
        "background_check": {
            "rule": "pure white (255, 255, 255) border",
            "darkest_border_rgb": darkest,
            "passed": min(darkest) >= 255 - WHITE_TOLERANCE,
        },
        "measured_coverage": round(coverage, 4),
    }


def violations(report: dict[str, Any], preset: Preset, expected: tuple[int, int]) -> list[str]:
    """What in ``report`` breaks ``preset``'s rule (empty when it keeps it)."""
    found = []
    if (report["width"], report["height"]) != expected:
        found.append(
            f"is {report['width']}x{report['height']}, the channel needs {expected[0]}x{expected[1]}"
        )
    if report["format"] != preset.format:
        found.append(f"is {report['format']}, the channel needs {preset.format}")
    check = report.get("background_check")
    if preset.white_background and not (check and check["passed"]):
        found.append(f"its border is not pure white (darkest {check and check['darkest_border_rgb']})")
    if preset.min_coverage is not None:
        coverage = report.get("measured_coverage", report.get("product_coverage")) or 0.0
        if coverage < preset.min_coverage:
            found.append(
                f"the product spans {coverage:.1%} of the frame, the channel needs {preset.min_coverage:.0%}"
            )
    return found


def same_framing(image: tuple[int, int], cutout: tuple[int, int]) -> bool:
    """Whether an image and a cut-out (their sizes) can show the same framing of one photo."""
    ratio = cutout[0] / cutout[1]
    return abs(image[0] / image[1] - ratio) <= FRAMING_TOLERANCE * ratio


def fidelity_score(result: bytes, cutout: bytes) -> float | None:
    """
    The product-fidelity score of ``result`` against the cut-out ``cutout`` (module docstring).

    :param result: the result image's bytes (any format Pillow reads).
    :param cutout: the cut-out's bytes: an image whose alpha channel is the product's mask.
    :return: 0 (identical) to 1, or None when the two cannot be compared (aspect ratios differ,
        or the mask is empty).
    """
    from PIL import Image, ImageFilter, ImageStat

    with Image.open(io.BytesIO(cutout)) as opened:
        cut = opened.convert("RGBA")
    with Image.open(io.BytesIO(result)) as opened:
        res = opened.convert("RGB")
    if not same_framing(res.size, cut.size):
        return None
    factor = min(1.0, FIDELITY_SIDE / max(cut.size))
    size = (max(1, round(cut.width * factor)), max(1, round(cut.height * factor)))
    cut = cut.resize(size, Image.Resampling.BILINEAR)
    res = res.resize(size, Image.Resampling.BILINEAR)
    mask = cut.getchannel("A").point(lambda a: 255 if a > MASK_ALPHA else 0)
    mask = mask.filter(ImageFilter.MinFilter(2 * MASK_ERODE + 1))
    if mask.getbbox() is None:
        return None
    from PIL import ImageChops

    difference = ImageChops.difference(res, cut.convert("RGB"))
    means = ImageStat.Stat(difference, mask).mean
    return round(sum(means) / (3 * 255), 4)
