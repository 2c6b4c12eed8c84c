"""
``reuse=True`` on the operator, in real DAG runs (``dag.test()``) against the emulator.

The judge is the emulator: its charge counter (paid generations) and its asset store (uploads).
Expected counts come from each scenario (how many requests are new), never from the code.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from airflow.sdk import DAG, Asset, ObjectStoragePath

from airflow_provider_onemin.exceptions import OneMinConfigurationError
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import run_dag

# What differs between minors: XComs of mapped tasks, asset events, None XComs (3.0).
pytestmark = pytest.mark.compat

PHOTOS = Path(__file__).resolve().parents[2] / "dags" / "sample_photos"
START = datetime(2026, 1, 1)


def paid_and_uploaded(emulator) -> tuple[int, int]:
    snapshot = emulator.snapshot()
    return snapshot["charges"]["total"], snapshot["assets"]


def one_task_dag(dag_id: str, output_dir: Path, image_url: str, **arguments) -> DAG:
    with DAG(dag_id=dag_id, schedule=None, start_date=START) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="a sunlit kitchen counter",
            image_url=image_url,
            num_images=2,
            output_path=str(output_dir),
            outlets=[Asset(f"file://{output_dir}")],
            reuse=True,
            **arguments,
        )
    return dag


def logged(capfd) -> str:
    """What the task logs printed since the last call (dag.test() logs tasks to the console)."""
    out, err = capfd.readouterr()
    return out + err


def asset_event_extras(uri: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri)
            .order_by(AssetEvent.id)
        ).all()
        return [row.extra for row in rows]


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photos" / "mug.png"
    path.parent.mkdir()
    shutil.copy(PHOTOS / "mug.png", path)
    return path


def test_second_run_reuses_the_first_runs_generation(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo, capfd
) -> None:
    dag = one_task_dag("reuse_twice", output_dir, str(photo), seed=11)

    first = run_dag(dag)
    assert first.state == "success", first.tasks
    assert paid_and_uploaded(onemin_emulator) == (1, 1), "the first run uploads the photo and pays once"
    paid = first.task("replace").xcom
    assert paid.get("reused_from") is None  # absent on Airflow 3.0, which stores no None XCom

    logged(capfd)
    second = run_dag(dag)
    log = logged(capfd)
    assert second.state == "success", second.tasks
    assert paid_and_uploaded(onemin_emulator) == (1, 1), "the second run uploads nothing and pays nothing"

    xcom = second.task("replace").xcom
    assert xcom["reused_from"] == {"uuid": paid["ai_record_uuid"], "stored_paths": paid["stored_paths"]}
    assert (xcom["ai_record_uuid"], xcom["seeds"], xcom["return_value"], xcom["result_urls"]) == (
        paid["ai_record_uuid"],
        paid["seeds"],
        paid["return_value"],
        paid["result_urls"],
    )
    assert len(xcom["stored_paths"]) == 2 and set(xcom["stored_paths"]).isdisjoint(paid["stored_paths"])
    assert all(f"/reuse_twice/{second.run_id[:6]}" in p for p in xcom["stored_paths"]), (
        "this run's own folder"
    )
    assert [ObjectStoragePath(p).read_bytes() for p in xcom["stored_paths"]] == [
        ObjectStoragePath(p).read_bytes() for p in paid["stored_paths"]
    ]

    extras = asset_event_extras(f"file://{output_dir}")
    assert [e["reused"] for e in extras] == [False, True]
    assert extras[1]["stored_paths"] == xcom["stored_paths"] and extras[1]["uuid"] == paid["ai_record_uuid"]
    assert f"Reused generation {paid['ai_record_uuid']}" in log
    assert "nothing uploaded, nothing paid; saved 2 image(s)" in log


def test_same_request_from_another_dag_and_a_reexported_photo_is_reused(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo, tmp_path
) -> None:
    run_dag(one_task_dag("reuse_origin", output_dir, str(photo), seed=5))
    assert paid_and_uploaded(onemin_emulator) == (1, 1)

    reexported = tmp_path / "export" / "mug-final.png"
    reexported.parent.mkdir()
    shutil.copy(photo, reexported)
    other = run_dag(one_task_dag("reuse_other_dag", output_dir, f"file://{reexported}", seed=5))
    assert other.state == "success", other.tasks
    assert paid_and_uploaded(onemin_emulator) == (1, 1), "same content, other name, other DAG: reused"
    assert other.task("replace").xcom["reused_from"] is not None


def test_an_edited_photo_or_another_seed_is_paid_for(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo
) -> None:
    run_dag(one_task_dag("reuse_edit", output_dir, str(photo), seed=5))
    data = bytearray(photo.read_bytes())
    data[-20] ^= 0x01
    photo.write_bytes(bytes(data))
    run_dag(one_task_dag("reuse_edit", output_dir, str(photo), seed=5))
    assert paid_and_uploaded(onemin_emulator) == (2, 2), "an edited photo is a new request"
    run_dag(one_task_dag("reuse_edit", output_dir, str(photo), seed=6))
    assert paid_and_uploaded(onemin_emulator) == (3, 3), "another seed is a new request"


def test_a_request_without_a_seed_is_reused_too(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir
) -> None:
    dag = one_task_dag("reuse_no_seed", output_dir, "development/images/mug.png")
    first, second = run_dag(dag), run_dag(dag)
    assert paid_and_uploaded(onemin_emulator) == (1, 0), "an asset path needs no upload; one payment"
    # The emulator derives a missing seed from the request, so equal seeds would not tell a
    # reuse from a second payment: the generation handed out must be the first run's.
    paid = first.task("replace").xcom
    assert second.task("replace").xcom["reused_from"]["uuid"] == paid["ai_record_uuid"], "the earlier pick"
    assert second.task("replace").xcom["seeds"] == paid["seeds"]


def test_deferrable_generation_is_indexed_and_reused(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo
) -> None:
    onemin_emulator.set_latency(0.5)
    dag = one_task_dag("reuse_deferrable", output_dir, str(photo), seed=3, deferrable=True, poll_interval=0.1)
    first = run_dag(dag)
    assert first.state == "success", first.tasks
    # The claim taken before deferring is found again after the trigger, and released once stored.
    claims = list((output_dir / ".onemin-reuse" / "claims").glob("*/*.json"))
    assert sorted(path.name for path in claims) == [
        "000001.claim.json",
        "000001.generation.json",
        "000001.paying.json",
        "000001.released.json",
    ]
    assert (
        json.loads(next(p for p in claims if "released" in p.name).read_text())["why"] == "stored and indexed"
    )
    second = run_dag(dag)
    assert paid_and_uploaded(onemin_emulator) == (1, 1), "indexed after the trigger, reused by the next run"
    assert second.task("replace").xcom["reused_from"]["uuid"] == first.task("replace").xcom["ai_record_uuid"]


def test_dry_run_says_reuse_or_pay_and_sends_nothing(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo, capfd
) -> None:
    run_dag(one_task_dag("reuse_dry_before", output_dir, str(photo), seed=9, dry_run=True))
    assert "Dry run: would pay for 2 image(s): no earlier generation of request" in logged(capfd)
    assert paid_and_uploaded(onemin_emulator) == (0, 0)

    paid = run_dag(one_task_dag("reuse_dry_paid", output_dir, str(photo), seed=9))
    logged(capfd)
    run_dag(one_task_dag("reuse_dry_after", output_dir, str(photo), seed=9, dry_run=True))
    uuid = paid.task("replace").xcom["ai_record_uuid"]
    assert f"Dry run: would reuse generation {uuid} (stored by reuse_dry_paid / " in logged(capfd)
    assert paid_and_uploaded(onemin_emulator) == (1, 1), "the dry runs paid and uploaded nothing"


def test_corrupt_index_record_is_ignored_warned_and_paid_again(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo, caplog
) -> None:
    dag = one_task_dag("reuse_corrupt", output_dir, str(photo), seed=4)
    first = run_dag(dag)
    [record] = list((output_dir / ".onemin-reuse").glob("*.json"))  # claims/ sits beside the records
    record.write_text(record.read_text()[:40])

    with caplog.at_level(logging.WARNING, logger="airflow_provider_onemin"):
        second = run_dag(dag)
    assert second.state == "success", second.tasks
    assert paid_and_uploaded(onemin_emulator) == (2, 2), "the corrupt record is ignored: paid again"
    # The provider's warnings (Airflow's own, such as its plugin manager's, are not this test's).
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("airflow_provider_onemin")
    ]
    assert len(warnings) == 1, warnings
    assert f"file://{record} is ignored: it is not valid JSON" in warnings[0]
    assert json.loads(record.read_text())["uuid"] == second.task("replace").xcom["ai_record_uuid"], (
        "the new generation's record replaces the corrupt one"
    )
    assert second.task("replace").xcom["ai_record_uuid"] != first.task("replace").xcom["ai_record_uuid"]
    run_dag(dag)
    assert paid_and_uploaded(onemin_emulator) == (2, 2), "and is reused from then on"


def test_reuse_needs_an_output_path() -> None:
    with pytest.raises(OneMinConfigurationError, match="reuse=True needs output_path"):
        BackgroundReplacerOperator(task_id="t", prompt="p", image_url="development/images/m.png", reuse=True)
