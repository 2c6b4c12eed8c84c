"""
A DAG with renditions for the channel view's tests: two products, as the marketing pipeline
renders them (issue 22): ``render_main`` (per product: the cut-out into ``amazon_main`` and a
thumbnail) and ``render_scenes`` (per product and scene: the scene's result into social and web
sizes, with the product-fidelity score), each with its ``product`` and its ``source_image``.

One source (:data:`DAG_SOURCE`) for every way the tests run it: in process (``dag.test()``,
:func:`load_dag`) and as a DAG file in a real deployment. The images are drawn here with Pillow
(tests/renditions/rendition_images.py); one scene changes the product's colours, so its renditions
need review.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.renditions.rendition_images import cutout, on_scene

#: The products, in the order their tasks are mapped.
PRODUCTS = [{"sku": "MUG-001", "name": "Stoneware mug"}, {"sku": "SNK-014", "name": "Canvas sneaker"}]
MAIN_CHANNELS = ["amazon_main", "web_thumbnail"]
SCENE_CHANNELS = ["instagram_portrait", "web_thumbnail"]

DAG_SOURCE = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_onemin.operators.renditions import RenditionsOperator

OUT = {out!r}
PHOTOS = {photos!r}
PRODUCTS = {products!r}

with DAG(dag_id={dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    RenditionsOperator.partial(
        task_id="render_main", channels={main!r}, output_path=OUT
    ).expand_kwargs([
        {{"images": [PHOTOS[p["sku"] + "/cut"]], "source_image": PHOTOS[p["sku"] + "/photo"], "product": p}}
        for p in PRODUCTS
    ])
    RenditionsOperator.partial(
        task_id="render_scenes", channels={scenes!r}, output_path=OUT, fidelity_threshold=0.08
    ).expand_kwargs([
        {{
            "images": [PHOTOS["MUG-001/" + scene]],
            "product_masks": PHOTOS["MUG-001/cut"],
            "source_image": PHOTOS["MUG-001/photo"],
            "product": PRODUCTS[0],
        }}
        for scene in ("garden", "recoloured")
    ])
"""


def draw_photos(folder: Path) -> dict[str, str]:
    """The DAG's input images, drawn under ``folder``: a cut-out, a photo and scenes per product."""
    folder.mkdir(parents=True, exist_ok=True)
    photos: dict[str, str] = {}
    for number, product in enumerate(PRODUCTS):
        sku = product["sku"]
        cut = cutout(folder / f"{sku}-cut.png", box=(150, 250 - 100 * number, 1150, 1050))
        photos[f"{sku}/cut"] = str(cut)
        photos[f"{sku}/photo"] = str(on_scene(cut, folder / f"{sku}-photo.jpg", scene=(214, 208, 196)))
    mug = Path(photos["MUG-001/cut"])
    photos["MUG-001/garden"] = str(on_scene(mug, folder / "MUG-001-garden.png"))
    photos["MUG-001/recoloured"] = str(on_scene(mug, folder / "MUG-001-recoloured.png", recolour=True))
    return photos


def dag_source(dag_id: str, out: Path | str, photos: dict[str, str]) -> str:
    """The DAG file's text."""
    return DAG_SOURCE.format(
        dag_id=dag_id,
        out=str(out),
        photos=photos,
        products=PRODUCTS,
        main=MAIN_CHANNELS,
        scenes=SCENE_CHANNELS,
    )


def load_dag(dag_id: str, out: Path | str, photos: dict[str, str], folder: Path) -> Any:
    """The DAG object of :func:`dag_source`, written to ``folder`` and imported, for ``dag.test()``."""
    import importlib.util

    path = folder / f"{dag_id}.py"
    path.write_text(dag_source(dag_id, out, photos))
    spec = importlib.util.spec_from_file_location(dag_id, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag
