"""BackgroundReplacerOperator: arguments, validation at parse and run time, local image uploads."""

from __future__ import annotations

import json
import textwrap

import pytest
from werkzeug import Request, Response

from airflow_provider_onemin.exceptions import (
    OneMinConfigurationError,
    OneMinInputFileError,
    OneMinValidationError,
)
from airflow_provider_onemin.inputs.images import MAX_IMAGE_BYTES
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 100
WEBP = b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 100


def _op(**kwargs) -> BackgroundReplacerOperator:
    base = {"task_id": "replace", "prompt": "a beach", "image_url": "development/images/mug.png"}
    return BackgroundReplacerOperator(**{**base, **kwargs})


def test_issue_example_builds_the_seed_body():
    op = _op(prompt="a sunlit kitchen counter, morning light", num_images=4)
    assert op.request_body() == {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {
            "prompt": "a sunlit kitchen counter, morning light",
            "imageUrl": "development/images/mug.png",
            "num_images": 4,
        },
    }


def test_every_argument_maps_to_its_snake_case_field():
    op = _op(
        num_images=2,
        rendering_speed="QUALITY",
        magic_prompt="OFF",
        style_type="GENERAL",
        style_preset="ART_DECO",
        negative_prompt="people",
        seed=7,
    )
    assert op.prompt_object() == {
        "prompt": "a beach",
        "imageUrl": "development/images/mug.png",
        "num_images": 2,
        "rendering_speed": "QUALITY",
        "magic_prompt": "OFF",
        "style_type": "GENERAL",
        "style_preset": "ART_DECO",
        "negative_prompt": "people",
        "seed": 7,
    }


def test_template_fields():
    expected = {
        "prompt",
        "image_url",
        "negative_prompt",
        "style_reference_images",
        "style_preset",
        "seed",
        "num_images",
    }
    assert expected <= set(BackgroundReplacerOperator.template_fields)
    assert "onemin_conn_id" not in BackgroundReplacerOperator.template_fields


def test_bad_literal_fails_at_construction_with_every_problem():
    with pytest.raises(OneMinValidationError) as info:
        _op(num_images=9, seed=-1, style_preset="ART_DECO", style_reference_images=["a.png"])
    message = str(info.value)
    assert "promptObject.num_images: 9 is greater than the maximum of 8" in message
    assert "promptObject.seed: -1 is less than the minimum of 0" in message
    assert "promptObject.style_reference_images" in message
    assert len(info.value.violations) == 3
    assert "nothing was sent" in message


def test_templated_values_are_validated_only_after_rendering():
    op = _op(num_images="{{ params.n }}")
    assert op.num_images == "{{ params.n }}"  # no error at parse time


@pytest.mark.parametrize(("raw", "expected"), [("4", 4), (" 8 ", 8), ("0", 0)])
def test_rendered_digit_strings_become_integers(raw, expected):
    op = _op(num_images="{{ x }}", seed="{{ y }}")
    op.num_images = raw
    op.seed = raw
    assert op.prompt_object()["seed"] == expected
    assert op.prompt_object()["num_images"] == expected


@pytest.mark.parametrize("raw", ["4.0", "four", "-1", "", "1e3"])
def test_rendered_non_digit_strings_are_validation_errors(raw):
    op = _op(seed="{{ y }}")
    op.seed = raw
    with pytest.raises(OneMinValidationError, match=r"promptObject\.seed"):
        op.validate_request()


def test_unknown_model_lists_supported_ones():
    with pytest.raises(OneMinConfigurationError, match="ideogram-3"):
        _op(model="ideogram-9")


def test_bad_literal_in_a_dag_file_is_an_import_error(tmp_path):
    from tests.support.airflow_helpers import dagbag_class

    (tmp_path / "bad_dag.py").write_text(
        textwrap.dedent(
            """
            from airflow.sdk import DAG
            from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

            with DAG(dag_id="bad_literal", schedule=None):
                BackgroundReplacerOperator(task_id="r", prompt="p", image_url="a/b.png", num_images=9)
            """
        )
    )
    bag = dagbag_class()(dag_folder=str(tmp_path))
    assert "bad_literal" not in bag.dags
    (error,) = bag.import_errors.values()
    assert "promptObject.num_images: 9 is greater than the maximum of 8" in error


# --- local images: checked, then uploaded, before the paid call ------------------------------


@pytest.fixture
def upload_server(httpserver, monkeypatch):
    conn = {"conn_type": "onemin", "host": httpserver.url_for("/").rstrip("/"), "password": "k"}
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    uploaded: list[tuple[str, bytes]] = []

    def handler(request: Request) -> Response:
        upload = request.files["asset"]
        data = upload.read()
        uploaded.append((upload.filename, data))
        key = f"development/images/up-{len(uploaded)}-{upload.filename}"
        return Response(
            json.dumps({"asset": {"key": key}, "fileContent": {"path": key}}), content_type="application/json"
        )

    httpserver.expect_request("/api/assets", method="POST").respond_with_handler(handler)
    httpserver.uploaded = uploaded
    return httpserver


