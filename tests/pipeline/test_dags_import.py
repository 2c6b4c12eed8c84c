"""
Every DAG shipped in dags/ imports cleanly with a real Airflow DagBag, and the simple example DAG
runs (what `make demo` runs, in this process: the matrix runs this on every older minor, while
`make demo` itself, tests/pipeline/test_demo.py, only ever runs on the Airflow its venv resolves).
"""

from __future__ import annotations

import importlib.util

import pytest
from PIL import Image, ImageChops

from tests.support.airflow_helpers import REPO, dagbag_class, run_dag

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat


def test_example_dags_import_without_errors():
    bag = dagbag_class()(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert "onemin_background_replacer_example" in bag.dags
    example = bag.dags["onemin_background_replacer_example"]
    assert {"replace_background", "publish"} <= set(example.task_ids)
    # The downstream task consumes the operator's XCom.
    assert "replace_background" in example.get_task("publish").upstream_task_ids


def test_sample_photos_are_not_parsed_as_dags():
    bag = dagbag_class()(dag_folder=str(REPO / "dags"))
    assert not any("sample_photos" in (dag.fileloc or "") for dag in bag.dags.values())


def test_the_example_dag_stores_two_images_and_hands_them_downstream(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, monkeypatch
):
    # The module reads its output folder when it is imported: point it at this test's first.
    monkeypatch.setenv("ONEMIN_OUTPUT_PATH", str(output_dir))
    spec = importlib.util.spec_from_file_location(
        "onemin_example_under_test", REPO / "dags" / "onemin_background_replacer_example.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    result = run_dag(module.dag)

    assert result.state == "success", result.tasks
    assert onemin_emulator.charges() == 1
    handed = result.task("publish").xcom["return_value"]
    replaced = result.task("replace_background").xcom
    assert handed["results"] == replaced["return_value"] and len(handed["results"]) == 2
    assert handed["stored"] == replaced["stored_paths"] and len(set(handed["stored"])) == 2
    stored = sorted(output_dir.rglob("*.png"))
    assert len(stored) == 2 and not list(output_dir.rglob("*.part"))
    with Image.open(REPO / "dags" / "sample_photos" / "mug.png") as photo:
        alpha, source = photo.getchannel("A"), photo.convert("RGB")
    opaque = alpha.point(lambda a: 255 if a == 255 else 0)
    transparent = alpha.point(lambda a: 255 if a == 0 else 0)
    for path in stored:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == source.size, path
            changed = ImageChops.difference(image.convert("RGB"), source).convert("L")
        changed = changed.point(lambda d: 255 if d else 0)
        assert ImageChops.multiply(changed, opaque).histogram()[255] == 0, "the product is kept as it was"
        regenerated = ImageChops.multiply(changed, transparent).histogram()[255]
        assert regenerated >= transparent.histogram()[255] // 2, "the scene behind it is new"
