"""
Credits after and before paying, in real DAG runs (``dag.test()``) against the emulator.

After: XCom ``credits``, the task log, the ``credits_spent`` metric (counted once per generation)
and the lineage facet say what the generation cost as 1min.ai reported it; a reused result spent 0;
a generation whose record says nothing is "unknown", never 0. Before: the dry run says what the
request would cost and where the figure comes from, and sends nothing paid and no key.

Every expected figure is written here literally, from the emulator's documented price table
(``ideogram-3``: 3,000 credits per image at TURBO, 6,000 at DEFAULT), never read from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from airflow.sdk import DAG

from airflow_provider_onemin.emulator.pytest_plugin import TEST_API_KEY
from airflow_provider_onemin.hooks import model_list
from airflow_provider_onemin.lineage import metrics
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import run_dag

PHOTO = Path(__file__).resolve().parents[2] / "dags" / "sample_photos" / "mug.png"


class RecordingStats:
    """Airflow's Stats as the metrics module sees it (the StatsD wire format: test_lineage_dag_run.py)."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def incr(self, stat: str, count: int = 1) -> None:
        self.counters[stat] = self.counters.get(stat, 0) + count

    def timing(self, stat: str, dt: timedelta) -> None:
        pass


@pytest.fixture
def stats(monkeypatch) -> RecordingStats:
    recorder = RecordingStats()
    monkeypatch.setattr(metrics, "_stats", lambda: recorder)
    return recorder


@pytest.fixture(autouse=True)
def fresh_model_list():
    model_list.clear_cache()
    yield
    model_list.clear_cache()


def _dag(dag_id: str, output_dir: Path, **arguments) -> DAG:
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="a sunlit marble counter",
            image_url=str(PHOTO),
            num_images=2,
            rendering_speed="TURBO",
            seed=7,
            output_path=str(output_dir),
            **arguments,
        )
    return dag


def _log(capfd, caplog) -> str:
    out, err = capfd.readouterr()
    return out + err + caplog.text


@pytest.mark.compat  # XCom of a None (left out on 3.0) and of numbers, per minor
def test_a_paid_run_reports_its_credits_and_a_reuse_spends_none(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, stats, capfd, caplog
) -> None:
    dag = _dag("onemin_credits_paid", output_dir, reuse=True)
    first = run_dag(dag)
    assert first.state == "success", first.tasks
    paid = first.task("replace")
    assert paid.xcom["credits"] == 6000, "TURBO: 3,000 credits per image, 2 images"
    said = _log(capfd, caplog)
    assert "Credits spent: 6,000 (ideogram-3, generation" in said
    assert stats.counters["onemin.ideogram-3.credits_spent"] == 6000
    assert "onemin.ideogram-3.credits_unknown" not in stats.counters

    second = run_dag(dag)
    assert second.state == "success"
    assert onemin_emulator.charges() == 1, "the second run reused the first one's images"
    assert second.task("replace").xcom["credits"] == 0, "nothing paid"
    said = _log(capfd, caplog)
    assert "saved 2 image(s) of ideogram-3 (6,000 credits)" in said
    assert stats.counters["onemin.ideogram-3.credits_spent"] == 6000, "a reuse spends nothing"
    for value in (*paid.xcom.values(), *second.task("replace").xcom.values()):
        assert TEST_API_KEY not in repr(value)
    assert TEST_API_KEY not in said


def test_a_deferred_generation_reports_its_credits_once(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, stats, capfd, caplog
) -> None:
    onemin_emulator.set_latency(0.3)  # still rendering when the task defers: the triggerer sees the end
    result = run_dag(_dag("onemin_credits_deferred", output_dir, deferrable=True, min_defer_time=0))
    assert result.state == "success", result.tasks
    assert result.task("replace").xcom["credits"] == 6000, "through the trigger event: 3,000 x 2"
    assert stats.counters["onemin.ideogram-3.credits_spent"] == 6000, "counted once, across the deferral"
    assert "Credits spent: 6,000 (ideogram-3" in _log(capfd, caplog)


@pytest.mark.compat  # XCom of a None (left out on 3.0) and of numbers, per minor
def test_a_generation_whose_cost_is_not_reported_is_unknown_never_zero(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, stats, capfd, caplog
) -> None:
    onemin_emulator.set_report_credit(False)
    result = run_dag(_dag("onemin_credits_unknown", output_dir))
    assert result.state == "success", result.tasks
    assert result.task("replace").xcom.get("credits") is None, "unknown (absent on Airflow 3.0)"
    said = _log(capfd, caplog)
    assert "Credits spent: unknown: 1min.ai did not report what generation" in said
    assert "Credits spent: 0" not in said
    assert stats.counters["onemin.ideogram-3.credits_unknown"] == 1
    assert "onemin.ideogram-3.credits_spent" not in stats.counters, "no 0 added to the spend"


