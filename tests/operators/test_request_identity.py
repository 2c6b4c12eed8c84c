"""
One identity per paid image (issue 19): real DAG runs (``dag.test()``, real task state store, real
Airflow retries and clears) against the embedded emulator.

The judge is the emulator, not the provider: which source bytes each charged generation was made
from (``Generation.source``: the bytes that reached 1min.ai) and how many generations were
charged. Records written by the previous version are written here literally (their hashes were
taken from records that version wrote), never computed with the code under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from airflow_provider_onemin.submissions.ledger import STATE_KEY, request_hash, submission_store
from tests.support.airflow_helpers import run_dag

PHOTOS = Path(__file__).resolve().parents[2] / "dags" / "sample_photos"
START = datetime(2026, 1, 1)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _charged(emulator) -> list[Any]:
    return [g for g in emulator.records if g.charged]


def _generation(emulator, uuid: str) -> Any:
    (generation,) = [g for g in emulator.records if g.uuid == uuid]
    return generation


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photos" / "photo.png"
    path.parent.mkdir()
    shutil.copy(PHOTOS / "mug.png", path)
    return path


# --- item 1: a photo replaced at the same path between two tries ------------------------------------


class ReexportAfterPaying(BackgroundReplacerOperator):
    """Try 1 pays, saves the uuid, then the photo is re-exported with another product and the
    worker dies (an ordinary exception: Airflow schedules try 2, as after a lost worker)."""

    def __init__(self, *, replacement: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.replacement = replacement

    def _submit(self, ledger: Any, body: dict[str, Any]) -> dict[str, Any]:
        record = super()._submit(ledger, body)
        if ledger.try_number == 1:
            shutil.copy(self.replacement, self.image_url)
            raise RuntimeError("staged worker crash: paid, uuid saved, photo re-exported meanwhile")
        return record


def test_a_photo_replaced_between_tries_never_gets_the_old_generation(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo
) -> None:
    """
    Failed before the fix: try 2 took the record (hashed by path) for the same request, resumed
    the mug's generation, stored it and indexed it under the sneaker's key.
    """
    mug, sneaker = (PHOTOS / "mug.png").read_bytes(), (PHOTOS / "sneaker.jpg").read_bytes()
    with DAG(dag_id="identity_reexport", schedule=None, start_date=START) as dag:
        ReexportAfterPaying(
            task_id="replace",
            prompt="a sunlit kitchen counter",
            image_url=str(photo),
            seed=5,
            output_path=str(output_dir),
            reuse=True,
            retries=1,
            retry_delay=timedelta(0),
            replacement=str(PHOTOS / "sneaker.jpg"),
        )
    result = run_dag(dag)
    task = result.task("replace")
    assert result.state == "success" and task.try_number == 2, result.tasks

    charged = _charged(onemin_emulator)
    assert [g.source for g in charged] == [mug, sneaker], "the mug paid by try 1, the sneaker by try 2"
    delivered = _generation(onemin_emulator, task.xcom["ai_record_uuid"])
    assert delivered.source == sneaker, "the task's result was made from the photo it was given"

    # The index names each generation under the content it was made from, and only that.
    for record_file in (output_dir / ".onemin-reuse").glob("*.json"):
        record = json.loads(record_file.read_text())
        source = _generation(onemin_emulator, record["uuid"]).source
        assert record["request"]["promptObject"]["imageUrl"] == {"sha256": _sha(source)}

    again = run_dag(dag)  # the sneaker once more: served from the index, made from the sneaker
    assert len(_charged(onemin_emulator)) == 2
    assert _generation(onemin_emulator, again.task("replace").xcom["reused_from"]["uuid"]).source == sneaker


# --- item 1: what the previous version wrote still resumes and reuses --------------------------------


class LegacyRecordThenCrash(BackgroundReplacerOperator):
    """Try 1 stands for the previous version: it pays and leaves a record in its format, then dies."""

    def execute(self, context: Any) -> list[str]:
        if context["ti"].try_number > 1:
            return super().execute(context)
        body = self.validate_request()
        uuid = self.hook.run_feature({**body, "async": True})["uuid"]
        submission_store(context).set(
            STATE_KEY,
            {
                # The previous version's request_hash of this task's request (image paths, not content).
                "request_hash": "91b724c6bc87c3f8a6202357946595b2e35c2981dcf0790dcd567c6d15c45cf4",
                "uuid": uuid,
                "submitted_at": "2026-04-15T10:30:00.000+00:00",
                "try_number": 1,
            },
        )
        raise RuntimeError("staged worker crash under the previous version")


def test_a_record_written_by_the_previous_version_resumes_without_paying(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir
) -> None:
    with DAG(dag_id="identity_legacy_record", schedule=None, start_date=START) as dag:
        LegacyRecordThenCrash(
            task_id="replace",
            prompt="legacy record: a quiet harbour",
            image_url="development/images/mug.png",
            seed=5,
            output_path=str(output_dir),
            retries=1,
            retry_delay=timedelta(0),
        )
    result = run_dag(dag)
    task = result.task("replace")
    assert result.state == "success" and task.try_number == 2, result.tasks
    (paid,) = _charged(onemin_emulator)
    assert task.xcom["ai_record_uuid"] == paid.uuid, "the generation on record was resumed, not paid again"


def _legacy_index_record(output_dir: Path, key: str, request: dict[str, Any], files: list[bytes]) -> str:
    """An index record as the previous version wrote it, with its files; returns its uuid."""
    uuid = "0b7c9a5e-4d3f-4e2a-9c1b-8a7f6e5d4c3b"
    folder = output_dir / "old_dag" / "old_run" / "replace"
    folder.mkdir(parents=True)
    paths = []
    for index, data in enumerate(files):
        (folder / f"result-{index}.png").write_bytes(data)
        paths.append(f"old_dag/old_run/replace/result-{index}.png")
    index = output_dir / ".onemin-reuse"
    index.mkdir()
    record = {
        "format": "onemin-reuse/1",
        "key": key,
        "request": request,
        "uuid": uuid,
        "results": [f"development/images/2026_04_15_bg_replace_{uuid}_{i}.png" for i in range(len(files))],
        "result_urls": [f"https://api.1min.ai/upstream/{uuid}/{i}.png" for i in range(len(files))],
        "seeds": [5] * len(files),
        "credit": 90,
        "files": [{"sha256": _sha(data), "size": len(data)} for data in files],
        "copies": [
            {"paths": paths, "dag_id": "old_dag", "run_id": "old_run", "task_id": "replace", "map_index": -1}
        ],
    }
    (index / f"{key}.json").write_text(json.dumps(record, indent=1))
    return uuid


def test_an_index_record_written_by_the_previous_version_is_reused(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo
) -> None:
    # The previous version's key of this request (mug.png's content), and its canonical request.
    key = "f8d059d2d4b39c22eecc9d37b5648f257a230fcd5613dd75ad1ad8f0db6a61cf"
    request = {
        "key_version": 1,
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {
            "prompt": "legacy index: a linen tablecloth",
            "imageUrl": {"sha256": "60189126e27d8c04c81ca632fd104ecb25fdaff6e42db2c06953e0e868d5509b"},
            "num_images": 1,
            "seed": 5,
        },
    }
    uuid = _legacy_index_record(output_dir, key, request, [(PHOTOS / "bottle.webp").read_bytes()])
    # The key names the photo's content: the sample mug as it was when that version wrote the record.
    shutil.copy(Path(__file__).with_name("legacy_mug.png"), photo)
    with DAG(dag_id="identity_legacy_index", schedule=None, start_date=START) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="legacy index: a linen tablecloth",
            image_url=str(photo),
            seed=5,
            output_path=str(output_dir),
            reuse=True,
        )
    result = run_dag(dag)
    assert result.state == "success", result.tasks
    assert _charged(onemin_emulator) == [] and onemin_emulator.snapshot()["assets"] == 0, "nothing paid"
    assert result.task("replace").xcom["reused_from"]["uuid"] == uuid


# --- items 2 and 4: a partial answer is not an answer; the preview and the run agree ----------------


def test_a_partial_answer_indexed_by_the_previous_version_is_paid_for_and_the_preview_says_so(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo
) -> None:
    """Failed before the fix: the preview counted the line as reused and the run served 1 image of 2."""
    from airflow_provider_onemin.reuse.policy import preview

    key = "f22b8be5fb766e21b349b6254d8e8a6ed5bb67827f7905b405acceae381bddcd"
    request = {
        "key_version": 1,
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {
            "prompt": "legacy partial: a marble shelf",
            "imageUrl": {"sha256": "60189126e27d8c04c81ca632fd104ecb25fdaff6e42db2c06953e0e868d5509b"},
            "num_images": 2,
            "seed": 5,
        },
    }
    _legacy_index_record(output_dir, key, request, [(PHOTOS / "bottle.webp").read_bytes()])
    arguments = {
        "prompt": "legacy partial: a marble shelf",
        "image_url": str(photo),
        "num_images": 2,
        "seed": 5,
    }
    plan = preview(str(output_dir), [arguments])
    assert plan.summary() == {
        "lines": 1,
        "already_generated": 0,
        "new_generations": 1,
        "new_images": 2,
        # No connection read here, and the partial answer's record named no credit: unknown.
        "new_credits": 0,
        "unknown_credit_lines": 1,
        "credit_sources": {"unknown": 1},
    }

    with DAG(dag_id="identity_partial_index", schedule=None, start_date=START) as dag:
        BackgroundReplacerOperator(task_id="replace", output_path=str(output_dir), reuse=True, **arguments)
    result = run_dag(dag)
    assert result.state == "success", result.tasks
    assert len(_charged(onemin_emulator)) == 1, "the run pays, as the preview said"
    assert len(result.task("replace").xcom["stored_paths"]) == 2


def test_a_partial_answer_is_stated_and_never_indexed(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo, capfd
) -> None:
    """Failed before the fix: 1 image of 2 was indexed and served to the next identical request."""
    onemin_emulator.add_fault("withheld", endpoint="features", keep=1)
    with DAG(dag_id="identity_partial", schedule=None, start_date=START) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="withheld: a rainy window",
            image_url=str(photo),
            num_images=2,
            seed=5,
            output_path=str(output_dir),
            reuse=True,
        )
    capfd.readouterr()
    first = run_dag(dag)
    out, err = capfd.readouterr()
    assert first.state == "success", first.tasks
    xcom = first.task("replace").xcom
    assert xcom["incomplete"] == {"asked": 2, "returned": 1} and len(xcom["stored_paths"]) == 1
    assert "Asked for 2 image(s) but 1min.ai returned 1" in out + err
    assert not list((output_dir / ".onemin-reuse").glob("*.json")), "nothing indexed"

    second = run_dag(dag)
    assert len(_charged(onemin_emulator)) == 2, "the identical request is paid for: no partial reuse"
    assert len(second.task("replace").xcom["stored_paths"]) == 2
    assert second.task("replace").xcom.get("incomplete") is None


# --- item 4: a success without an image -------------------------------------------------------------


def test_a_success_without_an_image_fails_the_task_without_retries(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, photo, capfd
) -> None:
    """Failed before the fix: the task succeeded with nothing stored."""
    onemin_emulator.add_fault("withheld", endpoint="features", keep=0)
    with DAG(dag_id="identity_empty", schedule=None, start_date=START) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="withheld: an empty gallery",
            image_url=str(photo),
            seed=5,
            output_path=str(output_dir),
            retries=2,
            retry_delay=timedelta(0),
        )
    capfd.readouterr()
    failed = run_dag(dag)
    out, err = capfd.readouterr()
    (empty,) = _charged(onemin_emulator)
    assert failed.task("replace").state == "failed" and failed.task("replace").try_number == 1, (
        "final: no retry resumes the same empty generation"
    )
    assert f"generation {empty.uuid} as SUCCESS but returned no usable image" in out + err
    assert "probably charged" in out + err and "clear this task instance" in out + err


# --- a clear, as Airflow does it: the same task instance's store, the next try number ----------------


class StateStore:
    """The surface of ``context["task_state_store"]`` (JSON values by key), kept across tries as
    Airflow keeps it across retries and clears; ``dag.test()`` cannot clear a task instance and keep
    its store, so the tries below are driven one by one."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.data[key]) if key in self.data else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.data[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


