"""
The marketing pipeline's credits, in real DAG runs against the emulator: the plan says what a run
would cost and where the figures come from, ``max_credits`` refuses a run before anything is
uploaded or paid (the emulator counts no charge), an unknown estimate under a cap is refused
unless ``allow_unknown_credits``, the shipped defaults run whatever the list says, and the
manifest says what each line cost.

Figures are written literally from the emulator's documented price table (onemin-api.md): the
pipeline asks for one TURBO image of ideogram-3 per line, 3,000 credits, 3 products x 2 scenes = 6
lines, 18,000; and one stable-image cut-out per product, 20,000 credits, 3 products, 60,000.
"""

from __future__ import annotations

import csv
import io

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_onemin.exceptions import OneMinCreditCapError
from airflow_provider_onemin.hooks import model_list
from tests.support.airflow_helpers import airflow_version, run_dag
from tests.support.pipeline_support import load_pipeline

# Not in the Airflow matrix: the plan's arithmetic is the provider's, not Airflow's; the example
# DAG's runs on every minor are test_demo.py's and test_pipeline.py's.

# The renditions are paid nothing and checked in test_pipeline.py: not made here, for speed.
REVIEW = "render_main|render_scenes|choices|review|publish"
# One scene (3 lines and 3 cut-outs): the arithmetic is per line; the shipped defaults' own test
# below runs both scenes.
SCENE = "a sunlit marble kitchen counter, soft morning light"
ONE_SCENE = {"scenes": [SCENE]}


@pytest.fixture(autouse=True)
def fresh_model_list():
    model_list.clear_cache()
    yield
    model_list.clear_cache()


@pytest.fixture
def pipeline(monkeypatch, output_dir):
    return load_pipeline(monkeypatch, output_dir)


def _manifest(result) -> list[dict[str, str]]:
    uri = result.task("write_manifest").xcom["return_value"]
    return list(csv.DictReader(io.StringIO(ObjectStoragePath(uri).read_text())))


def _log(capfd, caplog) -> str:
    out, err = capfd.readouterr()
    return out + err + caplog.text


def _refusal_reaches_the_log() -> bool:
    # Airflow 3.0's dag.test() does not put a failed task's error text where these tests read it
    # (seen in the CI matrix); the refusal itself is checked on every minor by calling the plan.
    return airflow_version() >= (3, 1)


def test_the_plan_and_the_manifest_say_what_the_run_costs(
    airflow_db, onemin_emulator, onemin_conn_env, pipeline, capfd, caplog
) -> None:
    first = run_dag(pipeline.dag, run_conf=ONE_SCENE, mark_success_pattern=REVIEW)
    assert first.state == "success", {k: v.state for k, v in first.tasks.items()}
    preview = first.task("plan").xcom["preview"]
    # 3 TURBO images at 3,000 credits and 3 cut-outs at 20,000 (the model list's prices).
    assert (preview["new_credits"], preview["unknown_credit_lines"]) == (69000, 0)
    assert preview["credit_sources"] == {"model list": 6}
    said = _log(capfd, caplog)
    assert "credits: 69,000 credits (6 line(s) from model list) (max_credits=none)" in said
    assert [row["credits"] for row in _manifest(first)] == ["3000"] * 3, "what 1min.ai reported per line"
    assert onemin_emulator.charges() == 6

    second = run_dag(pipeline.dag, run_conf=ONE_SCENE, mark_success_pattern=REVIEW)
    assert second.state == "success"
    assert second.task("plan").xcom["preview"]["new_credits"] == 0, "everything would be reused"
    assert [row["credits"] for row in _manifest(second)] == ["0"] * 3, "reused lines cost nothing"
    assert onemin_emulator.charges() == 6


