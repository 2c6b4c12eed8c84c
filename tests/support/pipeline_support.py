"""The shipped marketing pipeline (dags/marketing_asset_pipeline.py), loaded the way its tests need it."""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path

from airflow.sdk import ObjectStoragePath

from tests.support.airflow_helpers import REPO

DAGS = REPO / "dags"
DAG_FILE = DAGS / "marketing_asset_pipeline.py"


def load_pipeline(monkeypatch, output_dir: Path, catalogue: Path | None = None):
    """The DAG module, imported with its output folder (and catalogue) pointed at this test's."""
    monkeypatch.setenv("ONEMIN_OUTPUT_PATH", str(output_dir))
    if catalogue is not None:
        monkeypatch.setenv("ONEMIN_CATALOGUE", str(catalogue))
    spec = importlib.util.spec_from_file_location("marketing_asset_pipeline_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_catalogue(folder: Path, extra_rows: str = "") -> Path:
    """The shipped catalogue and its photos, copied to ``folder`` (plus ``extra_rows``)."""
    shutil.copytree(DAGS / "sample_photos", folder / "sample_photos")
    catalogue = folder / "catalogue.csv"
    catalogue.write_text((DAGS / "marketing_catalogue.csv").read_text() + extra_rows)
    return catalogue


def open_image(uri: str):
    """A stored image, opened with Pillow from its plain URI (loaded, so its file is closed)."""
    from PIL import Image

    with ObjectStoragePath(uri).open("rb") as handle:
        image = Image.open(handle)
        image.load()
    return image


def review_rows(out: Path, run_id: str) -> list[dict[str, str]]:
    """The rows of a pipeline run's review manifest (``review.csv``) under the output folder ``out``."""
    from airflow_provider_onemin.storage.results import safe_part

    with (out / "marketing_asset_pipeline" / safe_part(run_id) / "review.csv").open() as manifest:
        return list(csv.DictReader(manifest))
