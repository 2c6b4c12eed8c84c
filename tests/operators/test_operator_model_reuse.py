"""
Reuse and the submission record across models: two requests that differ only in a field of one
model (gpt-image-2's ``size``, gpt-image-1's ``background``, recraft's ``style``...) are two
requests, each paid once, and never served each other's result.

The judge is the emulator's charge counter and its records; expected counts come from each
scenario (how many distinct requests it makes).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from airflow_provider_onemin.reuse.key import request_key
from tests.support.airflow_helpers import run_dag

PHOTO = Path(__file__).resolve().parents[2] / "dags" / "sample_photos" / "mug.png"
START = datetime(2026, 1, 1)
SOURCE = "development/images/mug.png"


@pytest.mark.parametrize(
    ("model", "fixed", "field", "first", "second"),
    [
        ("gpt-image-2", {"quality": "medium"}, "size", "1536x1024", "1024x1536"),
        ("gpt-image-2", {"size": "1024x1024"}, "quality", "low", "high"),
        ("gpt-image-1", {"size": "1024x1024"}, "background", "opaque", "transparent"),
        ("recraft", {}, "style", "realistic_image", "digital_illustration"),
    ],
)
def test_requests_differing_in_one_model_field_are_paid_once_each_and_never_swap_results(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, model, fixed, field, first, second
) -> None:
    source = onemin_emulator.add_asset(PHOTO.read_bytes(), "mug.png")
    with DAG(
        dag_id=f"onemin_reuse_{model.replace('-', '_')}_{field}",
        schedule=None,
        start_date=START,
        params={"value": first},
    ) as dag:
        BackgroundReplacerOperator(
            task_id="replace",
            model=model,
            prompt="a marble kitchen counter",
            image_url=source,
            output_path=str(output_dir),
            reuse=True,
            **fixed,
            **{field: "{{ params.value }}"},
        )

    def run(value: str) -> dict[str, Any]:
        result = run_dag(dag, run_conf={"value": value})
        assert result.state == "success", result.tasks
        return result.task("replace").xcom

    a = run(first)
    assert onemin_emulator.snapshot()["charges"]["total"] == 1
    b = run(second)
    assert onemin_emulator.snapshot()["charges"]["total"] == 2, f"another {field}: another request, paid"
    assert b.get("reused_from") is None
    assert onemin_emulator.record(b["ai_record_uuid"]).prompt_object[field] == second
    a_again = run(first)
    assert onemin_emulator.snapshot()["charges"]["total"] == 2, f"the first {field} again: reused"
    assert a_again["reused_from"]["uuid"] == a["ai_record_uuid"]
    b_again = run(second)
    assert onemin_emulator.snapshot()["charges"]["total"] == 2
    assert b_again["reused_from"]["uuid"] == b["ai_record_uuid"], "each request gets its own result"
    assert [ObjectStoragePath(p).read_bytes() for p in b_again["stored_paths"]] == [
        onemin_emulator.record(b["ai_record_uuid"]).renders[0]
    ]


def _key(model: str, **arguments: Any) -> str:
    op = BackgroundReplacerOperator(task_id="t", model=model, prompt="a beach", image_url=SOURCE, **arguments)
    return request_key(model, op.prompt_object()).digest


def test_every_model_field_is_part_of_the_request_identity() -> None:
    keys = [
        _key("gpt-image-1", size="1024x1024"),
        _key("gpt-image-1", size="1024x1536"),
        _key("gpt-image-1", size="1024x1024", quality="high"),
        _key("gpt-image-1", size="1024x1024", num_images=2),
        _key("gpt-image-1", size="1024x1024", output_format="jpeg"),
        _key("gpt-image-1", size="1024x1024", output_compression=50),
        _key("gpt-image-1", size="1024x1024", background="transparent"),
        _key("gpt-image-1-mini", size="1024x1024"),
        _key("gpt-image-2", size="1024x1024", quality="medium"),
        _key("gpt-image-2", size="2048x1024", quality="medium"),
        _key("gpt-image-2", size="1024x1024", quality="medium", background="opaque"),
        _key("recraft"),
        _key("recraft", style="realistic_image"),
        _key("recraft", style="realistic_image", substyle="hdr"),
        _key("recraft", negative_prompt="people"),
        _key("clipdrop"),
        _key("ideogram-3"),
    ]
    assert len(set(keys)) == 17, "each request has its own identity"


def test_the_default_a_model_always_sends_is_the_same_request_as_giving_it() -> None:
    # gpt-image-1 is always sent quality (medium when not given): the same body, the same request.
    assert _key("gpt-image-1", size="1024x1024") == _key("gpt-image-1", size="1024x1024", quality="medium")
    # n=1 is left out for gpt-image-1 (one page version has no n): one image asked either way.
    assert _key("gpt-image-1", size="1024x1024") == _key("gpt-image-1", size="1024x1024", num_images=1)
