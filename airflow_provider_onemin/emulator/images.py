"""
Deterministic "background replacement" for the emulator, with Pillow only.

The result of one generation is a PNG of the source's size in which the foreground of the source
is kept and everything else is replaced by a new background drawn from ``(prompt, seed, index)``.
The same inputs always give the same bytes; another prompt, seed or index gives another picture.

Foreground mask
    * **Source with transparency** (an alpha channel with at least one pixel below 255): the alpha
      channel is the mask. Pixels with alpha 255 are copied exactly; partially transparent pixels are
      composited over the new background; fully transparent ones show only the background.
    * **Opaque source**: the *border colour* is the per-channel median of the one-pixel frame of the
      image. A pixel is *background-coloured* when its Euclidean RGB distance to the border colour is
      at most :data:`BACKGROUND_DISTANCE`. The background is the set of background-coloured pixels
      connected to the image border through background-coloured pixels (a flood fill from the
      border). Everything else is foreground and is copied pixel for pixel; in particular every pixel
      farther than :data:`BACKGROUND_DISTANCE` from the border colour is always kept. Enclosed
      background-coloured areas (a white label on a mug on white) stay foreground.

The flood fill runs on a grid of at most :data:`FILL_GRID` cells a side (a cell counts as
background-coloured only when all its pixels are), then grows back to full resolution through
background-coloured pixels only, so thin gaps between objects may stay foreground but no
foreground pixel is ever replaced. A 1024x1024 result takes well under a second.

The mask of an opaque source is computed once for the latest :data:`MASK_CACHE_SIZE` distinct
sources (keyed by a digest of their pixels) and reused: a source is drawn on many times (each
image of a generation, each scene of a product, its cut-out), and the fill is most of a result's
CPU time. The encoded result itself is kept for the latest :data:`RESULT_CACHE_SIZE` distinct
``(source, prompt, seed, index)``, and the cut-out for the latest sources and formats: the same
line of a catalogue is generated again by every run that does not reuse it (a test suite's
emulator draws the same shipped photo and scenes many times).
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageMath, ImageOps, ImageStat

#: Largest Euclidean RGB distance from the border colour that still counts as background colour.
BACKGROUND_DISTANCE = 48
#: Side of the coarse grid on which the flood fill from the border runs.
FILL_GRID = 256
#: Side of the synthetic product photo used for asset paths the emulator does not hold.
SYNTHETIC_SIZE = 512
#: How many sources' masks are kept (a 1440x1440 mask is about 2 MB).
MASK_CACHE_SIZE = 8
#: How many encoded results (and cut-outs) are kept (a 1440x1440 result is about 100 KB).
RESULT_CACHE_SIZE = 48
#: Formats the source image may have, as the real API documents.
SOURCE_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})

Colour = tuple[int, int, int]
K = TypeVar("K")
V = TypeVar("V")

_GRADIENT_ORIENTATIONS = (
    Image.Transpose.FLIP_LEFT_RIGHT,  # top to bottom (no-op for a vertical gradient)
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_270,
)


class SourceImageError(ValueError):
    """The source bytes are not a JPEG, PNG or WebP image Pillow can read."""


def open_source(data: bytes) -> Image.Image:
    """Decode the source image, or raise :class:`SourceImageError` saying why not."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in SOURCE_FORMATS:
            raise SourceImageError(f"the source image is {image.format}, not JPEG, PNG or WebP")
        image.load()
    except SourceImageError:
        raise
    except Exception as error:  # Pillow raises many types for broken files
        raise SourceImageError(f"the source image could not be read ({error})") from error
    return image


