"""
The Background Remover (``BackgroundRemoverOperator``) in real DAG runs (``dag.test()``) against
the emulator.

The judges are independent of the code under test: the emulator's own rules and the body it
recorded (written out here from issue 21: ``imageUrl`` and ``output_format``, nothing else), its
count of charges, and the stored files read back with Pillow, checked against the source photo
this test draws (its corners are background, its middle is the product).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from airflow.sdk import DAG, ObjectStoragePath
from PIL import Image, ImageDraw

from airflow_provider_onemin.exceptions import OneMinConfigurationError, OneMinValidationError
from airflow_provider_onemin.hooks.onemin import OneMinHook
from airflow_provider_onemin.operators.background_remover import BackgroundRemoverOperator
from tests.support.airflow_helpers import run_dag

START = datetime(2026, 1, 1)
SIZE = (200, 160)
BACKDROP = (236, 236, 234)
PRODUCT = (200, 30, 30)
#: The product's box; its middle is far from every edge, the corners are backdrop.
BOX = (60, 40, 140, 120)
MIDDLE = (100, 80)
CORNERS = ((0, 0), (SIZE[0] - 1, 0), (0, SIZE[1] - 1), (SIZE[0] - 1, SIZE[1] - 1))


def product_photo() -> bytes:
    """An opaque product photo: a red box on a plain light backdrop (PNG, no alpha channel)."""
    image = Image.new("RGB", SIZE, BACKDROP)
    ImageDraw.Draw(image).rectangle(BOX, fill=PRODUCT)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def opened(uri: str) -> Image.Image:
    image = Image.open(io.BytesIO(ObjectStoragePath(uri).read_bytes()))
    image.load()
    return image


def snapshot(emulator) -> tuple[int, int]:
    """(charges, generations recorded)."""
    state = emulator.snapshot()
    return state["charges"]["total"], state["records"]


@pytest.mark.compat  # the second operator on the shared paid path, on every minor
@pytest.mark.parametrize("output_format", ["png", "webp"])
def test_png_and_webp_results_keep_a_transparent_background(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, output_format
) -> None:
    source = onemin_emulator.add_asset(product_photo(), "box.png")
    dag_id = f"remover_{output_format}"
    with DAG(dag_id=dag_id, schedule=None, start_date=START) as dag:
        BackgroundRemoverOperator(
            task_id="cut", image_url=source, output_format=output_format, output_path=str(output_dir)
        )
    result = run_dag(dag)

    assert result.state == "success", result.tasks
    assert snapshot(onemin_emulator) == (1, 1), "one generation, paid once"
    xcom = result.task("cut").xcom
    generation = onemin_emulator.record(xcom["ai_record_uuid"])
    assert (generation.feature, generation.model) == ("BACKGROUND_REMOVER", "stable-image")
    assert generation.prompt_object == {"imageUrl": source, "output_format": output_format}
    assert xcom["return_value"] == generation.result_keys and len(xcom["return_value"]) == 1
    (stored,) = xcom["stored_paths"]
    assert f"/{dag_id}/{result.run_id[:6]}" in stored and "/cut/" in stored
    assert stored.rsplit("/", 1)[1] == f"result-0.{output_format}"
    image = opened(stored)
    assert image.format == output_format.upper()
    assert "A" in image.getbands(), "an alpha channel"
    rgba = image.convert("RGBA")
    assert [rgba.getpixel(corner)[3] for corner in CORNERS] == [0, 0, 0, 0], "the backdrop is transparent"
    assert rgba.getpixel(MIDDLE) == (*PRODUCT, 255), "the product is kept, opaque, pixel for pixel"
    assert xcom["model"] == "stable-image"
    # The viewer captions a result without a prompt by its feature.
    assert xcom["feature"] == "BACKGROUND_REMOVER" and xcom.get("prompt") is None


def test_jpeg_is_flattened_onto_white_with_a_warning(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, capfd
) -> None:
    source = onemin_emulator.add_asset(product_photo(), "box.png")
    with DAG(dag_id="remover_jpeg", schedule=None, start_date=START) as dag:
        BackgroundRemoverOperator(
            task_id="cut", image_url=source, output_format="jpeg", output_path=str(output_dir)
        )
    capfd.readouterr()
    result = run_dag(dag)
    out, err = capfd.readouterr()

    assert result.state == "success", result.tasks
    assert snapshot(onemin_emulator) == (1, 1)
    xcom = result.task("cut").xcom
    generation = onemin_emulator.record(xcom["ai_record_uuid"])
    assert generation.prompt_object == {"imageUrl": source, "output_format": "jpeg"}
    (stored,) = xcom["stored_paths"]
    assert stored.rsplit("/", 1)[1] == "result-0.jpg"
    image = opened(stored)
    assert image.format == "JPEG" and image.mode == "RGB"
    for corner in CORNERS:
        assert min(image.getpixel(corner)) >= 250, f"white where it was transparent ({corner})"
    assert all(abs(a - b) <= 12 for a, b in zip(image.getpixel(MIDDLE), PRODUCT, strict=True)), (
        "the product is kept"
    )
    assert "flattened onto white" in out + err


def test_a_local_photo_is_uploaded_and_another_model_is_sent_as_named(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, tmp_path
) -> None:
    photo = tmp_path / "box.png"
    photo.write_bytes(product_photo())
    with DAG(dag_id="remover_recraft", schedule=None, start_date=START) as dag:
        BackgroundRemoverOperator(
            task_id="cut", model="recraft", image_url=str(photo), output_path=str(output_dir)
        )
    result = run_dag(dag)

    assert result.state == "success", result.tasks
    state = onemin_emulator.snapshot()
    assert (state["charges"]["total"], state["assets"]) == (1, 1), "uploaded once, paid once"
    generation = onemin_emulator.record(result.task("cut").xcom["ai_record_uuid"])
    assert generation.model == "recraft"
    assert set(generation.prompt_object) == {"imageUrl", "output_format"}
    assert generation.prompt_object["output_format"] == "png", "png is sent when not given"
    assert generation.prompt_object["imageUrl"].startswith("development/images/")
    assert onemin_emulator.state.asset(generation.prompt_object["imageUrl"]).data == photo.read_bytes()


@pytest.mark.parametrize(
    ("arguments", "value", "message"),
    [
        (
            {"output_format": "{{ params.value }}"},
            "gif",
            "promptObject.output_format: must be one of png, webp, jpeg",
        ),
        ({"output_format": "{{ params.value }}"}, "PNG", "promptObject.output_format: must be one of"),
        ({"image_url": "{{ params.value }}"}, " ", "promptObject.imageUrl: must not be blank"),
    ],
)
def test_a_rendered_value_the_model_refuses_fails_before_paying(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, capfd, arguments, value, message
) -> None:
    source = onemin_emulator.add_asset(product_photo(), "box.png")
    with DAG(dag_id="remover_refused", schedule=None, start_date=START, params={"value": "x"}) as dag:
        BackgroundRemoverOperator(
            task_id="cut", output_path=str(output_dir), **{"image_url": source, **arguments}
        )
    capfd.readouterr()
    result = run_dag(dag, run_conf={"value": value})
    out, err = capfd.readouterr()

    assert result.task("cut").state == "failed"
    assert "Invalid Background Remover request for model stable-image" in out + err
    assert message in out + err
    assert snapshot(onemin_emulator) == (0, 0), "nothing sent, nothing paid"
    assert not list(output_dir.rglob("result-*")), "nothing stored"


def test_a_literal_bad_value_fails_the_dag_import() -> None:
    with pytest.raises(OneMinValidationError) as caught:
        BackgroundRemoverOperator(task_id="cut", image_url="development/images/box.png", output_format="tiff")
    assert str(caught.value).startswith("Invalid Background Remover request for model stable-image")
    assert caught.value.violations == [
        "promptObject.output_format: must be one of png, webp, jpeg (png and webp keep the "
        "transparency; jpeg has none: the provider flattens it onto white)"
    ]


def test_an_unknown_model_fails_the_dag_import_listing_the_known_ones() -> None:
    with pytest.raises(OneMinConfigurationError) as caught:
        BackgroundRemoverOperator(task_id="cut", model="ideogram-3", image_url="{{ params.photo }}")
    assert "Unknown Background Remover model 'ideogram-3'" in str(caught.value)
    assert "clipdrop, recraft, stable-image" in str(caught.value)


def test_arguments_are_templated() -> None:
    assert {"image_url", "output_format", "output_path"} <= set(BackgroundRemoverOperator.template_fields)


def test_dry_run_logs_the_body_and_one_image(onemin_emulator, onemin_conn_env, capfd) -> None:
    op = BackgroundRemoverOperator(
        task_id="cut", image_url="development/images/box.png", output_format="webp", dry_run=True
    )
    capfd.readouterr()
    assert op.execute({}) == []
    text = "".join(capfd.readouterr())
    assert '"type": "BACKGROUND_REMOVER"' in text and '"output_format": "webp"' in text
    assert "would pay for 1 image(s)" in text
    assert snapshot(onemin_emulator) == (0, 0)


@pytest.fixture
def no_blocking_wait(monkeypatch):
    """Deferrable tasks must never wait on the worker."""

    def refuse(*args, **kwargs):
        raise AssertionError("a deferrable task polled on the worker instead of deferring")

    monkeypatch.setattr(OneMinHook, "wait_for_result", refuse)


@pytest.mark.compat  # resume through the submission record (Variables before 3.3)
def test_a_timed_out_wait_is_retried_and_resumes_without_paying_twice(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, no_blocking_wait
) -> None:
    # As tests/operators/test_deferrable.py: the render ends only once the first try has failed
    # (its retry callback runs in this process under dag.test()), so the first wait times out.
    onemin_emulator.set_latency(3600)

    def end_the_render(context) -> None:
        for record in onemin_emulator.records:
            record.ready_at = 0.0

    source = onemin_emulator.add_asset(product_photo(), "box.png")
    with DAG(dag_id="remover_timeout_retry", schedule=None, start_date=START) as dag:
        BackgroundRemoverOperator(
            task_id="cut",
            image_url=source,
            output_path=str(output_dir),
            deferrable=True,
            poll_interval=0.1,
            poll_timeout=0.3,
            retries=3,
            retry_delay=timedelta(0),
            on_retry_callback=end_the_render,
        )
    result = run_dag(dag)

    ti = result.task("cut")
    assert result.state == "success", result.tasks
    assert ti.try_number == 2, "the first wait timed out, the retry resumed the generation"
    assert snapshot(onemin_emulator) == (1, 1), "paid once"
    assert ti.xcom["ai_record_uuid"] == onemin_emulator.records[0].uuid
    (stored,) = ti.xcom["stored_paths"]
    assert opened(stored).convert("RGBA").getpixel((0, 0))[3] == 0


def test_reuse_pays_once_for_the_same_image_twice(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, tmp_path
) -> None:
    first, second = tmp_path / "a" / "box.png", tmp_path / "b" / "box-again.png"
    for photo in (first, second):
        photo.parent.mkdir()
        photo.write_bytes(product_photo())  # the same image under two names
    with DAG(dag_id="remover_reuse", schedule=None, start_date=START) as dag:
        one = BackgroundRemoverOperator(
            task_id="one", image_url=str(first), output_path=str(output_dir), reuse=True
        )
        two = BackgroundRemoverOperator(
            task_id="two", image_url=str(second), output_path=str(output_dir), reuse=True
        )
        one >> two
    result = run_dag(dag)

    assert result.state == "success", result.tasks
    assert snapshot(onemin_emulator) == (1, 1), "one payment for one image"
    paid, reused = result.task("one").xcom, result.task("two").xcom
    assert reused["reused_from"] == {"uuid": paid["ai_record_uuid"], "stored_paths": paid["stored_paths"]}
    assert [ObjectStoragePath(p).read_bytes() for p in reused["stored_paths"]] == [
        ObjectStoragePath(p).read_bytes() for p in paid["stored_paths"]
    ]


def test_reuse_never_serves_a_png_cut_out_for_a_webp_request(
    airflow_db, onemin_emulator, onemin_conn_env, output_dir, tmp_path
) -> None:
    photo = tmp_path / "box.png"
    photo.write_bytes(product_photo())
    with DAG(dag_id="remover_reuse_formats", schedule=None, start_date=START) as dag:
        png = BackgroundRemoverOperator(
            task_id="png", image_url=str(photo), output_path=str(output_dir), reuse=True
        )
        webp = BackgroundRemoverOperator(
            task_id="webp",
            image_url=str(photo),
            output_format="webp",
            output_path=str(output_dir),
            reuse=True,
        )
        png >> webp
    result = run_dag(dag)

    assert result.state == "success", result.tasks
    assert snapshot(onemin_emulator)[0] == 2, "two formats, two requests"
    assert result.task("webp").xcom.get("reused_from") is None
    assert opened(result.task("webp").xcom["stored_paths"][0]).format == "WEBP"
