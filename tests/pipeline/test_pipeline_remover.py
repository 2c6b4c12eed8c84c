"""
A pipeline's cost preview (``preview_costs``) for Background Remover lines: each line is one
image, counted toward ``max_new_images`` like a replacer's, and the preview finds what a real
``reuse=True`` run of the remover stored (it names the request as the operator does).
"""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from airflow.sdk import DAG
from PIL import Image, ImageDraw

from airflow_provider_onemin.exceptions import OneMinCostCapError, OneMinValidationError
from airflow_provider_onemin.operators.background_remover import BackgroundRemoverOperator
from airflow_provider_onemin.pipeline import preview_costs
from tests.support.airflow_helpers import run_dag

REMOVER = "BACKGROUND_REMOVER"


def _photo(path, colour) -> str:
    image = Image.new("RGB", (120, 90), (236, 236, 234))
    ImageDraw.Draw(image).rectangle((40, 30, 80, 60), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def test_each_remover_line_is_one_image_and_counts_toward_the_cap(tmp_path, output_dir) -> None:
    photos = [_photo(tmp_path / f"p{i}.png", (200, 30 * i, 30)) for i in range(3)]
    lines = [{"image_url": photo} for photo in photos] + [{"image_url": photos[0], "output_format": "webp"}]

    cost = preview_costs(str(output_dir), lines, feature=REMOVER)

    assert (cost.new_generations, cost.new_images, cost.reused) == (4, 4, 0)
    cost.check_cap(4)
    with pytest.raises(OneMinCostCapError, match="would pay for 4 new image"):
        cost.check_cap(3)


def test_a_bad_remover_line_is_refused_naming_the_field(tmp_path, output_dir) -> None:
    photo = _photo(tmp_path / "p.png", (200, 30, 30))
    with pytest.raises(OneMinValidationError, match="Background Remover request for model stable-image"):
        preview_costs(str(output_dir), [{"image_url": photo, "output_format": "gif"}], feature=REMOVER)


def test_the_preview_finds_what_a_reuse_run_of_the_remover_stored(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, tmp_path
) -> None:
    paid, new = _photo(tmp_path / "paid.png", (200, 30, 30)), _photo(tmp_path / "new.png", (30, 30, 200))
    with DAG(dag_id="remover_preview", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        BackgroundRemoverOperator(task_id="cut", image_url=paid, output_path=str(output_dir), reuse=True)
    assert run_dag(dag).state == "success"
    assert onemin_emulator.charges() == 1

    cost = preview_costs(str(output_dir), [{"image_url": paid}, {"image_url": new}], feature=REMOVER)

    assert (cost.reused, cost.new_images) == (1, 1), "the paid cut-out is found, the new photo would be paid"
