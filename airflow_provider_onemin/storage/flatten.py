"""
Flattening a transparent result onto white, for a format without an alpha channel (JPEG).

Pillow is imported here only, when a task stores such a result.
"""

from __future__ import annotations

import io

#: What a transparent pixel becomes in a flattened result.
WHITE = (255, 255, 255)
JPEG_QUALITY = 95


def has_alpha(image: object) -> bool:
    """True when the Pillow ``image`` carries transparency (an alpha channel or a transparent colour)."""
    mode = getattr(image, "mode", "")
    return mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in getattr(image, "info", {})
    )


def flatten_onto_white(data: bytes) -> bytes | None:
    """
    The JPEG of ``data`` composited onto white, or ``None`` when ``data`` has no transparency
    (nothing to flatten: it is stored as downloaded).

    :param data: the downloaded image (PNG, WebP or JPEG).
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        if not has_alpha(image):
            return None
        rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (*WHITE, 255))
    flat = Image.alpha_composite(white, rgba).convert("RGB")
    buffer = io.BytesIO()
    flat.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
