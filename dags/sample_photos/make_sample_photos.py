"""
Draw the three sample product photos used by the keyless demo (run: ``python make_sample_photos.py``).

The pictures are drawn here with Pillow, from nothing but shapes and gradients, so they carry no
third-party rights. Each shows one of the cases the Background Replacer has to handle:

* ``mug.png``: PNG with an alpha channel (the foreground is given by the transparency, including
  a soft, partly transparent shadow);
* ``sneaker.jpg``: JPEG on a plain white background (the foreground must be found);
* ``bottle.webp``: WebP on a plain off-white background.

The output is deterministic: running the script again rewrites the same pictures.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
#: Drawn at this many times the first sketches' size (sneaker 768 x 512, bottle 512 x 768): the
#: channel presets enlarge at most 2x, and shopify_square (2048) needs a longest side of 1024.
SCALE = 2.0
#: The mug fills less of its frame: amazon_main scales the product's box to 1800 px (90 % of 2000),
#: so the cut-out's box must be at least 900 px; at 2.25 the mug's is about 1000 px.
MUG_SCALE = 2.25


def _shaded(size: tuple[int, int], dark: tuple[int, int, int], light: tuple[int, int, int]) -> Image.Image:
    """A horizontal dark-light-dark ramp, like light on a cylinder."""
    width, height = size
    ramp = Image.new("L", (width, 1))
    ramp.putdata([int(255 * (1 - abs(2 * x / max(1, width - 1) - 0.8) / 1.2)) for x in range(width)])
    ramp = ramp.resize(size)
    return Image.composite(Image.new("RGB", size, light), Image.new("RGB", size, dark), ramp)


def _scaled(scale: float, *values: float) -> tuple[int, ...]:
    """Coordinates drawn on the original small grid, at ``scale`` times that size."""
    return tuple(round(v * scale) for v in values)


def _points(scale: float, points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(round(x * scale), round(y * scale)) for x, y in points]


def draw_mug(scale: float = MUG_SCALE) -> Image.Image:
    """A ceramic mug on a transparent background, with a soft shadow."""
    s = scale
    side = round(640 * s)
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    shadow = Image.new("L", (side, side), 0)
    ImageDraw.Draw(shadow).ellipse(_scaled(s, 150, 500, 470, 560), fill=140)
    shadow = shadow.filter(ImageFilter.GaussianBlur(14 * s))
    image.paste(Image.new("RGBA", (side, side), (40, 30, 20, 255)), (0, 0), shadow)

    draw = ImageDraw.Draw(image)
    draw.ellipse(_scaled(s, 380, 220, 520, 420), outline=(150, 40, 35, 255), width=round(30 * s))  # handle
    body_box = _scaled(s, 150, 150, 420, 530)
    body = _shaded((body_box[2] - body_box[0], body_box[3] - body_box[1]), (120, 28, 25), (214, 74, 60))
    mask = Image.new("L", body.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, body.width - 1, body.height - 1), radius=round(36 * s), fill=255
    )
    image.paste(body, body_box[:2], mask)
    draw.ellipse(
        _scaled(s, 150, 128, 420, 176),
        fill=(240, 232, 220, 255),
        outline=(150, 40, 35, 255),
        width=round(6 * s),
    )  # rim
    draw.ellipse(_scaled(s, 166, 136, 404, 170), fill=(70, 42, 28, 255))  # coffee
    draw.rounded_rectangle(_scaled(s, 200, 290, 370, 380), radius=round(12 * s), fill=(245, 240, 230, 255))
    draw.text(_scaled(s, 232, 322), "1 MIN", fill=(120, 28, 25, 255), font_size=round(34 * s))  # label
    return image


def draw_sneaker(scale: float = SCALE) -> Image.Image:
    """A sneaker, side view, on plain white."""
    s = scale
    image = Image.new("RGB", _scaled(s, 768, 512), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(_scaled(s, 90, 350, 690, 400), radius=round(24 * s), fill=(205, 205, 200))  # sole
    draw.rectangle(_scaled(s, 100, 385, 680, 400), fill=(60, 60, 64))  # tread
    upper = [
        (110, 352),
        (120, 250),
        (200, 200),
        (330, 160),
        (420, 170),
        (470, 240),
        (600, 280),
        (680, 320),
        (688, 352),
    ]
    draw.polygon(_points(s, upper), fill=(38, 92, 170))
    heel = [(130, 350), (140, 270), (210, 230), (260, 350)]
    draw.polygon(_points(s, heel), fill=(28, 70, 135))  # heel panel
    stripe = [(250, 330), (420, 250), (640, 330)]
    draw.line(_points(s, stripe), fill=(255, 200, 40), width=round(18 * s), joint="curve")
    for step in range(5):
        x = 345 + step * 28
        lace = [(x, 185 + step * 10), (x + 40, 205 + step * 10)]
        draw.line(_points(s, lace), fill=(235, 235, 235), width=round(7 * s))  # laces
    draw.ellipse(_scaled(s, 318, 168, 340, 190), fill=(20, 40, 80))  # collar
    return image


def draw_bottle(scale: float = SCALE) -> Image.Image:
    """A glass bottle with a label, on plain off-white."""
    s = scale
    image = Image.new("RGB", _scaled(s, 512, 768), (244, 241, 234))
    draw = ImageDraw.Draw(image)
    glass = _shaded(_scaled(s, 200, 420), (20, 80, 48), (70, 160, 100))
    mask = Image.new("L", glass.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, glass.width - 1, glass.height - 1), radius=round(40 * s), fill=255
    )
    image.paste(glass, _scaled(s, 156, 290), mask)
    neck = _shaded(_scaled(s, 70, 170), (20, 80, 48), (70, 160, 100))
    image.paste(neck, _scaled(s, 221, 140))
    shoulders = [(221, 300), (291, 300), (356, 330), (156, 330)]
    draw.polygon(_points(s, shoulders), fill=(40, 118, 74))
    draw.rounded_rectangle(_scaled(s, 214, 100, 298, 150), radius=round(8 * s), fill=(190, 150, 60))  # cap
    draw.rectangle(_scaled(s, 166, 430, 346, 580), fill=(250, 246, 228))  # label
    draw.rectangle(_scaled(s, 166, 470, 346, 478), fill=(190, 150, 60))
    draw.text(_scaled(s, 196, 500), "SPARKLING", fill=(30, 60, 40), font_size=round(26 * s))
    return image


def main(out_dir: Path = HERE) -> list[Path]:
    """Write the three photos into ``out_dir`` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "mug.png", out_dir / "sneaker.jpg", out_dir / "bottle.webp"]
    draw_mug().save(written[0], optimize=True)
    draw_sneaker().save(written[1], quality=88, optimize=True)
    draw_bottle().save(written[2], quality=85, method=6)
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