class TaskInstanceStub:
    dag_id, run_id, task_id, map_index = "identity", "manual__1", "replace", -1

    def __init__(self, try_number: int) -> None:
        self.try_number = try_number
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def _try(op: BackgroundReplacerOperator, store: StateStore, try_number: int) -> TaskInstanceStub:
    ti = TaskInstanceStub(try_number)
    ti.xcom["return_value"] = op.execute({"task_state_store": store, "ti": ti})  # type: ignore[arg-type]
    return ti


def _operator(prompt: str, photo: Path, **more: Any) -> BackgroundReplacerOperator:
    return BackgroundReplacerOperator(
        task_id="replace", prompt=prompt, image_url=str(photo), seed=5, outlets=[], **more
    )


def test_after_an_empty_success_a_clear_pays_for_a_fresh_generation(
    onemin_emulator, onemin_conn_env, photo
) -> None:
    """Failed before the fix: the empty success was delivered (and a clear resumed it again)."""
    from airflow_provider_onemin.exceptions import OneMinError

    store = StateStore()
    onemin_emulator.add_fault("withheld", endpoint="features", keep=0)
    with pytest.raises(OneMinError, match="clear this task instance") as caught:
        _try(_operator("withheld: an empty shelf", photo), store, 1)
    assert type(caught.value).__name__ == "OneMinEmptyResultError" and caught.value.final
    (empty,) = _charged(onemin_emulator)
    assert caught.value.uuid == empty.uuid

    # What the error says: clear the task instance (its store stays, the try number goes up).
    ti = _try(_operator("withheld: an empty shelf", photo), store, 2)
    assert len(_charged(onemin_emulator)) == 2
    assert ti.xcom["ai_record_uuid"] != empty.uuid and len(ti.xcom["return_value"]) == 1
    fresh = _generation(onemin_emulator, ti.xcom["ai_record_uuid"])
    assert fresh.kept is None and fresh.source == (PHOTOS / "mug.png").read_bytes()


