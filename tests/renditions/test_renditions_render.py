"""
Rendering real images made with Pillow (tests/renditions/rendition_images.py) into presets, judged
by reading the stored files back: sizes, formats, where the product is, the background, colours.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PIL import Image

from airflow_provider_onemin.exceptions import OneMinRenditionError
from airflow_provider_onemin.renditions.batch import Names, run_batch
from airflow_provider_onemin.renditions.presets import resolve_channels
from tests.renditions.rendition_images import BODY, cutout, non_white_box, photo, swapped_profile

LOG = logging.getLogger(__name__)
NAMES = Names("dag", "manual__2026-01-01T00:00:00+00:00", "renditions", -1)


def _run(images: list[Path], channels: list, out: Path, masks=None, threshold: float = 0.08):
    return run_batch(
        [str(p) for p in images],
        resolve_channels(channels),
        str(out),
        NAMES,
        conn_id=None,
        masks=masks or [None] * len(images),
        threshold=threshold,
        log=LOG,
    )


def _read(uri: str) -> Image.Image:
    return Image.open(uri.removeprefix("file://"))


def test_amazon_main_from_a_cut_out_is_white_centred_and_fills_85_percent(tmp_path: Path) -> None:
    source = cutout(tmp_path / "cut.png")  # product box 1000 x 800 in 1200 x 1200
    stored, reports = _run([source], ["amazon_main"], tmp_path / "out")
    (uri,) = stored["amazon_main"]
    assert uri.endswith("/renditions/amazon_main/image-0.jpg")
    image = _read(uri)
    assert (image.format, image.size) == ("JPEG", (2000, 2000))
    rgb = image.convert("RGB")
    ring = [
        rgb.crop(box)
        for box in ((0, 0, 2000, 1), (0, 1999, 2000, 2000), (0, 0, 1, 2000), (1999, 0, 2000, 2000))
    ]
    assert all(low >= 253 for strip in ring for low, _ in strip.getextrema()), "pure white border"
    left, top, right, bottom = non_white_box(Path(uri.removeprefix("file://")).read_bytes())
    assert max(right - left, bottom - top) >= 0.85 * 2000, "the product fills at least 85 % of the frame"
    assert abs(left - (2000 - right)) <= 4 and abs(top - (2000 - bottom)) <= 4, "centred"
    # The product's colour is kept: the body just inside its top edge.
    pixel = rgb.getpixel(((left + right) // 2, top + 20))
    assert all(abs(a - b) <= 8 for a, b in zip(pixel, BODY, strict=True)), pixel
    (report,) = reports["amazon_main"]
    assert report["background_check"]["passed"] is True
    assert report["measured_coverage"] >= 0.85
    # 1000 px of product spread over 0.9 x 2000 px: enlarged 1.8 x, said so.
    assert report["upscale"] == pytest.approx(1.8, abs=0.01)
    assert any("enlarged" in note for note in report["notes"])


def test_amazon_main_refuses_an_opaque_coloured_photo_before_anything_is_written(tmp_path: Path) -> None:
    coloured = photo(tmp_path / "photo.jpg", size=(2000, 2000), product=(300, 300, 1700, 1700))
    white = photo(
        tmp_path / "white.jpg", size=(2000, 2000), border=(255, 255, 255), product=(100, 100, 1900, 1900)
    )
    out = tmp_path / "out"
    with pytest.raises(OneMinRenditionError) as caught:
        _run([white, coloured], ["web_thumbnail", "amazon_main"], out)
    (line,) = caught.value.violations
    assert line.startswith("channels amazon_main: images[1]")
    assert "no transparency" in line and "Background Remover" in line
    assert not out.exists(), "nothing written, not even the good renditions"
    # The white-bordered one alone is accepted.
    stored, _ = _run([white], ["amazon_main"], out)
    assert _read(stored["amazon_main"][0]).size == (2000, 2000)


def test_a_source_needing_more_than_2x_is_refused_before_any_pixel_is_decoded(tmp_path: Path) -> None:
    small = photo(tmp_path / "small.png", size=(900, 600), product=(300, 200, 600, 400))
    fine = photo(tmp_path / "fine.png", size=(1200, 800), product=(300, 200, 900, 600))
    out = tmp_path / "out"
    with pytest.raises(OneMinRenditionError) as caught:
        _run([fine, small], ["amazon_lifestyle"], out)
    (line,) = caught.value.violations
    # 2000 / 900: the test's own arithmetic.
    assert (
        line.startswith(f"images[1]: {small} is 900x600; amazon_lifestyle") and f"{2000 / 900:.2f}x" in line
    )
    assert not out.exists()
    stored, reports = _run([fine], ["amazon_lifestyle"], out)
    assert _read(stored["amazon_lifestyle"][0]).size == (2000, 1333)
    assert reports["amazon_lifestyle"][0]["upscale"] == pytest.approx(2000 / 1200, abs=0.01)


def test_cover_crops_around_the_product_not_the_centre(tmp_path: Path) -> None:
    # 2048 x 1024, the product at x 1500..1900. A 9:16 crop of the centre spans x 736..1312: no product.
    source = photo(tmp_path / "photo.jpg", quality=92)
    stored, reports = _run([source], ["instagram_story", "instagram_portrait"], tmp_path / "out")
    for channel, size in (("instagram_story", (1080, 1920)), ("instagram_portrait", (1080, 1350))):
        image = _read(stored[channel][0]).convert("RGB")
        assert image.size == size
        yellow = image.point(lambda v: 255 if v > 180 else 0).split()
        product = Image.merge("RGB", yellow).convert("L").point(lambda v: 255 if v > 150 else 0).getbbox()
        assert product is not None, f"{channel}: the product is in the frame"
        assert product[0] > 0 and product[2] < size[0], f"{channel}: the whole product, not a slice of it"
        if channel == "instagram_story":  # a 576 px wide window fits around the product: centred
            assert abs((product[0] + product[2]) / 2 - size[0] / 2) < size[0] * 0.05, "centred on it"
        else:  # an 819 px window centred on it would pass the image's right edge: it stops there
            assert size[0] - product[2] == pytest.approx((2048 - 1900) * 1350 / 1024, abs=4)
        assert reports[channel][0]["product_box"] == "border-colour heuristic"


def test_contain_pads_with_the_edge_colour_or_the_stated_one(tmp_path: Path) -> None:
    border = (70, 110, 160)
    source = photo(tmp_path / "photo.png", border=border)
    custom = {
        "name": "black_png",
        "width": 600,
        "height": 600,
        "fit": "contain",
        "format": "png",
        "background": [0, 0, 0],
    }
    stored, _ = _run([source], ["shopify_square", custom], tmp_path / "out")
    square = _read(stored["shopify_square"][0]).convert("RGB")
    assert square.size == (2048, 2048)
    # 2048 x 1024 fitted: 512 px of padding above and below.
    for point in ((10, 10), (1024, 500), (2040, 2040)):
        assert all(abs(a - b) <= 3 for a, b in zip(square.getpixel(point), border, strict=True)), point
    black = _read(stored["black_png"][0])
    assert (black.format, black.size) == ("PNG", (600, 600))
    assert black.convert("RGB").getpixel((5, 5)) == (0, 0, 0)
    assert black.convert("RGB").getpixel((5, 300)) == border


def test_colours_become_srgb_and_metadata_is_stripped(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x8825] = {2: (52.0, 31.0, 12.0)}  # a GPS position: what a shop must not publish
    source = tmp_path / "tagged.jpg"
    Image.new("RGB", (1200, 1200), (255, 0, 0)).save(
        source, quality=95, icc_profile=swapped_profile(), exif=exif, xmp=b"<x:xmpmeta>secret</x:xmpmeta>"
    )
    stored, reports = _run([source], ["web_thumbnail", "amazon_lifestyle"], tmp_path / "out")
    for channel in ("web_thumbnail", "amazon_lifestyle"):
        image = _read(stored[channel][0])
        assert not image.info.get("icc_profile") and not image.info.get("exif") and not image.info.get("xmp")
        assert b"CameraMaker" not in Path(stored[channel][0].removeprefix("file://")).read_bytes()
        red, green, blue = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
        # Red in the swapped profile is sRGB's blue.
        assert blue > 200 and red < 40, (channel, (red, green, blue))
        assert any("converted to sRGB" in note for note in reports[channel][0]["notes"])


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_metadata_of_an_srgb_source_is_stripped(tmp_path: Path, suffix: str) -> None:
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / f"srgb{suffix}"
    Image.new("RGB", (800, 800), (10, 120, 200)).save(
        source, exif=exif, xmp=b"<x:xmpmeta>secret</x:xmpmeta>", icc_profile=srgb
    )
    assert Image.open(source).info.get("icc_profile") == srgb, "the source carries a profile"
    stored, _ = _run([source], ["web_thumbnail", {**_SMALL_JPEG}], tmp_path / "out")
    for uris in stored.values():
        data = Path(uris[0].removeprefix("file://")).read_bytes()
        assert b"CameraMaker" not in data and b"xmpmeta" not in data
        info = Image.open(uris[0].removeprefix("file://")).info
        assert not info.get("exif") and not info.get("icc_profile"), "no EXIF, no profile"


_SMALL_JPEG = {"name": "small_jpeg", "width": 300, "height": 300, "fit": "cover", "format": "jpeg"}


def test_jpeg_quality_is_settable(tmp_path: Path) -> None:
    source = photo(tmp_path / "photo.png", size=(1600, 1600), product=(200, 200, 1400, 1400))
    low = {"name": "low", "width": 800, "height": 800, "fit": "cover", "format": "jpeg", "quality": 20}
    high = {**low, "name": "high", "quality": 95}
    _, reports = _run([source], [low, high], tmp_path / "out")
    assert reports["low"][0]["bytes"] < reports["high"][0]["bytes"]
    assert (reports["low"][0]["quality"], reports["high"][0]["quality"]) == (20, 95)


def test_a_white_product_on_white_breaks_amazon_main_loudly(tmp_path: Path) -> None:
    # A cut-out whose product is white: on a white frame nothing of it shows, so it cannot fill 85 %.
    source = tmp_path / "white_mug.png"
    image = Image.new("RGBA", (1200, 1200), (0, 0, 0, 0))
    image.paste((252, 252, 252, 255), (100, 100, 1100, 1100))
    image.save(source)
    out = tmp_path / "out"
    with pytest.raises(OneMinRenditionError) as caught:
        _run([source], ["amazon_main"], out)
    (line,) = caught.value.violations
    assert line.startswith("channels amazon_main: images[0]") and "the channel needs 85%" in line
    assert not out.exists()


def test_a_jpeg_is_decoded_at_reduced_size_when_every_preset_allows(tmp_path: Path) -> None:
    from airflow_provider_onemin.renditions.batch import _decode_size
    from airflow_provider_onemin.renditions.render import decode

    source = photo(tmp_path / "big.jpg", size=(2048, 2048), product=(500, 500, 1500, 1500))
    thumbnail = resolve_channels(["web_thumbnail"])
    # 400 px of 2048: the decoder's 1/4 step (512 px) is the smallest that still has 400.
    assert decode(source.read_bytes(), _decode_size(thumbnail, (2048, 2048))).image.size == (512, 512)
    both = resolve_channels(["web_thumbnail", "amazon_main"])
    assert _decode_size(both, (2048, 2048)) is None, "amazon_main needs the full-size product"
    stored, _ = _run([source], ["web_thumbnail"], tmp_path / "out")
    assert _read(stored["web_thumbnail"][0]).size == (400, 400)


def _busy_scene_and_cut_out(folder: Path, size: tuple[int, int]) -> tuple[Path, Path]:
    """A generated scene with a noisy border (the heuristic finds no product in it) and a magenta
    product at x 1500..1900, y 300..800; and the cut-out of that product (same framing)."""
    box = (1500, 300, 1900, 800)
    scene = Image.effect_noise(size, 90).convert("RGB")
    scene.paste((230, 0, 230), box)
    scene_path = folder / "scene.png"
    scene.save(scene_path)
    cut = Image.new("RGBA", size, (0, 0, 0, 0))
    cut.paste((230, 0, 230, 255), box)
    cut_path = folder / "cut.png"
    cut.save(cut_path)
    return scene_path, cut_path


def _magenta_box(uri: str) -> tuple[int, int, int, int] | None:
    red, green, blue = _read(uri).convert("RGB").split()
    magenta = (
        Image.merge(
            "RGB",
            (
                red.point(lambda v: 255 if v > 200 else 0),
                green.point(lambda v: 255 if v < 40 else 0),
                blue.point(lambda v: 255 if v > 200 else 0),
            ),
        )
        .convert("L")
        .point(lambda v: 255 if v > 250 else 0)
    )
    return magenta.getbbox()


def test_a_scene_s_cut_out_tells_cover_where_the_product_is(tmp_path: Path) -> None:
    scene, cut = _busy_scene_and_cut_out(tmp_path, (2048, 1024))
    stored, reports = _run([scene], ["instagram_story"], tmp_path / "out", masks=[str(cut)])
    # A 9:16 window of the 1024 px high scene is 576 px wide; around the product's centre (x 1700)
    # it spans x 1412..1988, so the whole product is in the frame, centred, scaled 1920/1024.
    box = _magenta_box(stored["instagram_story"][0])
    assert box is not None, "the product is in the frame"
    assert box[0] == pytest.approx((1500 - 1412) * 1920 / 1024, abs=3)
    assert box[2] == pytest.approx((1900 - 1412) * 1920 / 1024, abs=3)
    assert reports["instagram_story"][0]["product_box"] == "product mask"

    # Without the cut-out the busy border hides the product: the crop is the centre (x 736..1312).
    stored, reports = _run([scene], ["instagram_story"], tmp_path / "plain")
    assert _magenta_box(stored["instagram_story"][0]) is None
    assert reports["instagram_story"][0]["product_box"] == "border-colour heuristic"


def test_a_cut_out_of_another_framing_is_not_used_to_place_the_crop(tmp_path: Path) -> None:
    scene, _ = _busy_scene_and_cut_out(tmp_path, (2048, 1024))
    square = tmp_path / "square-cut.png"
    cut = Image.new("RGBA", (1024, 1024), (0, 0, 0, 0))
    cut.paste((230, 0, 230, 255), (700, 300, 1000, 800))  # a product at the right, in a square photo
    cut.save(square)
    stored, reports = _run([scene], ["instagram_story"], tmp_path / "out", masks=[str(square)])
    assert reports["instagram_story"][0]["product_box"] == "border-colour heuristic"
    assert _magenta_box(stored["instagram_story"][0]) is None
