"""
The lineage report of a Background Remover run: an operator without a prompt, seed, style or
image count (it makes one image). Failed before ``describe`` read those with defaults: it raised
``AttributeError: 'BackgroundRemoverOperator' object has no attribute 'prompt'``.
"""

from __future__ import annotations

from airflow_provider_onemin.lineage.report import GenerationOutcome, describe
from airflow_provider_onemin.operators.background_remover import BackgroundRemoverOperator


def test_a_remover_run_reports_its_source_and_result_and_no_replacer_fields(tmp_path) -> None:
    operator = BackgroundRemoverOperator(
        task_id="cut", image_url="s3://aws_marketing@brand-assets/photos/mug.png", output_format="webp"
    )
    stored = f"file://{tmp_path}/dag/run/cut/result-0.webp"
    outcome = GenerationOutcome(uuid="gen-1", results=["development/images/r0.webp"], stored_paths=[stored])

    report = describe(operator, outcome)

    assert report.inputs == [("s3://brand-assets", "photos/mug.png")]
    assert report.outputs == [("file", f"{tmp_path}/dag/run/cut/result-0.webp")]
    facet = report.facet
    assert (facet["model"], facet["uuid"], facet["numImages"]) == ("stable-image", "gen-1", 1)
    assert facet["prompt"] is None and facet["seed"] is None and facet["stylePreset"] is None
    assert facet["styleReferenceImages"] == []


def test_the_facet_names_the_feature_and_the_options_of_models_other_than_ideogram(tmp_path) -> None:
    from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

    replacer = BackgroundReplacerOperator(
        task_id="scene",
        prompt="a marble counter",
        image_url="s3://aws_marketing@brand-assets/photos/mug.png",
        model="gpt-image-2",
        size="1536x1024",
        quality="low",
        background="opaque",
    )
    facet = describe(replacer, GenerationOutcome(uuid="gen-2")).facet
    assert facet["feature"] == "BACKGROUND_REPLACER"
    assert facet["options"] == {"size": "1536x1024", "quality": "low", "background": "opaque"}

    remover = BackgroundRemoverOperator(
        task_id="cut", image_url="s3://aws_marketing@brand-assets/photos/mug.png", output_format="webp"
    )
    facet = describe(remover, GenerationOutcome(uuid="gen-1")).facet
    assert facet["feature"] == "BACKGROUND_REMOVER"
    assert facet["options"] == {"output_format": "webp"}