# --- item 8: 1min.ai forgets a generation the record says succeeded ----------------------------------


def test_a_forgotten_generation_says_how_to_release_it_and_that_works(
    onemin_emulator, onemin_conn_env, photo, monkeypatch
) -> None:
    """Failed before the fix: the advice recommended retry_unknown_outcome, which changes nothing
    here (the record names a uuid: every try polls it and ends the same way)."""
    from airflow_provider_onemin.exceptions import OneMinUnknownOutcomeError

    store = StateStore()
    first = _try(_operator("forgotten: a misty meadow", photo), store, 1)
    assert len(_charged(onemin_emulator)) == 1 and store.get(STATE_KEY)["outcome"] == "succeeded"

    # 1min.ai forgot it: aiRecord null for the three polls in a row that make a record "missing".
    onemin_emulator.add_fault("null_record", count=3, endpoint="results")
    with pytest.raises(OneMinUnknownOutcomeError, match="unknown to 1min.ai now") as caught:
        _try(_operator("forgotten: a misty meadow", photo), store, 2)
    advice = str(caught.value)[str(caught.value).index("To release this task instance:") :]
    assert "retry_unknown_outcome" not in advice, "it would change nothing here"
    assert f"state-store/{STATE_KEY}" in advice and "clear it" in advice
    assert caught.value.uuid == first.xcom["ai_record_uuid"] and len(_charged(onemin_emulator)) == 1

    # The advice given before the fix, retry_unknown_outcome: it changes nothing (still blocked).
    conn = json.loads(os.environ["AIRFLOW_CONN_ONEMIN_DEFAULT"])
    conn["extra"] = {**conn["extra"], "retry_unknown_outcome": True}
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_RETRY_UNKNOWN", json.dumps(conn))
    onemin_emulator.add_fault("null_record", count=3, endpoint="results")
    with pytest.raises(OneMinUnknownOutcomeError):
        _try(_operator("forgotten: a misty meadow", photo, onemin_conn_id="onemin_retry_unknown"), store, 3)

    # What it says now: delete the record (what the REST API's DELETE does) and clear the task.
    store.delete(STATE_KEY)
    released = _try(_operator("forgotten: a misty meadow", photo), store, 4)
    assert len(_charged(onemin_emulator)) == 2, "a new generation is paid for, as the advice said"
    assert released.xcom["ai_record_uuid"] != first.xcom["ai_record_uuid"]