def source_size(data: bytes) -> tuple[int, int]:
    """Width and height of the source image (reads the header only)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in SOURCE_FORMATS:
                raise SourceImageError(f"the source image is {image.format}, not JPEG, PNG or WebP")
            return image.size
    except SourceImageError:
        raise
    except Exception as error:
        raise SourceImageError(f"the source image could not be read ({error})") from error


def _digest(*parts: object) -> bytes:
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).digest()


def _colour(digest: bytes, offset: int) -> Colour:
    return digest[offset % 32], digest[(offset + 1) % 32], digest[(offset + 2) % 32]


def draw_background(size: tuple[int, int], prompt: str, seed: int, index: int) -> Image.Image:
    """An RGB picture of ``size`` fully determined by ``(prompt, seed, index)``."""
    width, height = size
    digest = _digest("background", prompt, seed, index)
    more = _digest("shapes", prompt, seed, index)

    orientation = _GRADIENT_ORIENTATIONS[digest[0] % len(_GRADIENT_ORIENTATIONS)]
    gradient = Image.linear_gradient("L").transpose(orientation).resize(size, Image.Resampling.BILINEAR)
    picture = ImageOps.colorize(
        gradient, black=_colour(digest, 1), white=_colour(digest, 4), mid=_colour(digest, 7)
    )

    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    # A "floor" band, so results read like product shots.
    horizon = int(height * (0.55 + (digest[10] / 255) * 0.25))
    draw.rectangle((0, horizon, width, height), fill=(*_colour(digest, 11), 120))
    stream = digest + more
    for shape in range(3 + stream[14] % 5):
        base = 15 + shape * 6
        cx = stream[base % 64] / 255 * width
        cy = stream[(base + 1) % 64] / 255 * height
        radius = (0.05 + stream[(base + 2) % 64] / 255 * 0.25) * min(width, height)
        fill = (*_colour(stream[32:], base + 3), 70 + stream[(base + 5) % 64] % 120)
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        kind = stream[(base + 4) % 64] % 3
        if kind == 0:
            draw.ellipse(box, fill=fill)
        elif kind == 1:
            draw.rectangle(box, fill=fill)
        else:
            draw.regular_polygon(
                (cx, cy, radius), 3 + stream[base % 64] % 4, rotation=stream[base % 64], fill=fill
            )
    return Image.alpha_composite(picture.convert("RGBA"), overlay).convert("RGB")


def border_colour(image: Image.Image) -> Colour:
    """Per-channel median of the one-pixel frame of an RGB image."""
    width, height = image.size
    frame = Image.new("RGB", (2 * width + 2 * height, 1))
    frame.paste(image.crop((0, 0, width, 1)), (0, 0))
    frame.paste(image.crop((0, height - 1, width, height)), (width, 0))
    left = image.crop((0, 0, 1, height)).transpose(Image.Transpose.TRANSPOSE)
    right = image.crop((width - 1, 0, width, height)).transpose(Image.Transpose.TRANSPOSE)
    frame.paste(left, (2 * width, 0))
    frame.paste(right, (2 * width + height, 0))
    red, green, blue = (int(v) for v in ImageStat.Stat(frame).median)
    return red, green, blue


def background_coloured(
    image: Image.Image, colour: Colour, distance: int = BACKGROUND_DISTANCE
) -> Image.Image:
    """Mode L mask, 255 where the RGB distance of a pixel to ``colour`` is at most ``distance``."""
    bands = [
        ImageChops.difference(band, Image.new("L", image.size, value))
        for band, value in zip(image.split(), colour, strict=True)
    ]
    limit = distance * distance
    close = ImageMath.lambda_eval(
        lambda a: (a["r"] * a["r"] + a["g"] * a["g"] + a["b"] * a["b"] <= limit) * 255,
        r=bands[0],
        g=bands[1],
        b=bands[2],
    )
    return close.convert("L")


def _fill_from_border(cells: bytes, width: int, height: int) -> bytearray:
    """4-connected flood fill over cells equal to 255, seeded from every border cell."""
    reached = bytearray(width * height)
    stack = [
        i
        for i in (
            *range(width),
            *range((height - 1) * width, height * width),
            *range(0, height * width, width),
            *range(width - 1, height * width, width),
        )
        if cells[i] == 255
    ]
    while stack:
        i = stack.pop()
        if reached[i]:
            continue
        reached[i] = 255
        x = i % width
        if x > 0 and cells[i - 1] == 255 and not reached[i - 1]:
            stack.append(i - 1)
        if x < width - 1 and cells[i + 1] == 255 and not reached[i + 1]:
            stack.append(i + 1)
        if i >= width and cells[i - width] == 255 and not reached[i - width]:
            stack.append(i - width)
        if i + width < width * height and cells[i + width] == 255 and not reached[i + width]:
            stack.append(i + width)
    return reached


def segment_background(image: Image.Image, distance: int = BACKGROUND_DISTANCE) -> Image.Image:
    """Mode L mask of an opaque RGB image: 255 for background (see the module docstring)."""
    width, height = image.size
    close = background_coloured(image, border_colour(image), distance)
    factor = max(1, math.ceil(max(width, height) / FILL_GRID))
    coarse = close.reduce(factor) if factor > 1 else close
    reached = _fill_from_border(coarse.tobytes(), *coarse.size)
    background = Image.frombytes("L", coarse.size, bytes(reached))
    if factor > 1:
        background = background.resize(
            (coarse.width * factor, coarse.height * factor), Image.Resampling.NEAREST
        ).crop((0, 0, width, height))
        background = ImageChops.darker(background, close)
        # Grow back into the partly foreground cells along the edge, through background colour only.
        grow = ImageFilter.MaxFilter(3)
        for _ in range(factor):
            background = ImageChops.darker(background.filter(grow), close)
    return background


class _Latest(Generic[K, V]):
    """The values made for the latest ``size`` distinct keys, shared by the server's threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if (value := self._values.get(key)) is not None:
                self._values.move_to_end(key)
                return value
        value = make()  # outside the lock: two threads may make one value, never a wrong one
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value


