"""
The product-fidelity score on real images: a faithful result scores about 0, a recoloured or
warped product scores what the test's own arithmetic over how it drew them says.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from airflow_provider_onemin.renditions.compliance import fidelity_score
from tests.renditions.rendition_images import BODY, LABEL, cutout, on_scene

#: The threshold the operator is given in these tests (its default is documented, not assumed).
THRESHOLD = 0.08


def _mean_difference(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / (3 * 255)


@pytest.fixture(scope="module")
def cut(tmp_path_factory) -> Path:
    return cutout(tmp_path_factory.mktemp("fidelity") / "cut.png")  # body 1000 x 800, label 200 rows


def test_the_unchanged_product_on_a_new_scene_scores_about_zero(cut: Path, tmp_path: Path) -> None:
    png = on_scene(cut, tmp_path / "scene.png")
    assert fidelity_score(png.read_bytes(), cut.read_bytes()) <= 0.005
    jpeg = tmp_path / "scene.jpg"
    Image.open(png).save(jpeg, quality=90)
    assert fidelity_score(jpeg.read_bytes(), cut.read_bytes()) < 0.02, "JPEG noise is not a change"
    bigger = tmp_path / "bigger.png"
    Image.open(png).resize((2400, 2400)).save(bigger)
    assert fidelity_score(bigger.read_bytes(), cut.read_bytes()) < 0.02, "another resolution, same framing"


def test_a_recoloured_product_scores_its_colour_change(cut: Path, tmp_path: Path) -> None:
    result = on_scene(cut, tmp_path / "recoloured.png", recolour=True)
    # Red and blue swapped, on the body and the label alike.
    expected = _mean_difference(BODY, BODY[::-1])
    assert _mean_difference(LABEL, LABEL[::-1]) == pytest.approx(expected)
    score = fidelity_score(result.read_bytes(), cut.read_bytes())
    assert score == pytest.approx(expected, abs=0.02)
    assert score > THRESHOLD


def test_a_warped_label_scores_the_share_of_the_product_it_moved(cut: Path, tmp_path: Path) -> None:
    # The label band (rows 550..750 of the body 250..1050) moved down 100 rows: 200 of the body's
    # 800 rows changed between body and label colour.
    image = Image.new("RGB", (1200, 1200), (120, 170, 110))
    draw = ImageDraw.Draw(image)
    draw.rectangle((150, 250, 1150, 1050), fill=BODY)
    draw.rectangle((150, 650, 1150, 850), fill=LABEL)
    result = tmp_path / "warped.png"
    image.save(result)
    expected = 200 / 800 * _mean_difference(BODY, LABEL)
    score = fidelity_score(result.read_bytes(), cut.read_bytes())
    assert score == pytest.approx(expected, rel=0.12)
    assert score > THRESHOLD


def test_a_result_of_another_aspect_ratio_has_no_score(cut: Path, tmp_path: Path) -> None:
    wide = tmp_path / "wide.png"
    Image.open(on_scene(cut, tmp_path / "scene.png")).resize((1600, 1200)).save(wide)
    assert fidelity_score(wide.read_bytes(), cut.read_bytes()) is None
