"""Builders shared by the emulator tests: request bodies and test images."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw


def feature_body(
    prompt: str = "a sunny beach", image_url: str = "development/images/mug.png", **fields: Any
) -> dict[str, Any]:
    """A valid Background Replacer body; ``fields`` go into promptObject (``async_`` goes top level)."""
    is_async = fields.pop("async_", None)
    body: dict[str, Any] = {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {"prompt": prompt, "imageUrl": image_url, "num_images": 1, **fields},
    }
    if is_async is not None:
        body["async"] = is_async
    return body


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def product_on_white(
    size: tuple[int, int] = (320, 240), colour: tuple[int, int, int] = (200, 30, 30)
) -> Image.Image:
    """A (red) object with an enclosed white window and a dark outline, on plain white."""
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.ellipse(
        (width * 0.2, height * 0.15, width * 0.8, height * 0.85),
        fill=colour,
        outline=(20, 20, 20),
        width=3,
    )
    draw.rectangle((width * 0.42, height * 0.4, width * 0.58, height * 0.6), fill=(255, 255, 255))
    return image


def product_with_alpha(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """A blue object on full transparency, with a half-transparent shadow band."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle((0, height - 30, width, height - 10), fill=(0, 0, 0, 128))
    draw.rounded_rectangle(
        (width * 0.3, height * 0.2, width * 0.7, height * 0.8), radius=12, fill=(30, 60, 200, 255)
    )
    return image