def test_local_files_are_uploaded_and_their_asset_paths_sent(upload_server, tmp_path):
    (tmp_path / "src.png").write_bytes(PNG)
    (tmp_path / "ref1.jpg").write_bytes(JPEG)
    (tmp_path / "ref2.webp").write_bytes(WEBP)
    op = _op(
        image_url=str(tmp_path / "src.png"),
        style_reference_images=[
            f"file://{tmp_path / 'ref1.jpg'}",
            "development/images/already.png",
            str(tmp_path / "ref2.webp"),
        ],
    )
    body = op._with_uploaded_images(op.validate_request())
    assert body["promptObject"]["imageUrl"] == "development/images/up-1-src.png"
    assert body["promptObject"]["style_reference_images"] == [
        "development/images/up-2-ref1.jpg",
        "development/images/already.png",
        "development/images/up-3-ref2.webp",
    ]
    assert [name for name, _ in upload_server.uploaded] == ["src.png", "ref1.jpg", "ref2.webp"]
    assert upload_server.uploaded[0][1] == PNG


def test_asset_paths_and_urls_are_not_uploaded(upload_server):
    op = _op(image_url="https://cdn.example/mug.png", style_reference_images=["development/images/a.png"])
    body = op.validate_request()
    assert op._with_uploaded_images(body) == body
    assert upload_server.uploaded == []


def test_file_type_is_checked_by_content_not_name(upload_server, tmp_path):
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"GIF89a" + b"\0" * 100)
    op = _op(image_url=str(fake))
    with pytest.raises(OneMinInputFileError, match=r"promptObject\.imageUrl: .*not a JPEG, PNG or WebP"):
        op._with_uploaded_images(op.validate_request())
    assert upload_server.uploaded == []


def test_renamed_jpeg_is_accepted(upload_server, tmp_path):
    odd = tmp_path / "photo.bin"
    odd.write_bytes(JPEG)
    op = _op(image_url=str(odd))
    op._with_uploaded_images(op.validate_request())
    assert upload_server.uploaded[0][1] == JPEG


def test_file_of_10_mib_plus_one_byte_is_refused(upload_server, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\0" * (MAX_IMAGE_BYTES + 1 - len(PNG)))
    exact = tmp_path / "exact.png"
    exact.write_bytes(PNG + b"\0" * (MAX_IMAGE_BYTES - len(PNG)))
    op = _op(image_url=str(big))
    with pytest.raises(OneMinInputFileError, match=f"{MAX_IMAGE_BYTES + 1} bytes, over the limit"):
        op._with_uploaded_images(op.validate_request())
    op = _op(image_url=str(exact))
    op._with_uploaded_images(op.validate_request())
    assert len(upload_server.uploaded) == 1


def test_references_over_10_mib_together_are_refused_and_nothing_uploaded(upload_server, tmp_path):
    refs = []
    for i in range(3):
        path = tmp_path / f"ref{i}.png"
        path.write_bytes(PNG + b"\0" * (4 * 1024 * 1024))
        refs.append(str(path))
    op = _op(style_reference_images=refs)
    with pytest.raises(OneMinValidationError, match="style_reference_images: .* bytes together"):
        op._with_uploaded_images(op.validate_request())
    assert upload_server.uploaded == []


def test_missing_file_is_named(upload_server, tmp_path):
    op = _op(image_url=str(tmp_path / "nope.png"), style_reference_images=[str(tmp_path / "gone.jpg")])
    with pytest.raises(OneMinInputFileError) as info:
        op._with_uploaded_images(op.validate_request())
    assert any("promptObject.imageUrl" in v and "does not exist" in v for v in info.value.violations)
    assert any("promptObject.style_reference_images[0]" in v for v in info.value.violations)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"num_images": 0}, "promptObject.num_images"),
        ({"num_images": 9}, "promptObject.num_images"),
        ({"seed": 2147483648}, "promptObject.seed"),
        ({"seed": -1}, "promptObject.seed"),
        ({"prompt": "   "}, "promptObject.prompt"),
        ({"image_url": ""}, "promptObject.imageUrl"),
        ({"rendering_speed": "SLOW"}, "promptObject.rendering_speed"),
        ({"magic_prompt": "MAYBE"}, "promptObject.magic_prompt"),
        ({"style_type": "ANIME"}, "promptObject.style_type"),
        ({"style_preset": "NOT_A_PRESET"}, "promptObject.style_preset"),
        (
            {"style_reference_images": [f"development/images/r{i}.png" for i in range(6)]},
            "promptObject.style_reference_images",
        ),
        (
            {"style_preset": "ART_DECO", "style_reference_images": ["development/images/r.png"]},
            "promptObject.style_reference_images",
        ),
        ({"style_preset": "ART_DECO", "style_type": "REALISTIC"}, "promptObject.style_type"),
        (
            {"style_reference_images": ["development/images/r.png"], "style_type": "FICTION"},
            "promptObject.style_type",
        ),
    ],
)
def test_each_rendered_violation_fails_execute_before_any_request(upload_server, arguments, field):
    """Every rule, hit after rendering: execute raises with the field named and the server sees nothing."""
    op = _op(prompt="{{ params.scene }}")  # templated: validation waits for execute
    for name, value in arguments.items():
        setattr(op, name, value)
    op.prompt = arguments.get("prompt", "a beach")
    with pytest.raises(OneMinValidationError) as info:
        op.execute({})
    assert any(line.startswith(f"{field}:") for line in info.value.violations), info.value.violations
    assert upload_server.log == []
