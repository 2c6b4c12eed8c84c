"""
RenditionsOperator in real DAG runs (``dag.test()``): local folders and moto's S3 server, a mapped
task, an upstream's ``stored_paths`` and ``storage_conn_id``, a refusal, and the fidelity flag.
One run for the whole module: each case is a task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import DAG, BaseOperator, task
from PIL import Image

from airflow_provider_onemin.operators.renditions import RenditionsOperator
from tests.renditions.rendition_images import cutout, on_scene, photo
from tests.support.airflow_helpers import run_dag

SIX = [
    "amazon_main",
    "amazon_lifestyle",
    "shopify_square",
    "instagram_portrait",
    "instagram_story",
    "web_thumbnail",
]
#: What each channel's file is, written out from issue 22 (not read from the presets).
EXPECTED = {
    "amazon_main": ("JPEG", (2000, 2000)),
    "amazon_lifestyle": ("JPEG", (2000, 2000)),  # a square source: its longest side is 2000
    "shopify_square": ("JPEG", (2048, 2048)),
    "instagram_portrait": ("JPEG", (1080, 1350)),
    "instagram_story": ("JPEG", (1080, 1920)),
    "web_thumbnail": ("WEBP", (400, 400)),
}
BANNER = {"name": "banner", "width": 600, "height": 314, "fit": "cover", "format": "jpeg", "quality": 80}


class StoredOnS3(BaseOperator):
    """Pushes ``stored_paths`` as the replacer does; its ``output_path`` names the connection."""

    def __init__(self, *, output_path: str, uris: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_path = output_path
        self.uris = uris

    def execute(self, context: Any) -> None:
        context["ti"].xcom_push(key="stored_paths", value=self.uris)


@pytest.fixture(scope="module")
def run(airflow_db, s3_server, tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("renditions_dag")
    cut = cutout(folder / "cut.png")
    white = photo(
        folder / "white.jpg", size=(1200, 1200), border=(255, 255, 255), product=(100, 100, 1100, 1100)
    )
    coloured = photo(folder / "coloured.jpg", size=(1200, 1200), product=(100, 100, 1100, 1100))
    wide = photo(folder / "wide.jpg")  # 2048 x 1024, opaque
    faithful = on_scene(cut, folder / "faithful.png")
    recoloured = on_scene(cut, folder / "recoloured.png", recolour=True)
    bucket = s3_server.new_bucket()
    s3_server.client().put_object(Bucket=bucket, Key="results/cut.png", Body=cut.read_bytes())
    out = folder / "out"
    with DAG(dag_id="onemin_renditions_cases", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        RenditionsOperator(
            task_id="all_six", images=[str(cut), f"file://{white}"], channels=SIX, output_path=str(out)
        )
        RenditionsOperator(
            task_id="fidelity",
            images=[str(faithful), str(recoloured)],
            channels=["web_thumbnail"],
            product_masks=str(cut),
            fidelity_threshold=0.08,
            output_path=str(out),
        )
        RenditionsOperator.partial(
            task_id="mapped", channels=["web_thumbnail", BANNER], output_path=f"file://{out}"
        ).expand(images=[[str(white)], [str(faithful)]])
        RenditionsOperator(
            task_id="with_source",
            images=[str(faithful)],
            channels=["web_thumbnail"],
            source_image=str(wide),
            product={"sku": "MUG-001", "name": "Stoneware mug"},
            output_path=str(out),
        )
        RenditionsOperator(
            task_id="missing_source",
            images=[str(faithful)],
            channels=["web_thumbnail"],
            source_image=str(folder / "no-such-photo.jpg"),
            output_path=str(out),
        )
        RenditionsOperator(
            task_id="refused",
            images=[str(coloured)],
            channels=["web_thumbnail", "amazon_main"],
            output_path=str(out),
        )

        # What the replacer or the remover is to this task: an upstream whose DAG declares an
        # output_path with a connection, and which pushes stored_paths.
        upstream = StoredOnS3(
            task_id="stored_on_s3",
            output_path=f"s3://onemin_s3_reader@{bucket}/results",
            uris=[f"s3://{bucket}/results/cut.png"],
        )
        upstream >> RenditionsOperator(
            task_id="from_s3",
            images=upstream.output["stored_paths"],
            channels=["amazon_main"],
            source_image=f"s3://{bucket}/results/cut.png",
            output_path=f"s3://onemin_s3_admin@{bucket}/renditions",
        )
    return {"result": run_dag(dag), "out": out, "bucket": bucket}


def _open(uri: str) -> Image.Image:
    return Image.open(uri.removeprefix("file://"))


def test_every_built_in_preset_from_a_cut_out_and_a_white_photo(run) -> None:
    task = run["result"].task("all_six")
    assert task.state == "success"
    stored, compliance = task.xcom["return_value"], task.xcom["compliance"]
    assert list(stored) == SIX
    for channel, (fmt, size) in EXPECTED.items():
        assert [uri.rsplit("/", 2)[1:] for uri in stored[channel]] == [
            [channel, f"image-0.{'webp' if fmt == 'WEBP' else 'jpg'}"],
            [channel, f"image-1.{'webp' if fmt == 'WEBP' else 'jpg'}"],
        ], "input order, one folder per channel"
        for uri, report in zip(stored[channel], compliance[channel], strict=True):
            image = _open(uri)
            assert (image.format, image.size) == (fmt, size), (channel, uri)
            assert (report["width"], report["height"], report["format"]) == (*size, fmt.lower())
            assert report["uri"] == uri
    assert [r["product_box"] for r in compliance["amazon_main"]] == [
        "cut-out alpha",
        "border-colour heuristic",
    ]
    assert all(r["background_check"]["passed"] for r in compliance["amazon_main"])
    assert task.xcom.get("storage_conn_id") is None
    assert not list(run["out"].rglob(".*")), "no temporary file left"


def test_a_changed_product_is_flagged_for_review(run) -> None:
    reports = run["result"].task("fidelity").xcom["compliance"]["web_thumbnail"]
    assert [r["needs_review"] for r in reports] == [False, True]
    assert reports[0]["fidelity"]["score"] < 0.02 and reports[1]["fidelity"]["score"] > 0.08


def test_a_mapped_task_names_its_files_by_map_index(run) -> None:
    for index in (0, 1):
        task = run["result"].task("mapped", index)
        assert task.state == "success"
        (banner,) = task.xcom["return_value"]["banner"]
        assert f"/mapped/map-{index}/banner/image-0.jpg" in banner
        assert _open(banner).size == (600, 314)


def test_the_source_photo_is_copied_beside_the_renditions_with_its_product(run) -> None:
    task = run["result"].task("with_source")
    assert task.state == "success"
    source = task.xcom["source"]
    assert source.endswith("/with_source/source.jpg")
    copy = _open(source)
    assert (copy.format, copy.size) == ("JPEG", (768, 384)), "2048 x 1024 shrunk to 768 on its longest side"
    assert task.xcom["product"] == {"sku": "MUG-001", "name": "Stoneware mug"}
    missing = run["result"].task("missing_source")
    assert missing.state == "failed"
    assert not [p for p in run["out"].rglob("*") if "/missing_source" in str(p)], "read before storing"


def test_a_refused_source_fails_the_task_and_stores_nothing(run) -> None:
    assert run["result"].task("refused").state == "failed"
    assert not [p for p in run["out"].rglob("*") if "/refused" in str(p)]


def test_sources_read_with_the_upstream_connection_and_stored_on_s3(run, s3_server) -> None:
    task = run["result"].task("from_s3")
    assert task.state == "success", "the reader connection the upstream pushed read the cut-out"
    (uri,) = task.xcom["return_value"]["amazon_main"]
    assert uri.startswith(f"s3://{run['bucket']}/renditions/onemin_renditions_cases/") and uri.endswith(
        ".jpg"
    )
    assert s3_server.content_type(uri) == "image/jpeg"
    assert task.xcom["storage_conn_id"] == "onemin_s3_admin"
    import io

    assert Image.open(io.BytesIO(s3_server.read(uri))).size == (2000, 2000)
    source = task.xcom["source"]
    assert source == uri.rsplit("/", 2)[0] + "/source.png", "beside the channel folders, a PNG: a cut-out"
    copy = Image.open(io.BytesIO(s3_server.read(source)))
    assert (copy.mode, copy.size) == ("RGBA", (768, 768)), "a 1200 px cut-out shrunk to 768, alpha kept"
    assert s3_server.content_type(source) == "image/png"
    assert sorted(k for k in s3_server.keys(run["bucket"]) if k.startswith("renditions/")) == sorted(
        [uri.split("/", 3)[3], source.split("/", 3)[3]]
    )


def test_the_reading_connection_comes_from_the_dag_never_from_xcom(tmp_path) -> None:
    with DAG(dag_id="onemin_renditions_conn", schedule=None, start_date=datetime(2026, 1, 1)):

        @task
        def forged(ti=None) -> None:
            # Anyone allowed to write XCom could push this: it must not choose the connection.
            ti.xcom_push(key="storage_conn_id", value="onemin_s3_admin")

        # A connection id of its own: Airflow keeps one filesystem per connection id for the whole
        # process, and one made here (no such connection) must not serve the S3 tests' connections.
        declared = StoredOnS3(task_id="declared", output_path="s3://shop_declared@bucket/out", uris=[])
        templated = StoredOnS3(task_id="templated", output_path="s3://{{ params.conn }}@bucket/out", uris=[])
        renditions = RenditionsOperator(
            task_id="renditions", images=["/x.png"], channels=["web_thumbnail"], output_path=str(tmp_path)
        )
        forged() >> renditions
        [declared, templated] >> renditions
        only_forged = RenditionsOperator(
            task_id="only_forged", images=["/x.png"], channels=["web_thumbnail"], output_path=str(tmp_path)
        )
    assert renditions._upstream_conn_id() == "shop_declared"
    only_forged.set_upstream(renditions.dag.get_task("forged"))
    assert only_forged._upstream_conn_id() is None