def test_the_lineage_facet_carries_the_credits(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir
) -> None:
    pytest.importorskip("airflow.providers.openlineage")
    operator = BackgroundReplacerOperator(
        task_id="facet",
        prompt="a sunlit marble counter",
        image_url=str(PHOTO),
        num_images=2,
        rendering_speed="TURBO",
    )
    from airflow_provider_onemin.delivery.results import note_generation
    from airflow_provider_onemin.lineage.report import describe

    note_generation(operator, {"uuid": "u-1"}, credits=6000)
    assert describe(operator, operator.generation_outcome).facet["credits"] == 6000
    note_generation(operator, {"uuid": "u-2"})
    assert describe(operator, operator.generation_outcome).facet["credits"] is None, "not known yet"
    pytest.importorskip("airflow.providers.openlineage")
    note_generation(operator, {"uuid": "u-1"}, credits=6000)
    facets = operator.get_openlineage_facets_on_complete(None).run_facets
    assert facets["oneMinGeneration"].credits == 6000


def test_the_dry_run_says_what_it_would_cost_and_pays_nothing(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, capfd, caplog
) -> None:
    result = run_dag(_dag("onemin_credits_dry_run", output_dir, dry_run=True))
    assert result.state == "success"
    said = _log(capfd, caplog)
    assert "Dry run: would spend 6,000 credits (model list: 3,000 per image x 2 images)." in said
    snapshot = onemin_emulator.snapshot()
    assert (snapshot["charges"]["total"], snapshot["records"], snapshot["assets"]) == (0, 0, 0)
    assert onemin_emulator.model_list_calls() == [{"feature": "BACKGROUND_REPLACER", "with_key": False}]
    assert TEST_API_KEY not in said


def test_a_dry_run_of_an_unlisted_model_learns_from_an_earlier_paid_call(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, capfd, caplog
) -> None:
    onemin_emulator.set_unlisted_models(["ideogram-3"])
    dry = run_dag(_dag("onemin_credits_unlisted_dry", output_dir, dry_run=True, reuse=True))
    assert dry.state == "success"
    said = _log(capfd, caplog)
    assert "'ideogram-3' is not in 1min.ai's model list" in said, "reported, never refused"
    assert "Dry run: would spend credits unknown (ideogram-3 is not in the model list" in said

    paid = run_dag(_dag("onemin_credits_unlisted_paid", output_dir, reuse=True))
    assert paid.state == "success" and onemin_emulator.charges() == 1, "an unlisted model is paid for"
    assert paid.task("replace").xcom["credits"] == 6000

    # Other content, the same options (rendering speed, model): the earlier call's price per image.
    with DAG(dag_id="onemin_credits_unlisted_again", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            prompt="a mossy rock by a stream",
            image_url=str(PHOTO),
            num_images=3,
            rendering_speed="TURBO",
            seed=8,
            output_path=str(output_dir),
            reuse=True,
            dry_run=True,
        )
    assert run_dag(dag).state == "success"
    said = _log(capfd, caplog)
    assert "Dry run: would spend 9,000 credits (earlier paid calls: 3,000 per image x 3 images" in said
    assert onemin_emulator.charges() == 1


#: What each model's task of tests/operators/test_operator_models.py costs on the emulator, written
#: out from its documented price table (docs/models.md): per image, times the images asked for.
EXPECTED_CREDITS = {
    "ideogram": 6000,  # TURBO 3,000 x 2
    "clipdrop": 50000,
    "gpt1": 63000,  # medium (sent when not given), 1536x1024
    "gpt1mini": 156000,  # high, 1024x1536: 52,000 x 3
    "gpt2": 20000,  # low
    "recraft": 40000,
}


def _every_model_dag(dag_id: str, output_dir: Path, **common) -> DAG:
    from tests.operators.test_operator_models import CASES

    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        for task_id, (model, arguments, _, _) in CASES.items():
            BackgroundReplacerOperator(
                task_id=task_id,
                model=model,
                prompt="a marble kitchen counter",
                image_url=str(PHOTO),
                output_path=str(output_dir),
                **arguments,
                **common,
            )
    return dag


def test_every_model_is_estimated_before_and_reported_after_paying(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, capfd, caplog
) -> None:
    dry = run_dag(_every_model_dag("onemin_credits_models_dry", output_dir, dry_run=True))
    assert dry.state == "success", dry.tasks
    said = _log(capfd, caplog)
    for credits in EXPECTED_CREDITS.values():
        assert f"Dry run: would spend {credits:,} credits (model list:" in said
    assert onemin_emulator.charges() == 0

    paid = run_dag(_every_model_dag("onemin_credits_models_paid", output_dir))
    assert paid.state == "success", paid.tasks
    assert {task: paid.task(task).xcom["credits"] for task in EXPECTED_CREDITS} == EXPECTED_CREDITS
    assert onemin_emulator.charges() == len(EXPECTED_CREDITS)