# --- item 3: a record is judged by its uuid ----------------------------------------------------------


def test_an_event_of_another_generation_never_pays_and_the_recorded_one_is_polled(
    onemin_emulator, onemin_conn_env, photo
) -> None:
    """
    Airflow 3.0 hands a retry an earlier try's trigger event. Failed before the fix: an event of
    generation "old" (failed) approved a new payment while the recorded generation still ran.
    """
    from airflow_provider_onemin.compat import TaskDeferred

    onemin_emulator.set_latency(3600)  # the recorded generation is still running
    store = StateStore()
    op = _operator("stale event: a foggy quay", photo, deferrable=True, poll_interval=0.1)
    body = op.validate_request()
    recorded = op.hook.run_feature({**op._with_uploaded_images(body), "async": True})["uuid"]
    # A record of this request by uuid (in the previous version's format, which both versions read).
    same_request = request_hash(op.model, body["promptObject"])
    store.set(
        STATE_KEY, {"request_hash": same_request, "uuid": recorded, "submitted_at": "t0", "try_number": 2}
    )
    stale = {"uuid": "0ld00000-0000-4000-8000-000000000000", "status": "FAILURE"}
    ti = TaskInstanceStub(3)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute_complete(
            {"task_state_store": store, "ti": ti},  # type: ignore[arg-type]
            event={"status": "failure", "uuid": stale["uuid"], "record": stale},
        )
    assert deferred.value.trigger.uuid == recorded, "the generation on record is polled to its end first"
    assert len(_charged(onemin_emulator)) == 1, "nothing paid on another generation's event"
    assert store.get(STATE_KEY)["uuid"] == recorded and "outcome" not in store.get(STATE_KEY)