def _bytes_key(data: bytes, person: bytes = b"") -> bytes:
    return hashlib.blake2b(data, digest_size=20, person=person).digest()


_masks: _Latest[bytes, Image.Image] = _Latest(MASK_CACHE_SIZE)
_results: _Latest[tuple[bytes, str, int, int], bytes] = _Latest(RESULT_CACHE_SIZE)
_cutouts: _Latest[tuple[bytes, str], bytes] = _Latest(RESULT_CACHE_SIZE)


def background_mask(image: Image.Image) -> Image.Image:
    """
    :func:`segment_background` of an opaque RGB image, computed once per distinct picture (its size
    and every pixel make the key) among the latest :data:`MASK_CACHE_SIZE`. The mask returned is
    shared: callers must not change it.
    """
    key = _bytes_key(image.tobytes(), person=b"%dx%d" % image.size)
    return _masks.get_or_make(key, lambda: segment_background(image))


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") and image.getchannel("A").getextrema()[0] < 255


def replace_background(source: Image.Image, prompt: str, seed: int, index: int) -> Image.Image:
    """The result picture (RGB, size of ``source``): foreground kept, background regenerated."""
    if source.mode == "P" or (source.mode in ("LA", "PA")):
        source = source.convert("RGBA")
    background = draw_background(source.size, prompt, seed, index)
    if _has_transparency(source):
        rgba = source.convert("RGBA")
        alpha = rgba.getchannel("A")
        blended = Image.alpha_composite(background.convert("RGBA"), rgba).convert("RGB")
        opaque = alpha.point(lambda a: 255 if a == 255 else 0)
        return Image.composite(rgba.convert("RGB"), blended, opaque)
    rgb = source.convert("RGB")
    foreground = ImageChops.invert(background_mask(rgb))
    return Image.composite(rgb, background, foreground)


