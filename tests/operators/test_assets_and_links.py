"""
Asset events and the extra link, from one real DAG run against the emulator.

The producer DAG has three tasks: a literal ``output_path`` (the operator declares the folder's
asset as its outlet), a templated one announced through an ``AssetAlias``, and one that stores
nothing. A consumer DAG is scheduled on the first task's ``output_asset``. The run must record
the asset events with their extra in the metadata DB, queue the consumer (AssetDagRunQueue),
and record the "1min.ai result" link of each task in XCom.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from airflow.sdk import DAG, Asset, AssetAlias, ObjectStoragePath, task

from airflow_provider_onemin.links.results import OneMinResultLink
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import DagRunResult, airflow_version, register_dags, run_dag

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat

SAMPLE = Path(__file__).resolve().parents[2] / "dags" / "sample_photos" / "mug.png"
START = datetime(2026, 1, 1)
ALIAS = "onemin-test-results-by-folder"
LINK_KEY = OneMinResultLink().xcom_key


@pytest.fixture(scope="module")
def outputs_run(airflow_db, onemin_emulator_server, tmp_path_factory) -> Iterator[dict[str, Any]]:
    from airflow_provider_onemin.emulator.pytest_plugin import CONN_ENV_VAR, FAST_TEST_EXTRA

    emulator = onemin_emulator_server
    emulator.reset(config=True)
    out = tmp_path_factory.mktemp("assets-out")
    conn = {
        "conn_type": "onemin",
        "host": emulator.url,
        "password": emulator.api_key,
        "extra": FAST_TEST_EXTRA,
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONN_ENV_VAR, json.dumps(conn))
        with DAG(dag_id="onemin_outputs_producer", schedule=None, start_date=START, params={"out": str(out)}):
            stored = BackgroundReplacerOperator(
                task_id="replace",
                prompt="a sunlit kitchen counter",
                image_url=str(SAMPLE),
                num_images=2,
                seed=7,
                output_path=str(out),
            )
            BackgroundReplacerOperator(
                task_id="replace_templated",
                prompt="a snowy forest",
                image_url="development/images/mug.png",
                output_path="{{ params.out }}/by-alias",
                outlets=[AssetAlias(ALIAS)],
            )
            BackgroundReplacerOperator(
                task_id="replace_unstored", prompt="a beach at dawn", image_url="development/images/mug.png"
            )
        producer = stored.dag
        with DAG(
            dag_id="onemin_outputs_consumer",
            schedule=[stored.output_asset],
            start_date=START,
            is_paused_upon_creation=False,
        ) as consumer:

            @task
            def use_results() -> None:
                pass

            use_results()

        register_dags(consumer)
        result = run_dag(producer)
    yield {"result": result, "out": out, "asset": stored.output_asset, "emulator": emulator}


def _events_for(uri: str) -> list[Any]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri)
        ).all()
        return [
            {
                "extra": row.extra,
                "task": row.source_task_id,
                "run_id": row.source_run_id,
                "aliases": [alias.name for alias in row.source_aliases],
            }
            for row in rows
        ]


def test_literal_output_path_declares_its_asset(outputs_run) -> None:
    op = BackgroundReplacerOperator(
        task_id="t", prompt="p", image_url="development/images/mug.png", output_path="/data/out/"
    )
    assert op.outlets == [Asset("file:///data/out")] == [op.output_asset]
    chosen = BackgroundReplacerOperator(
        task_id="u", prompt="p", image_url="development/images/mug.png", output_path="/data/out", outlets=[]
    )
    assert chosen.outlets == [], "outlets given by the user win, even empty"
    templated = BackgroundReplacerOperator(
        task_id="v", prompt="p", image_url="development/images/mug.png", output_path="/data/{{ ds }}"
    )
    assert templated.outlets == [] and templated.output_asset is None
    assert outputs_run["asset"] == Asset(f"file://{outputs_run['out']}")


def test_asset_event_with_extra_is_recorded_and_consumer_queued(outputs_run) -> None:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import select

    result: DagRunResult = outputs_run["result"]
    assert result.state == "success", result.tasks
    xcom = result.task("replace").xcom
    events = _events_for(outputs_run["asset"].uri)
    assert len(events) == 1
    extra = events[0]["extra"]
    assert extra == {
        "prompt": "a sunlit kitchen counter",
        "seed": 7,
        "seeds": [7, 7],
        "uuid": xcom["ai_record_uuid"],
        "count": 2,
        "stored_paths": xcom["stored_paths"],
        "storage_conn_id": None,
    }
    # A None XCom is left out on Airflow 3.0 (its API refuses one); xcom_pull reads None either way.
    assert xcom.get("storage_conn_id") is None, "a local folder needs no connection"
    assert (events[0]["task"], events[0]["run_id"]) == ("replace", result.run_id)
    for path in extra["stored_paths"]:
        assert ObjectStoragePath(path).read_bytes().startswith(b"\x89PNG")
    assert xcom["return_value"] == outputs_run["emulator"].record(xcom["ai_record_uuid"]).result_keys, (
        "return_value stays the API's result paths"
    )
    with create_session() as session:
        queued = session.scalars(
            select(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == "onemin_outputs_consumer")
        ).all()
    assert len(queued) == 1, "the DAG scheduled on the output asset is queued to run"


def test_alias_outlet_announces_the_rendered_folder(outputs_run) -> None:
    result: DagRunResult = outputs_run["result"]
    stored = result.task("replace_templated").xcom["stored_paths"]
    events = _events_for(f"file://{outputs_run['out']}/by-alias")
    assert len(events) == 1
    assert events[0]["aliases"] == [ALIAS]
    extra = events[0]["extra"]
    assert extra["prompt"] == "a snowy forest" and extra["count"] == len(stored) == 1
    assert extra["uuid"] == result.task("replace_templated").xcom["ai_record_uuid"]
    if airflow_version() >= (3, 1):
        assert extra["stored_paths"] == stored and extra["seeds"] == [extra["seed"]]
    else:  # 3.0's API server records an alias event only when its extra holds no list (compat.py)
        assert "stored_paths" not in extra and "seeds" not in extra


def test_result_link_is_recorded_in_xcom(outputs_run) -> None:
    result: DagRunResult = outputs_run["result"]
    stored = result.task("replace").xcom
    run_id = quote(result.run_id, safe="")
    # Stored as file://, which the UI would not render: the link opens the results viewer instead
    # (a same-origin path here, since this test's Airflow has no [api] base_url). Airflow 3.0 has no
    # viewer (docs/viewer.md): there the link stays the stored file's URI.
    assert stored["stored_paths"][0].startswith("file://")
    if airflow_version() >= (3, 1):
        assert stored[LINK_KEY] == f"/onemin/dags/onemin_outputs_producer/runs/{run_id}/tasks/replace"
    else:
        assert stored[LINK_KEY] == stored["stored_paths"][0]
    unstored = result.task("replace_unstored").xcom
    assert "stored_paths" not in unstored
    # Nothing stored: 1min.ai's asset URL of the first result, without a signature (a credential).
    assert unstored[LINK_KEY] == f"{outputs_run['emulator'].url}/asset/{unstored['return_value'][0]}"
    assert outputs_run["emulator"].charges() == 3
