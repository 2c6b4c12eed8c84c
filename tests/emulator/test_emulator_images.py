"""The emulator's deterministic background replacement (Pillow only, no server)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from emulator_helpers import decode, encode, product_on_white, product_with_alpha
from PIL import Image

from airflow_provider_onemin.emulator import images

SAMPLES = Path(__file__).resolve().parents[2] / "dags" / "sample_photos"


def _far_from(colour: tuple[int, int, int], pixel: tuple[int, ...]) -> bool:
    return math.dist(colour, pixel[:3]) > images.BACKGROUND_DISTANCE


def test_same_request_same_bytes() -> None:
    source = encode(product_on_white())
    # Drawn twice (render_result would answer the second from its cache).
    first = images.draw_result(source, "a beach at dawn", 42, 0)
    assert images.draw_result(source, "a beach at dawn", 42, 0) == first
    assert images.render_result(source, "a beach at dawn", 42, 0) == first


def test_a_kept_result_is_served_only_for_its_own_source_prompt_seed_and_index(monkeypatch) -> None:
    drawn = []
    draw = images.draw_result
    monkeypatch.setattr(images, "draw_result", lambda *args: drawn.append(args[1:]) or draw(*args))
    red, blue = (encode(product_on_white((301, 203), colour)) for colour in ((200, 30, 30), (30, 30, 200)))
    first = images.render_result(red, "a quay at noon", 5, 0)
    assert images.render_result(red, "a quay at noon", 5, 0) == first
    assert drawn == [("a quay at noon", 5, 0)], "the second answer is the kept one"
    other = images.render_result(blue, "a quay at noon", 5, 0)
    assert other != first and len(drawn) == 2, "another source, same prompt, seed and index"
    assert decode(other).getpixel((90, 101)) == (30, 30, 200), "the blue product, not the red one"
    for variant in (("a quay at dusk", 5, 0), ("a quay at noon", 6, 0), ("a quay at noon", 5, 1)):
        assert images.render_result(red, *variant) not in (first, other)
    assert len(drawn) == 5


def test_a_kept_cut_out_is_served_only_for_its_own_source_and_format() -> None:
    red, blue = (encode(product_on_white((303, 207), colour)) for colour in ((200, 30, 30), (30, 30, 200)))
    png = images.render_cutout(red, "png")
    assert images.render_cutout(red, "png") == png == images.draw_cutout(red, "png")
    assert images.render_cutout(blue, "png") != png
    assert images.render_cutout(red, "webp")[:4] == b"RIFF", "a WebP, not the kept PNG"


@pytest.mark.parametrize(
    ("prompt", "seed", "index"),
    [("a beach at night", 42, 0), ("a beach at dawn", 43, 0), ("a beach at dawn", 42, 1)],
)
def test_another_prompt_seed_or_index_gives_another_picture(prompt: str, seed: int, index: int) -> None:
    source = encode(product_on_white())
    reference = images.render_result(source, "a beach at dawn", 42, 0)
    assert images.render_result(source, prompt, seed, index) != reference


def test_a_source_is_segmented_once_for_all_its_results_and_its_cut_out(monkeypatch) -> None:
    calls = []
    segment = images.segment_background
    monkeypatch.setattr(
        images, "segment_background", lambda image: calls.append(image.size) or segment(image)
    )
    source = encode(product_on_white((331, 217)))  # a size no other test uses: not segmented yet
    results = {images.render_result(source, "a forest", 7, index) for index in range(3)}
    images.render_cutout(source, "png")
    assert len(results) == 3
    assert calls == [(331, 217)], "one segmentation for three images and a cut-out of one source"


def test_a_remembered_mask_is_never_used_for_another_picture() -> None:
    """Two sources of one size, the object moved: each result keeps its own object, pixel for pixel."""
    left = product_on_white((320, 240))
    right = Image.new("RGB", left.size, (255, 255, 255))
    right.paste(left.crop((0, 0, 240, 240)), (80, 0))
    white = (255, 255, 255)
    for source in (left, right, left):
        result = decode(images.render_result(encode(source), "a forest", 7, 0))
        for before, after in zip(source.getdata(), result.getdata(), strict=True):
            if _far_from(white, before):
                assert after == before, "every pixel of this source's object is kept"
        # Where only the other source has its object, this one's white background is replaced.
        only_other = (300, 120) if source is left else (100, 120)
        assert source.getpixel(only_other) == white
        assert result.getpixel(only_other) != white, "the other source's mask was not used"


def test_plain_background_foreground_kept_pixel_for_pixel() -> None:
    source = product_on_white()
    result = decode(images.render_result(encode(source), "a forest", 7, 0))
    assert result.size == source.size
    assert result.mode == "RGB"
    white = (255, 255, 255)
    kept = changed = 0
    for before, after in zip(source.getdata(), result.getdata(), strict=True):
        if _far_from(white, before):
            assert after == before
            kept += 1
        elif after != before:
            changed += 1
    assert kept > 10_000
    assert changed > 0.5 * (source.width * source.height - kept)
    # The white window inside the object is enclosed: foreground, copied as is.
    centre = (source.width // 2, source.height // 2)
    assert result.getpixel(centre) == (255, 255, 255)
    assert result.getpixel((0, 0)) != (255, 255, 255)


def test_alpha_foreground_kept_and_partial_alpha_blended() -> None:
    source = product_with_alpha()
    result = decode(images.render_result(encode(source), "a marble table", 3, 0))
    background = images.draw_background(source.size, "a marble table", 3, 0)
    assert result.size == source.size
    for x, y in [(150, 100), (100, 50), (199, 150)]:  # opaque object
        assert result.getpixel((x, y)) == source.getpixel((x, y))[:3]
    assert result.getpixel((5, 5)) == background.getpixel((5, 5))  # transparent: new background
    shadow, under = result.getpixel((5, 180)), background.getpixel((5, 180))  # alpha 128 black
    assert all(abs(s - u / 2) <= 2 for s, u in zip(shadow, under, strict=True))
    opaque = [
        (pixel[:3], after)
        for pixel, after in zip(source.getdata(), result.getdata(), strict=True)
        if pixel[3] == 255
    ]
    assert opaque and all(before == after for before, after in opaque)


def test_fully_opaque_alpha_channel_uses_segmentation() -> None:
    source = product_on_white().convert("RGBA")
    result = decode(images.render_result(encode(source), "a desk", 1, 0))
    assert result.getpixel((0, 0)) != (255, 255, 255)
    assert result.getpixel((source.width // 2, int(source.height * 0.25))) == (200, 30, 30)


@pytest.mark.parametrize("name", ["mug.png", "sneaker.jpg", "bottle.webp"])
def test_sample_photos_keep_their_product(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    assert len(data) < 64 * 1024
    source = decode(data)
    # Large enough for the 2048 px channel presets (at most 2x enlargement), small enough to be cheap.
    assert 1024 <= max(source.size) <= 1600
    result = decode(images.render_result(data, "a sunny kitchen", 5, 0))
    assert result.size == source.size
    rgb = source.convert("RGB")
    assert result.getpixel((2, 2)) != rgb.getpixel((2, 2))
    centre = (source.width // 2, source.height // 2)
    assert result.getpixel(centre) == rgb.getpixel(centre)


def test_large_result_keeps_the_source_size() -> None:
    # No timing assertion here (the machine is shared): how long it takes is a benchmark's job.
    source = encode(product_on_white((1024, 1024)))
    result = images.render_result(source, "a city street", 9, 0)
    assert decode(result).size == (1024, 1024)


def test_synthetic_product_is_deterministic_per_path() -> None:
    mug = images.synthetic_product("development/images/mug.png")
    assert images.synthetic_product("development/images/mug.png") == mug
    assert images.synthetic_product("development/images/portrait.png") != mug
    assert decode(mug).size == (images.SYNTHETIC_SIZE, images.SYNTHETIC_SIZE)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not an image", "could not be read"),
        (encode(Image.new("RGB", (8, 8)), "GIF"), "not JPEG, PNG or WebP"),
    ],
)
def test_unusable_source_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(images.SourceImageError, match=reason):
        images.render_result(data, "x", 1, 0)
    with pytest.raises(images.SourceImageError, match=reason):
        images.source_size(data)
