"""What kind of image a file holds, from its first bytes (inputs, stored results and the viewer)."""

from __future__ import annotations


def sniff_image_type(head: bytes) -> str | None:
    """The MIME type of a JPEG, PNG or WebP file from its first bytes, else ``None``."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None
