"""Every DAG shipped in dags/ imports cleanly with a real Airflow DagBag."""

from __future__ import annotations

import pytest

from tests.support.airflow_helpers import REPO, dagbag_class

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