def test_a_plan_over_max_credits_fails_before_anything_is_paid(
    airflow_db, onemin_emulator, onemin_conn_env, pipeline, output_dir, capfd, caplog
) -> None:
    result = run_dag(pipeline.dag, run_conf={**ONE_SCENE, "max_credits": 68999}, mark_success_pattern=REVIEW)
    # (The run's own state follows its leaves: publish, marked successful here, runs whatever happens.)
    assert result.task("plan").state == "failed"
    assert all(
        ti.state != "success"
        for (task, _), ti in result.tasks.items()
        if task in ("replace_background", "cut_out")
    )
    snapshot = onemin_emulator.snapshot()
    assert (snapshot["charges"]["total"], snapshot["records"], snapshot["assets"]) == (0, 0, 0)
    said = _log(capfd, caplog)  # the run's log, before the plan is called again below
    refusal = (
        r"This run would spend 69,000 credits \(6 line\(s\) from model list\), 1 over max_credits=68,999"
    )
    with pytest.raises(OneMinCreditCapError, match=refusal + r".*Nothing was uploaded or paid"):
        pipeline.plan.function(params={**ONE_SCENE, "max_credits": 68999})
    if _refusal_reaches_the_log():
        assert (
            "This run would spend 69,000 credits (6 line(s) from model list), 1 over max_credits=68,999"
            in said
        )
        assert "Nothing was uploaded or paid" in said
    assert not any(output_dir.glob("marketing_asset_pipeline/*/*")), "nothing stored"


def test_under_a_cap_an_unknown_estimate_is_refused_unless_allowed(
    airflow_db, onemin_emulator, onemin_conn_env, pipeline, capfd, caplog
) -> None:
    onemin_emulator.set_unlisted_models(["ideogram-3"])
    refused = run_dag(
        pipeline.dag, run_conf={**ONE_SCENE, "max_credits": 1000000}, mark_success_pattern=REVIEW
    )
    assert refused.task("plan").state == "failed"
    assert onemin_emulator.charges() == 0
    said = _log(capfd, caplog)  # the run's log, before the plan is called again below
    with pytest.raises(
        OneMinCreditCapError, match=r"what 3 line\(s\) would cost is unknown.*Set allow_unknown_credits"
    ):
        pipeline.plan.function(params={**ONE_SCENE, "max_credits": 1000000})
    if _refusal_reaches_the_log():
        assert "what 3 line(s) would cost is unknown" in said and "Set allow_unknown_credits" in said

    allowed = run_dag(
        pipeline.dag,
        run_conf={**ONE_SCENE, "max_credits": 1000000, "allow_unknown_credits": True},
        mark_success_pattern=REVIEW,
    )
    assert allowed.state == "success", {k: v.state for k, v in allowed.tasks.items()}
    assert allowed.task("plan").xcom["preview"]["unknown_credit_lines"] == 3
    assert onemin_emulator.charges() == 6


def test_the_shipped_defaults_run_when_nothing_about_credits_is_known(
    airflow_db, onemin_emulator, onemin_conn_env, pipeline, capfd, caplog
) -> None:
    onemin_emulator.set_unlisted_models(["ideogram-3"])
    onemin_emulator.set_report_credit(False)
    result = run_dag(pipeline.dag, mark_success_pattern=REVIEW)
    assert result.state == "success", {k: v.state for k, v in result.tasks.items()}
    assert [row["credits"] for row in _manifest(result)] == ["unknown"] * 6, "never 0"
    said = _log(capfd, caplog)
    assert "at least 60,000 credits, 6 line(s) unknown" in said, "the cut-outs' price is listed"


def test_a_plan_learns_prices_from_earlier_paid_calls(
    airflow_db, onemin_emulator, onemin_conn_env, pipeline
) -> None:
    onemin_emulator.set_unlisted_models(["ideogram-3"])
    assert run_dag(pipeline.dag, run_conf=ONE_SCENE, mark_success_pattern=REVIEW).state == "success"
    # A new set of seeds: 6 new lines with the options already paid for (TURBO, 1 image).
    lines = pipeline.plan.function(params={"scenes": pipeline.SCENES, "base_seed": 7, "max_credits": 18000})
    assert len(lines) == 6
    cost = pipeline.preview_costs(
        pipeline.OUTPUT_PATH, [{**pipeline.REQUEST, **pipeline.operator_arguments(line)} for line in lines]
    )
    assert (cost.new_credits, cost.credit_sources) == (18000, {"earlier paid calls": 6})
    with pytest.raises(Exception, match="1 over max_credits=17,999"):
        cost.check_cap(10, 17999)
