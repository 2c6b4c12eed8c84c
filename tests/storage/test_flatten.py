"""
Flattening a transparent download onto white for ``jpeg`` (storage/flatten.py), judged with
Pillow on images drawn here: transparent pixels become white, opaque ones keep their colour, and
an image without transparency is left as downloaded.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from airflow_provider_onemin.storage.flatten import flatten_onto_white


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _cut_out(mode: str = "RGBA") -> Image.Image:
    image = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    image.paste((20, 120, 40, 255), (16, 12, 48, 36))
    return image if mode == "RGBA" else image.convert(mode)


@pytest.mark.parametrize(("mode", "fmt"), [("RGBA", "PNG"), ("RGBA", "WEBP"), ("LA", "PNG"), ("P", "PNG")])
def test_transparent_pixels_become_white_and_the_product_stays(mode: str, fmt: str) -> None:
    options = {"lossless": True} if fmt == "WEBP" else {}
    flat = flatten_onto_white(_encode(_cut_out(mode), fmt, **options))

    assert flat is not None
    image = Image.open(io.BytesIO(flat))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert min(image.getpixel((0, 0))) >= 250 and min(image.getpixel((63, 47))) >= 250
    expected = _cut_out(mode).convert("RGBA").getpixel((32, 24))[:3]
    assert all(abs(a - b) <= 12 for a, b in zip(image.getpixel((32, 24)), expected, strict=True))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_an_image_without_transparency_is_left_as_downloaded(fmt: str) -> None:
    assert flatten_onto_white(_encode(Image.new("RGB", (8, 8), (10, 20, 30)), fmt)) is None
