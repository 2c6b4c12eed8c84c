"""
Every Background Replacer model in a real DAG run (``dag.test()``) against the emulator.

The judge is the emulator, with its own statement of each model's fields (emulator/models.py):
it refuses a body its model does not take, and records the body it accepted. The expected
bodies are written out here from issue 21 (each argument under the model's field, ``num_images``
under the model's own, ``quality`` always sent to gpt-image-1/-mini), not built by the code
under test.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_onemin.exceptions import OneMinConfigurationError, OneMinValidationError
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import run_dag

PHOTO = Path(__file__).resolve().parents[2] / "dags" / "sample_photos" / "mug.png"
START = datetime(2026, 1, 1)
PROMPT = "a marble kitchen counter in morning light"

#: task id -> (model, the operator's model arguments, the promptObject 1min.ai must receive
#: apart from prompt and imageUrl, how many images).
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any], int]] = {
    "ideogram": (
        "ideogram-3",
        {"num_images": 2, "seed": 5, "rendering_speed": "TURBO"},
        {"num_images": 2, "rendering_speed": "TURBO", "seed": 5},
        2,
    ),
    "clipdrop": ("clipdrop", {}, {}, 1),
    "gpt1": (
        "gpt-image-1",
        {"size": "1536x1024"},
        {"size": "1536x1024", "quality": "medium"},
        1,
    ),
    "gpt1mini": (
        "gpt-image-1-mini",
        {
            "num_images": 3,
            "size": "1024x1536",
            "quality": "high",
            "background": "transparent",
            "output_format": "webp",
            "output_compression": "70",  # as a template renders it
        },
        {
            "n": 3,
            "size": "1024x1536",
            "quality": "high",
            "background": "transparent",
            "output_format": "webp",
            "output_compression": 70,
        },
        3,
    ),
    "gpt2": (
        "gpt-image-2",
        {"size": "1536x1024", "quality": "low", "background": "opaque"},
        {"size": "1536x1024", "quality": "low", "background": "opaque"},
        1,
    ),
    "recraft": (
        "recraft",
        {"style": "realistic_image", "substyle": "studio_portrait", "negative_prompt": "people"},
        {"n": 1, "negative_prompt": "people", "style": "realistic_image", "substyle": "studio_portrait"},
        1,
    ),
}


def charges(emulator) -> int:
    return emulator.snapshot()["charges"]["total"]


def test_a_dag_with_every_model_sends_each_its_own_body_and_stores_its_results(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir
) -> None:
    source = onemin_emulator.add_asset(PHOTO.read_bytes(), "mug.png")
    with DAG(dag_id="onemin_every_model", schedule=None, start_date=START) as dag:
        for task_id, (model, arguments, _, _) in CASES.items():
            BackgroundReplacerOperator(
                task_id=task_id,
                model=model,
                prompt=PROMPT,
                image_url=source,
                output_path=str(output_dir),
                **arguments,
            )
    result = run_dag(dag)

    assert result.state == "success", result.tasks
    assert charges(onemin_emulator) == len(CASES), "one payment per model"
    for task_id, (model, _, sent, images) in CASES.items():
        xcom = result.task(task_id).xcom
        generation = onemin_emulator.record(xcom["ai_record_uuid"])
        assert generation.model == model
        assert generation.prompt_object == {"prompt": PROMPT, "imageUrl": source, **sent}, task_id
        assert xcom["return_value"] == generation.result_keys and len(generation.result_keys) == images
        stored = xcom["stored_paths"]
        assert [p.rsplit("/", 1)[1] for p in stored] == [f"result-{i}.png" for i in range(images)], task_id
        assert all(f"/onemin_every_model/{result.run_id[:6]}" in p and f"/{task_id}/" in p for p in stored)
        assert [ObjectStoragePath(p).read_bytes() for p in stored] == [
            generation.renders[i] for i in range(images)
        ], f"{task_id}: exactly the served results"
        assert xcom["model"] == model


def _templated_dag(dag_id: str, output_dir: Path, source: str, **arguments: Any) -> DAG:
    with DAG(dag_id=dag_id, schedule=None, start_date=START, params={"value": "x"}) as dag:
        BackgroundReplacerOperator(
            task_id="replace", prompt=PROMPT, image_url=source, output_path=str(output_dir), **arguments
        )
    return dag


@pytest.mark.parametrize(
    ("model", "arguments", "value", "message"),
    [
        (
            "clipdrop",
            {"num_images": "{{ params.value }}"},
            2,
            "num_images: model clipdrop makes one image per request (2 asked for)",
        ),
        (
            "gpt-image-2",
            {"num_images": "{{ params.value }}", "size": "1024x1024", "quality": "low"},
            2,
            "num_images: model gpt-image-2 makes one image per request (2 asked for)",
        ),
        (
            "recraft",
            {"num_images": "{{ params.value }}"},
            2,
            "promptObject.n: must be 1: recraft makes one image per request (the operator's num_images)",
        ),
        (
            "gpt-image-2",
            {"style_preset": "{{ params.value }}", "size": "1024x1024", "quality": "low"},
            "ART_DECO",
            "promptObject: 'style_preset' is not allowed for model gpt-image-2",
        ),
        (
            "gpt-image-2",
            {"size": "{{ params.value }}", "quality": "low"},
            "1000x1000",
            "promptObject.size: both sides must be multiples of 16 (1000x1000 given)",
        ),
        (
            "gpt-image-1",
            {"size": "{{ params.value }}"},
            "2048x2048",
            "promptObject.size: '2048x2048' is not one of ['1024x1024', '1024x1536', '1536x1024']",
        ),
    ],
)
def test_a_rendered_value_the_model_refuses_fails_before_paying(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, capfd, model, arguments, value, message
) -> None:
    source = onemin_emulator.add_asset(PHOTO.read_bytes(), "mug.png")
    dag = _templated_dag(
        f"onemin_refused_{model.replace('-', '_')}", output_dir, source, model=model, **arguments
    )
    capfd.readouterr()
    result = run_dag(dag, run_conf={"value": value})
    out, err = capfd.readouterr()

    assert result.task("replace").state == "failed"
    assert f"Invalid Background Replacer request for model {model}" in out + err
    assert message in out + err
    snapshot = onemin_emulator.snapshot()
    assert (snapshot["charges"]["total"], snapshot["records"]) == (0, 0), "nothing sent, nothing paid"
    assert not list(output_dir.rglob("result-*")), "nothing stored"


def test_a_literal_field_of_another_model_fails_the_dag_import() -> None:
    with pytest.raises(OneMinValidationError) as caught:
        BackgroundReplacerOperator(
            task_id="replace",
            model="gpt-image-2",
            prompt=PROMPT,
            image_url="development/images/mug.png",
            size="1024x1024",
            quality="low",
            style_preset="ART_DECO",
        )
    assert str(caught.value).startswith(
        "Invalid Background Replacer request for model gpt-image-2 (1 problem(s))"
    )
    assert caught.value.violations == [
        "promptObject: 'style_preset' is not allowed for model gpt-image-2 "
        "(its fields: prompt, imageUrl, size, quality, background)"
    ]


def test_an_unknown_model_fails_the_dag_import_even_when_values_are_templated() -> None:
    with pytest.raises(OneMinConfigurationError) as caught:
        BackgroundReplacerOperator(
            task_id="replace",
            model="dall-e-3",
            prompt="{{ params.scene }}",
            image_url="development/images/mug.png",
        )
    assert "'dall-e-3'" in str(caught.value)
    assert "clipdrop, gpt-image-1, gpt-image-1-mini, gpt-image-2, ideogram-3, recraft" in str(caught.value)


def test_model_fields_are_templated() -> None:
    fields = set(BackgroundReplacerOperator.template_fields)
    assert {
        "size",
        "quality",
        "background",
        "output_format",
        "output_compression",
        "style",
        "substyle",
    } <= fields


@pytest.mark.parametrize(
    ("model", "arguments", "images"),
    [
        ("clipdrop", {}, 1),
        ("gpt-image-1-mini", {"size": "1024x1024", "num_images": 3}, 3),
        ("gpt-image-1", {"size": "1024x1024"}, 1),
        ("recraft", {}, 1),
    ],
)
def test_dry_run_of_each_model_logs_its_body_and_its_image_count(
    onemin_emulator, onemin_conn_env, capfd, caplog, model, arguments, images
) -> None:
    op = BackgroundReplacerOperator(
        task_id="replace",
        model=model,
        prompt=PROMPT,
        image_url="development/images/mug.png",
        dry_run=True,
        **arguments,
    )
    with caplog.at_level("INFO"):
        assert op.execute({}) == []
    out, err = capfd.readouterr()
    log = out + err + caplog.text
    assert f'"model": "{model}"' in log
    assert f"would pay for {images} image(s)" in log
    assert onemin_emulator.snapshot()["charges"]["total"] == 0


def test_cost_preview_counts_each_models_images(output_dir) -> None:
    from airflow_provider_onemin.pipeline.helpers import preview_costs

    source = {"prompt": PROMPT, "image_url": "development/images/mug.png"}
    mini = preview_costs(
        str(output_dir),
        [{**source, "size": "1024x1024", "num_images": 3}, {**source, "size": "1024x1536"}],
        "gpt-image-1-mini",
    )
    assert mini.new_images == 4
    assert preview_costs(str(output_dir), [source, source], "clipdrop").new_images == 2
    with pytest.raises(OneMinValidationError, match="num_images: model clipdrop makes one image per request"):
        preview_costs(str(output_dir), [{**source, "num_images": 2}], "clipdrop")
