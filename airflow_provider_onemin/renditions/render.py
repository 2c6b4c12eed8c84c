"""
The Pillow work of a rendition: decode (at reduced size where JPEG allows), convert to sRGB,
find the product, fit it into a preset's frame, and encode without metadata.

Where the product is:

* a cut-out (an image with transparent pixels, such as the Background Remover's result): the box
  of the pixels whose alpha is over :data:`ALPHA_THRESHOLD`;
* an opaque image given with a cut-out of the same photo (``product_masks``, such as a Background
  Replacer's scene with the Background Remover's cut-out: the replacer keeps the product where it
  was): the cut-out's alpha box, scaled to the image. Not when the two aspect ratios differ by
  more than 2 % (not the same framing) or the cut-out is empty: then, as without one,
* any other image: the box of the pixels that differ from the border colour (the per-channel
  median of the outermost rows and columns) by more than :data:`EDGE_TOLERANCE` in any channel,
  found on a copy of at most :data:`PROBE_SIDE` px. A photo whose border is busy gives a box close
  to the whole image, and ``cover`` then crops around the centre, as it would without a product.

Pillow is imported inside the functions: importing this module is free.

A change here that changes a rendition's bytes or its report must bump
:data:`~airflow_provider_onemin.renditions.reuse.RENDERER_VERSION`, or ``reuse=True`` keeps
serving renditions made the old way.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from airflow_provider_onemin.renditions.presets import Preset

#: Alpha above which a pixel of a cut-out belongs to the product.
ALPHA_THRESHOLD = 16
#: How far (0-255, any channel) a pixel must be from the border colour to count as the product.
EDGE_TOLERANCE = 24
#: The longest side of the copy the product box and the border colour are found on.
PROBE_SIDE = 512
#: The most a source is enlarged; beyond it a rendition is refused.
MAX_UPSCALE = 2.0
#: See :func:`compose`.
REDUCING_GAP = 3.0
Box = tuple[float, float, float, float]


@dataclass
class Decoded:
    """
    One source, decoded once, in sRGB, as ``RGB`` or ``RGBA`` (only a cut-out keeps its alpha).

    :param image: the pixels, possibly decoded at reduced size (JPEG draft).
    :param full_size: the source's size in its file.
    :param cutout: the image has transparent pixels.
    :param notes: what was done to the colours (profile converted, or not convertible).
    """

    image: PILImage.Image
    full_size: tuple[int, int]
    cutout: bool
    notes: list[str] = field(default_factory=list)
    _box: Box | None = None
    _edge: tuple[int, int, int] | None = None
    _box_from_mask: bool = False

    @property
    def reduction(self) -> float:
        """How many source pixels one decoded pixel stands for, along the width."""
        return self.full_size[0] / self.image.width

    def edge_colour(self) -> tuple[int, int, int]:
        """The border colour (per-channel median of the outermost rows and columns)."""
        if self._edge is None:
            self._edge = _border_median(_probe_copy(self.image)[0].convert("RGB"))
        return self._edge

    def flatten(self, colour: tuple[int, int, int]) -> None:
        """
        Compose a cut-out onto ``colour`` once, before scaling: what every rendition on that
        background would do after scaling (resampling is linear), for a third of the work per
        pixel. The product's box must be known first (:meth:`product_box`).
        """
        from PIL import Image

        if self.image.mode == "RGBA":
            self.product_box()
            frame = Image.new("RGB", self.image.size, colour)
            frame.paste(self.image, mask=self.image.getchannel("A"))
            self.image = frame

    def product_box(self) -> Box:
        """The product's box in decoded pixels (see the module docstring)."""
        if self._box is None:
            self._box = _product_box(self)
        return self._box

    @property
    def box_found_by(self) -> str:
        """How the product's box was found, as the compliance report says it."""
        if self.cutout:
            return "cut-out alpha"
        return "product mask" if self._box_from_mask else "border-colour heuristic"

    def use_mask(self, cutout: bytes) -> None:
        """Take the product's box from a cut-out of the same photo, when it fits (module docstring)."""
        from PIL import Image

        from airflow_provider_onemin.renditions.compliance import same_framing

        if self.cutout:
            return  # the image's own alpha says where its product is
        with Image.open(io.BytesIO(cutout)) as opened:
            alpha = opened.convert("RGBA").getchannel("A")
        if not same_framing(self.image.size, alpha.size):
            return
        box = _alpha_box(alpha, self.image.size)
        if box is not None:
            self._box, self._box_from_mask = box, True


