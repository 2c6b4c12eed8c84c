"""Real images for the renditions tests, drawn with Pillow; every expected value comes from here."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

#: The product's colours: a red body with a blue label band.
BODY = (200, 40, 40)
LABEL = (30, 60, 190)


def cutout(
    path: Path, size: tuple[int, int] = (1200, 1200), box: tuple[int, int, int, int] = (150, 250, 1150, 1050)
) -> Path:
    """A cut-out: transparent everywhere but the product (``box``), the Background Remover's kind."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle(box, fill=(*BODY, 255))
    left, top, right, bottom = box
    middle = (top + bottom) // 2
    draw.rectangle(
        (left, middle - (bottom - top) // 8, right, middle + (bottom - top) // 8), fill=(*LABEL, 255)
    )
    image.save(path)
    return path


def on_scene(
    cut: Path, path: Path, scene: tuple[int, int, int] = (120, 170, 110), recolour: bool = False
) -> Path:
    """The cut-out's product on a new opaque background: what a faithful replacer returns."""
    product = Image.open(cut).convert("RGBA")
    if recolour:  # the red body turned blue, the label turned red: the product is not the product
        red, green, blue, alpha = product.split()
        product = Image.merge("RGBA", (blue, green, red, alpha))
    scene_image = Image.new("RGBA", product.size, (*scene, 255))
    Image.alpha_composite(scene_image, product).convert("RGB").save(path)
    return path


def photo(
    path: Path,
    size: tuple[int, int] = (2048, 1024),
    border: tuple[int, int, int] = (70, 110, 160),
    product: tuple[int, int, int, int] = (1500, 300, 1900, 800),
    **save: object,
) -> Path:
    """An opaque photo: a flat backdrop with a yellow product, off-centre by default."""
    image = Image.new("RGB", size, border)
    ImageDraw.Draw(image).rectangle(product, fill=(240, 210, 20))
    image.save(path, **save)
    return path


def non_white_box(data: bytes, tolerance: int = 40) -> tuple[int, int, int, int] | None:
    """The test's own measure: the box of pixels further than ``tolerance`` from white in any channel."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    low = 255 - tolerance
    mask = image.point(lambda v: 255 if v < low else 0).convert("L").point(lambda v: 255 if v else 0)
    return mask.getbbox()


def swapped_profile() -> bytes:
    """
    An RGB colour profile that is not sRGB: sRGB's with the red and blue primaries swapped, so a
    pixel (255, 0, 0) tagged with it is sRGB's (0, 0, 255). Built by editing the ICC tag table.
    """
    import struct

    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    entries = {
        bytes(data[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i
        for i in range(struct.unpack(">I", data[128:132])[0])
    }
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    data[red + 4 : red + 12], data[blue + 4 : blue + 12] = (
        data[blue + 4 : blue + 12],
        data[red + 4 : red + 12],
    )
    data[84:100] = bytes(16)  # the profile id no longer matches: leave it unset
    return bytes(data).replace("sRGB".encode("utf-16-be"), "swap".encode("utf-16-be"))