def cut_out(source: Image.Image) -> Image.Image:
    """
    The Background Remover's result (RGBA, size of ``source``): the foreground of
    :func:`replace_background`'s mask kept pixel for pixel, everything else fully transparent.
    A source with transparency keeps its own alpha channel.
    """
    if source.mode == "P" or (source.mode in ("LA", "PA")):
        source = source.convert("RGBA")
    if _has_transparency(source):
        return source.convert("RGBA")
    rgb = source.convert("RGB")
    result = rgb.convert("RGBA")
    result.putalpha(ImageChops.invert(background_mask(rgb)))
    # Transparent pixels are black: no trace of the old background survives in the colour channels.
    return Image.composite(result, Image.new("RGBA", rgb.size, (0, 0, 0, 0)), result.getchannel("A"))


#: The image format each requested ``output_format`` of the Background Remover is answered in.
#: ``jpeg``: the contract does not say what comes back, and stable-image's upstream remover offers
#: png and webp only; the emulator answers the case hardest for a client: a PNG with transparency,
#: which a client that wants a JPEG must flatten itself.
CUTOUT_FORMATS = {"png": "PNG", "webp": "WEBP", "jpeg": "PNG"}


def render_cutout(source: bytes, output_format: str) -> bytes:
    """
    The bytes of the Background Remover's result on ``source``, in ``output_format``'s answer
    format: :func:`draw_cutout`, kept for the latest :data:`RESULT_CACHE_SIZE` sources and formats.
    """
    key = (_bytes_key(source), output_format)
    return _cutouts.get_or_make(key, lambda: draw_cutout(source, output_format))


def draw_cutout(source: bytes, output_format: str) -> bytes:
    """The Background Remover's result on ``source``, drawn and encoded now."""
    image = cut_out(open_source(source))
    buffer = io.BytesIO()
    pillow_format = CUTOUT_FORMATS.get(output_format, "PNG")
    if pillow_format == "WEBP":
        image.save(buffer, format="WEBP", lossless=True)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def to_png(image: Image.Image) -> bytes:
    """Encode as PNG (fast compression: results are throwaway test data)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def render_result(source: bytes, prompt: str, seed: int, index: int) -> bytes:
    """
    PNG bytes of one result of a generation on the ``source`` image bytes: :func:`draw_result`,
    kept for the latest :data:`RESULT_CACHE_SIZE` distinct inputs (the bytes returned are
    immutable, so a kept result cannot be changed by a caller).
    """
    key = (_bytes_key(source), prompt, seed, index)
    return _results.get_or_make(key, lambda: draw_result(source, prompt, seed, index))


def draw_result(source: bytes, prompt: str, seed: int, index: int) -> bytes:
    """PNG bytes of one result of a generation on the ``source`` image bytes, drawn now."""
    return to_png(replace_background(open_source(source), prompt, seed, index))


def synthetic_product(path: str, size: int = SYNTHETIC_SIZE) -> bytes:
    """
    A PNG "product photo" for an asset path the emulator does not hold (like the docs' example).

    A mug-like object on a plain light grey background; its colours depend on ``path`` only.
    """
    digest = _digest("product", path)
    image = Image.new("RGB", (size, size), (238, 238, 236))
    draw = ImageDraw.Draw(image)
    body = _colour(digest, 0)
    dark = tuple(max(0, c - 60) for c in body)
    s = size / 512
    draw.ellipse((150 * s, 392 * s, 362 * s, 420 * s), fill=(205, 205, 203))  # shadow
    draw.ellipse((300 * s, 190 * s, 400 * s, 320 * s), outline=dark, width=max(1, int(22 * s)))  # handle
    draw.rounded_rectangle((140 * s, 150 * s, 330 * s, 405 * s), radius=int(24 * s), fill=body)
    draw.ellipse((140 * s, 132 * s, 330 * s, 168 * s), fill=dark)
    draw.rectangle((175 * s, 240 * s, 295 * s, 300 * s), fill=_colour(digest, 5))  # label
    return to_png(image)