def _probe_copy(image: PILImage.Image) -> tuple[PILImage.Image, float]:
    factor = max(1, math.ceil(max(image.size) / PROBE_SIDE))
    return (image.reduce(factor) if factor > 1 else image), float(factor)


def _border_median(image: PILImage.Image) -> tuple[int, int, int]:
    from PIL import Image, ImageStat

    width, height = image.size
    strips = [
        image.crop((0, 0, width, 1)),
        image.crop((0, height - 1, width, height)),
        image.crop((0, 0, 1, height)).transpose(Image.Transpose.ROTATE_90),
        image.crop((width - 1, 0, width, height)).transpose(Image.Transpose.ROTATE_90),
    ]
    ring = Image.new("RGB", (2 * width + 2 * height, 1))
    offset = 0
    for strip in strips:
        ring.paste(strip, (offset, 0))
        offset += strip.width
    return tuple(int(v) for v in ImageStat.Stat(ring).median)  # type: ignore[return-value]


def _scaled_box(box: tuple[int, int, int, int], across: float, down: float, size: tuple[int, int]) -> Box:
    """``box`` (found on a smaller copy) scaled by ``across`` and ``down``, kept inside ``size``."""
    return (
        max(0.0, box[0] * across),
        max(0.0, box[1] * down),
        min(float(size[0]), box[2] * across),
        min(float(size[1]), box[3] * down),
    )


def _alpha_box(alpha: PILImage.Image, size: tuple[int, int]) -> Box | None:
    """The box of an alpha channel's pixels over :data:`ALPHA_THRESHOLD`, scaled to ``size``."""
    small, factor = _probe_copy(alpha)
    box = small.point(lambda a: 255 if a > ALPHA_THRESHOLD else 0).getbbox()
    if box is None:
        return None
    return _scaled_box(box, factor * size[0] / alpha.width, factor * size[1] / alpha.height, size)


def _product_box(decoded: Decoded) -> Box:
    from PIL import Image, ImageChops

    size = decoded.image.size
    if decoded.cutout:
        box = _alpha_box(decoded.image.getchannel("A"), size)
    else:
        small, factor = _probe_copy(decoded.image)
        rgb = small.convert("RGB")
        difference = ImageChops.difference(rgb, Image.new("RGB", rgb.size, decoded.edge_colour()))
        red, green, blue = difference.split()
        strongest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
        found = strongest.point(lambda v: 255 if v > EDGE_TOLERANCE else 0).getbbox()
        box = None if found is None else _scaled_box(found, factor, factor, size)
    # Nothing stands out: the whole image is the product.
    return box if box is not None else (0.0, 0.0, float(size[0]), float(size[1]))


def decode(data: bytes, at_least: tuple[int, int] | None = None) -> Decoded:
    """
    Decode ``data`` once, converted to sRGB.

    :param data: the source file's bytes.
    :param at_least: the smallest decoded size the renditions need; a JPEG is decoded at the
        largest DCT reduction (1/2, 1/4, 1/8) that keeps at least this size. None: full size.
    """
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    full_size = image.size
    if at_least is not None and image.format == "JPEG":
        image.draft(None, at_least)  # type: ignore[arg-type]
    notes: list[str] = []
    icc = image.info.get("icc_profile")
    if image.mode in ("P", "PA", "LA", "La", "RGBa") or "transparency" in image.info:
        image = image.convert("RGBA")
    if icc:
        image = _to_srgb(image, icc, notes)
    if image.mode == "RGBA":
        low, _ = image.getchannel("A").getextrema()
        if low >= 255:  # an alpha channel that hides nothing: an opaque image
            image = image.convert("RGB")
    elif image.mode != "RGB":
        image = image.convert("RGB")
    image.info.clear()  # EXIF, XMP and the profile are not carried into any rendition
    return Decoded(image=image, full_size=full_size, cutout=image.mode == "RGBA", notes=notes)


def _to_srgb(image: PILImage.Image, icc: bytes, notes: list[str]) -> PILImage.Image:
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = ImageCms.getProfileDescription(profile).strip()
        if "srgb" in name.lower().replace(" ", ""):
            return image
        output = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, profile, ImageCms.createProfile("sRGB"), outputMode=output
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        notes.append(f"colour profile not converted ({exc}); pixels taken as sRGB")
        return image
    notes.append(f"colour profile {name!r} converted to sRGB")
    return converted  # type: ignore[return-value]


