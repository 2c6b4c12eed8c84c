"""
The lineage report without OpenLineage installed: dataset names and the run facet's fields.

Expected dataset names are written from OpenLineage's naming spec (spec/naming.md, "Dataset
Naming": S3 ``s3://{bucket name}`` / ``{object key}``, GCS ``gs://{bucket name}`` /
``{object key}``, local file system ``file://{host}`` / ``{path}``, ABFSS
``abfss://{container name}@{service name}.dfs.core.windows.net`` / ``{path}``) and from how
Airflow's own file assets name a local file for OpenLineage (namespace ``file``, name the
absolute path), not from the code under test.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from airflow_provider_onemin.lineage.report import GenerationOutcome, dataset_name, describe, public_reference


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("/data/photos/mug.png", ("file", "/data/photos/mug.png")),
        ("file:///data/photos/mug.png", ("file", "/data/photos/mug.png")),
        ("file://localhost/data/photos/mug.png", ("file", "/data/photos/mug.png")),
        ("file://nas01/data/photos/mug.png", ("file://nas01", "/data/photos/mug.png")),
        ("/data/photos/../photos//mug.png", ("file", "/data/photos/mug.png")),
        ("s3://brand-assets/photos/mug.png", ("s3://brand-assets", "photos/mug.png")),
        ("s3://aws_marketing@brand-assets/photos/mug.png", ("s3://brand-assets", "photos/mug.png")),
        ("s3a://brand-assets/photos/mug.png", ("s3://brand-assets", "photos/mug.png")),
        ("gs://brand-assets/photos/mug.png", ("gs://brand-assets", "photos/mug.png")),
        ("gcs://brand-assets/photos/mug.png", ("gs://brand-assets", "photos/mug.png")),
        (
            "abfss://photos@brandlake.dfs.core.windows.net/2026/mug.png",
            ("abfss://photos@brandlake.dfs.core.windows.net", "2026/mug.png"),
        ),
        # Airflow's form names the connection before the "@" (a container name has no dot): not a dataset part.
        ("abfs://azure_marketing@photos/2026/mug.png", ("abfs://photos", "2026/mug.png")),
        ("az://azure_marketing@photos/2026/mug.png", ("az://photos", "2026/mug.png")),
        ("gs://gcp_marketing@brand-assets/photos/mug.png", ("gs://brand-assets", "photos/mug.png")),
        ("development/images/mug.png", None),
        ("https://cdn.example.com/mug.png", None),
        ("http://cdn.example.com/mug.png", None),
    ],
)
def test_dataset_names_follow_the_openlineage_naming_spec(ref, expected):
    assert dataset_name(ref) == expected


def test_a_signed_url_is_recorded_without_its_credentials():
    signed = (
        "https://user:pw@bucket.s3.amazonaws.com/a/mug.png?X-Amz-Signature=abc123&X-Amz-Credential=AKIA#frag"
    )
    recorded = public_reference(signed)
    assert recorded == "https://bucket.s3.amazonaws.com/a/mug.png"
    assert public_reference("development/images/mug.png") == "development/images/mug.png"


def _operator(**overrides):
    arguments = {
        "model": "ideogram-3",
        "prompt": "a sunlit kitchen counter",
        "negative_prompt": "people",
        "num_images": "2",  # a rendered template is a string
        "seed": 7,
        "image_url": "s3://aws_marketing@brand-assets/photos/mug.png",
        "style_reference_images": [
            "/srv/refs/linen.jpg",
            "development/images/ref.png",
            "https://cdn.example.com/ref.png?token=secret",
        ],
        "rendering_speed": "TURBO",
        "magic_prompt": None,
        "style_type": None,
        "style_preset": None,
    }
    arguments.update(overrides)
    return SimpleNamespace(**arguments)


def test_before_submission_the_report_has_the_inputs_and_the_request():
    report = describe(_operator())
    assert report.inputs == [("s3://brand-assets", "photos/mug.png"), ("file", "/srv/refs/linen.jpg")]
    assert report.outputs == []
    facet = report.facet
    assert facet["model"] == "ideogram-3"
    assert facet["prompt"] == "a sunlit kitchen counter"
    assert facet["negativePrompt"] == "people"
    assert facet["numImages"] == 2
    assert facet["seed"] == 7
    assert facet["uuid"] is None
    assert facet["reused"] is False
    assert facet["sourceImage"] is None  # it is a dataset
    assert facet["styleReferenceImages"] == ["development/images/ref.png", "https://cdn.example.com/ref.png"]
    assert facet["renderingSpeed"] == "TURBO"


def test_an_asset_path_source_goes_to_the_facet_and_stored_results_are_outputs():
    outcome = GenerationOutcome(
        uuid="gen-1",
        results=["development/images/r0.png", "development/images/r1.png"],
        result_urls=["https://asset.example/r0.png?sig=1", None],
        seeds=[11, 12],
        stored_paths=["s3://brand-out/run/result-0.png", "file:///data/out/run/result-1.png"],
    )
    report = describe(_operator(image_url="development/images/mug.png", style_reference_images=None), outcome)
    assert report.inputs == []
    assert report.outputs == [("s3://brand-out", "run/result-0.png"), ("file", "/data/out/run/result-1.png")]
    assert report.facet["sourceImage"] == "development/images/mug.png"
    assert report.facet["uuid"] == "gen-1"
    assert report.facet["seeds"] == [11, 12]
    assert report.facet["resultPaths"] == ["development/images/r0.png", "development/images/r1.png"]
    assert report.facet["resultUrls"] == ["https://asset.example/r0.png"]


def test_a_reused_generation_reads_the_earlier_files_and_names_the_earlier_uuid():
    outcome = GenerationOutcome(
        stored_paths=["file:///data/out/run2/result-0.png"],
        reused_from={"uuid": "gen-earlier", "stored_paths": ["file:///data/out/run1/result-0.png"]},
    )
    report = describe(_operator(image_url="development/images/mug.png", style_reference_images=None), outcome)
    assert report.inputs == [("file", "/data/out/run1/result-0.png")]
    assert report.outputs == [("file", "/data/out/run2/result-0.png")]
    assert report.facet["reused"] is True
    assert report.facet["uuid"] == "gen-earlier"


def test_the_report_carries_nothing_from_the_connection():
    operator = _operator()
    operator.onemin_conn_id = "onemin_default"
    operator.hook = SimpleNamespace(api_key="sk-should-never-appear")
    text = json.dumps(describe(operator, GenerationOutcome(uuid="gen-1")).facet)
    assert "sk-should-never-appear" not in text
    assert "onemin_default" not in text


def test_importing_the_lineage_module_imports_no_openlineage():
    # Another test may have imported OpenLineage already (when installed): check in a clean process.
    # Airflow itself reads the provider's info at import: only what this package adds counts.
    import subprocess

    code = (
        "import sys, airflow.sdk; before = set(sys.modules);"
        "import airflow_provider_onemin.lineage, airflow_provider_onemin.operators.background_replacer;"
        "print(sorted(m for m in set(sys.modules) - before if 'openlineage' in m))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