@dataclass(frozen=True)
class Plan:
    """
    How one source becomes one preset's frame.

    :param size: the rendition's size.
    :param crop: the region of the decoded image that is scaled.
    :param scaled: the size that region is scaled to.
    :param offset: where the scaled region goes in the frame.
    :param upscale: how much the source's own pixels are enlarged (1.0: not at all).
    :param product: the product's box in the frame.
    """

    size: tuple[int, int]
    crop: Box
    scaled: tuple[int, int]
    offset: tuple[int, int]
    upscale: float
    product: Box


def scale_needed(preset: Preset, width: int, height: int) -> float | None:
    """The scale from a ``width`` x ``height`` source to ``preset``, None when it depends on the product."""
    if preset.fit == "cover":
        return max(preset.width / width, preset.height / height)
    if preset.fit in ("contain", "longest_side"):
        return min(preset.width / width, preset.height / height)
    return None


def plan(preset: Preset, decoded: Decoded) -> Plan:
    """Where the product and the frame go for ``preset`` (no pixel is touched)."""
    width, height = decoded.image.size
    box = decoded.product_box()
    crop: Box = (0.0, 0.0, float(width), float(height))
    frame = (preset.width, preset.height)
    if preset.fit == "cover":
        scale = max(preset.width / width, preset.height / height)
        window = (preset.width / scale, preset.height / scale)
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        left = min(max(0.0, centre[0] - window[0] / 2), width - window[0])
        top = min(max(0.0, centre[1] - window[1] / 2), height - window[1])
        crop = (left, top, left + window[0], top + window[1])
        scaled, offset = frame, (0, 0)
    elif preset.fit == "product":
        box_w, box_h = box[2] - box[0], box[3] - box[1]
        scale = (preset.fill or 1.0) * min(preset.width / box_w, preset.height / box_h)
        crop = box
        scaled = (max(1, round(box_w * scale)), max(1, round(box_h * scale)))
        offset = ((preset.width - scaled[0]) // 2, (preset.height - scaled[1]) // 2)
    else:
        scale = min(preset.width / width, preset.height / height)
        scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
        if preset.fit == "longest_side":
            frame, offset = scaled, (0, 0)
        else:
            offset = ((preset.width - scaled[0]) // 2, (preset.height - scaled[1]) // 2)
    product = (
        offset[0] + (box[0] - crop[0]) * scale,
        offset[1] + (box[1] - crop[1]) * scale,
        offset[0] + (box[2] - crop[0]) * scale,
        offset[1] + (box[3] - crop[1]) * scale,
    )
    return Plan(frame, crop, scaled, offset, scale / decoded.reduction, product)


def background_of(preset: Preset, decoded: Decoded) -> tuple[int, int, int]:
    """The padding colour: the preset's, else the image's border colour (white for a cut-out)."""
    if preset.background != "edge":
        return preset.background  # type: ignore[return-value]
    return (255, 255, 255) if decoded.cutout else decoded.edge_colour()


def compose(
    decoded: Decoded, layout: Plan, background: tuple[int, int, int], cache: dict[Any, Any]
) -> PILImage.Image:
    """
    The rendition's pixels (opaque RGB): the crop scaled once (``cache`` shares a scaled region
    between presets of the same geometry; the caller drops an entry after its last use), placed
    on the background.
    """
    from PIL import Image

    key = (layout.crop, layout.scaled)
    scaled = cache.get(key)
    if scaled is None:
        # reducing_gap: a large reduction starts with a box reduce by an integer factor, then
        # LANCZOS over the last factor of at least 3, which Pillow documents as indistinguishable
        # from LANCZOS over the whole range, and several times faster.
        scaled = decoded.image.resize(
            layout.scaled, Image.Resampling.LANCZOS, box=layout.crop, reducing_gap=REDUCING_GAP
        )
        cache[key] = scaled
    if layout.offset == (0, 0) and layout.scaled == layout.size and scaled.mode == "RGB":
        return scaled
    frame = Image.new("RGB", layout.size, background)
    frame.paste(scaled, layout.offset, scaled if scaled.mode == "RGBA" else None)
    return frame


def encode(image: PILImage.Image, preset: Preset, target: Any) -> None:
    """
    Write ``image`` to ``target`` (a path or a binary file) in the preset's format, with no EXIF,
    XMP or colour profile (an untagged image is read as sRGB).
    """
    options: dict[str, Any] = {}
    if preset.format == "jpeg":
        options = {"quality": preset.quality}
    elif preset.format == "webp":
        options = {"quality": preset.quality, "method": 4}
    image.info.clear()
    image.save(target, format=preset.format.upper(), **options)
