"""
Marketing asset pipeline: every product of the catalogue in every scene, once a day, paying only
for what is new.

``plan`` reads the product catalogue (``marketing_catalogue.csv`` next to this file, or the CSV
that ``ONEMIN_CATALOGUE`` names: sku, product, photo, the photo relative to the catalogue or a
path or URL of its own, and channels: the channels its scenes are rendered for, built-in preset
names separated by spaces or ``;``, ``shopify_square web_thumbnail`` when empty or missing) and
pairs every product with every scene prompt (the ``scenes`` param). An unknown channel, or a sku
listed twice, fails ``plan`` naming the sku and the channel, before anything is paid.
Each line's seed comes from its product and scene (and the ``base_seed`` param), never from its
position: adding a product or a scene leaves every other line's request unchanged.
``plan`` then previews the cost: it builds each request key (one Background Remover cut-out per
product, one Background Replacer generation per line) with the operators' own function, looks it
up in the reuse index under ``ONEMIN_OUTPUT_PATH`` and logs (and pushes as XCom ``preview``) the
lines, those already generated, the new generations, the new images to pay for and what they would
cost in credits (from 1min.ai's model list, else from earlier paid calls with the same options,
else unknown: docs/models.md). When the new images exceed the ``max_new_images`` param, or the
credits the ``max_credits`` param (off by default; an unknown estimate counts as over it unless
``allow_unknown_credits``), it fails, before anything is uploaded or paid, saying by how much.

``cut_out`` (one per product) and ``replace_background`` (one per line) are mapped task instances
(dynamic task mapping), with ``reuse=True``: an image generated before (by any run) is copied into
this run's folder for free; a new one uploads its photo, pays for one image and stores the result
under ``ONEMIN_OUTPUT_PATH`` (any ``ObjectStoragePath`` URL; default ``/tmp/onemin-out``).
``write_manifest`` then writes ``manifest.csv`` (sku, product, prompt, seed, uuid, stored_path,
status: reused or new, credits: what the line cost, 0 when reused, ``unknown`` when 1min.ai did not
say) next to the results.

``render_main`` makes each product's ``amazon_main`` image (2000 px on pure white) from its
cut-out; ``render_scenes`` makes each line's result into the product's channels, with the cut-out
as ``product_masks`` so that each compliance report carries the product-fidelity score
(docs/renditions.md). Both reuse renditions made before from the same bytes (nothing is paid
there). ``choices`` lists them for the review: one choice per product and channel, and one per
rendition flagged ``needs_review``, which is published only when a person picks it by name. On
Airflow 3.1+ ``review`` asks a person and ``publish`` copies the approved renditions to
``published/<channel>/<sku>/<position>.<ext>`` and writes ``published.csv`` (the shop import:
sku, channel, position, uri, width, height, alt_text) and ``review.csv`` (every rendition with its
decision) beside the run's results (docs/pipeline.md).

Every stored result also emits an event on the output folder's asset, so a DAG scheduled on
``results_asset(ONEMIN_OUTPUT_PATH)`` runs after each pipeline run.

Cost: the first run pays for every image not generated yet under ``ONEMIN_OUTPUT_PATH`` (3
cut-outs and 3 products x 2 scenes = 9 images with the shipped files, under the default
``max_new_images`` of 10); later runs pay only for new or changed lines (docs/reuse.md). Preview without paying:
``airflow tasks test marketing_asset_pipeline plan``. Catch-up is off, so a paused week does not
start seven runs. To cap concurrent generations across all DAGs under the account's rate limit,
create a pool (``airflow pools set onemin 4 "1min.ai"``) and add ``pool="onemin"`` to
``.partial()``; ``max_active_tis_per_dagrun`` below caps one run only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, ObjectStoragePath, Param, task

from airflow_provider_onemin.operators.background_remover import BackgroundRemoverOperator
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from airflow_provider_onemin.operators.renditions import RenditionsOperator
from airflow_provider_onemin.operators.review import REVIEW_AVAILABLE, ResultsReviewOperator
from airflow_provider_onemin.pipeline import (
    MAIN_CHANNEL,
    check_catalogue,
    combined_preview,
    preview_costs,
    results_asset,
)

DAG_FOLDER = Path(__file__).resolve().parent
CATALOGUE = os.environ.get("ONEMIN_CATALOGUE", str(DAG_FOLDER / "marketing_catalogue.csv"))
OUTPUT_PATH = os.environ.get("ONEMIN_OUTPUT_PATH", "/tmp/onemin-out")
#: The asset every stored result is announced on (outlets are fixed at parse time).
RESULTS = results_asset(OUTPUT_PATH)
SCENES = [
    "a sunlit marble kitchen counter, soft morning light",
    "a mossy rock by a mountain stream at golden hour",
]
#: What every line asks for besides its prompt, photo and seed; the preview uses the same arguments.
REQUEST = {"num_images": 1, "rendering_speed": "TURBO", "negative_prompt": "people, text, logos, watermarks"}
#: How long a review waits for a person by default (the ``review_timeout_minutes`` param).
REVIEW_TIMEOUT = timedelta(days=2)
#: Runs at once: every daily run that may still wait at its review, one more for the day's run
#: and one for a run triggered by hand.
MAX_ACTIVE_RUNS = REVIEW_TIMEOUT.days + 2
#: The cut-out's format: PNG keeps the transparency amazon_main is made from.
CUTOUT = {"output_format": "png"}
#: Default cap on the images one run may pay for (the shipped first run pays for 9).
MAX_NEW_IMAGES = 10
MANIFEST_FIELDS = ["sku", "product", "prompt", "seed", "uuid", "stored_path", "status", "credits"]

log = logging.getLogger(__name__)


def read_catalogue() -> list[dict[str, str]]:
    """The catalogue's products, each with ``photo`` as the operator takes it (a path or a URL)."""
    local = "://" not in CATALOGUE
    text = (Path(CATALOGUE) if local else ObjectStoragePath(CATALOGUE)).read_text(encoding="utf-8")
    products = list(csv.DictReader(io.StringIO(text)))
    folder = str(Path(CATALOGUE).parent) if local else CATALOGUE.rsplit("/", 1)[0]
    for product in products:
        photo = product["photo"]
        if "://" not in photo and not photo.startswith("/"):
            product["photo"] = f"{folder}/{photo}"
    return products


def line_seed(sku: str, scene: str, base_seed: int) -> int:
    """A seed of the line's own, from its product and scene: stable when lines are added or removed."""
    digest = hashlib.sha256(f"{base_seed}\n{sku}\n{scene}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2147483648


def credits_cell(credits: float | None) -> str:
    """A line's credits as the manifest writes them: a plain number, or ``unknown`` (never 0)."""
    if credits is None:
        return "unknown"
    return str(int(credits)) if float(credits).is_integer() else str(credits)


def operator_arguments(line: dict[str, Any]) -> dict[str, Any]:
    """The BackgroundReplacerOperator arguments of one plan line (mapping accepts nothing else)."""
    return {"prompt": line["prompt"], "image_url": line["image_url"], "seed": line["seed"]}


def product_photo(product: dict[str, Any]) -> str:
    """The photo a product's cut-out is made from (the remover's ``image_url``)."""
    return product["photo"]


with DAG(
    dag_id="marketing_asset_pipeline",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    # A run may wait up to review_timeout_minutes at its review; a run that waits must not hold
    # back the next day's run or one triggered by hand. Runs side by side never pay twice for
    # one image (reuse claims: docs/reuse.md); see docs/pipeline.md.
    max_active_runs=MAX_ACTIVE_RUNS,
    tags=["example", "onemin"],
    params={
        "scenes": Param(SCENES, type="array", minItems=1, items={"type": "string", "minLength": 1}),
        "base_seed": Param(
            20260101,
            type="integer",
            minimum=0,
            description="Mixed into every line's seed: change it for a new set of pictures (pays for every line).",
        ),
        "max_new_images": Param(
            MAX_NEW_IMAGES,
            type="integer",
            minimum=0,
            description="plan fails, before anything is uploaded or paid, when a run would pay for more new images.",
        ),
        "max_credits": Param(
            None,
            type=["null", "number"],
            minimum=0,
            description="plan fails, before anything is paid, when a run would spend more credits "
            "(null: no credit cap; docs/models.md).",
        ),
        "allow_unknown_credits": Param(
            False,
            type="boolean",
            description="Under max_credits, pay for lines whose credits cannot be estimated "
            "(max_new_images still caps them); off: plan fails instead.",
        ),
        "review_timeout_minutes": Param(
            REVIEW_TIMEOUT.total_seconds() / 60,
            type="number",
            exclusiveMinimum=0,
            description="How long the review waits for an answer; after it, nothing is published.",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task
    def plan(params: dict[str, Any] | None = None, ti: Any = None) -> list[dict[str, Any]]:
        """One line per product x scene, with its photo and seed; fails when it would cost too much."""
        params = params or {}
        base_seed = int(params.get("base_seed", 20260101))
        catalogue = read_catalogue()
        check_catalogue(catalogue)  # every row, before anything is looked up or paid
        lines = [
            {
                "sku": product["sku"],
                "product": product["product"],
                "prompt": scene,
                "image_url": product["photo"],
                "seed": line_seed(product["sku"], scene, base_seed),
                "channels": product["channels"],
            }
            for product in catalogue
            for scene in params.get("scenes", SCENES)
        ]
        scenes = preview_costs(OUTPUT_PATH, [{**REQUEST, **operator_arguments(line)} for line in lines])
        for line, looked_up in zip(lines, scenes.lines, strict=True):
            line["expected"] = "new" if looked_up.reusable is None else "reused"
        cutouts = preview_costs(
            OUTPUT_PATH,
            [{**CUTOUT, "image_url": product["photo"]} for product in catalogue],
            feature="BACKGROUND_REMOVER",
        )
        cost = combined_preview(cutouts, scenes)
        cap = int(params.get("max_new_images", MAX_NEW_IMAGES))
        max_credits = params.get("max_credits")
        allow_unknown = bool(params.get("allow_unknown_credits", False))
        log.info(
            "Plan: %d lines (%d cut-outs, %d scenes), %d already generated, %d new generations, %d new "
            "images to pay for (max_new_images=%d).",
            len(cost.lines),
            len(cutouts.lines),
            len(lines),
            cost.reused,
            cost.new_generations,
            cost.new_images,
            cap,
        )
        log.info(
            "Plan: credits: %s (max_credits=%s).",
            cost.credits_text(),
            "none" if max_credits is None else max_credits,
        )
        for line, looked_up in zip(lines, scenes.lines, strict=True):
            if looked_up.credits is not None:
                log.info("Plan: %s / %s: %s", line["sku"], line["prompt"], looked_up.credits.describe())
        if ti is not None:
            summary = {**cost.summary(), "max_new_images": cap, "max_credits": max_credits}
            ti.xcom_push(key="preview", value=summary)
        cost.check_cap(cap, max_credits, allow_unknown_credits=allow_unknown)
        return lines

    planned = plan()

    @task
    def products(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One entry per product of the plan (sku, name, photo, channels), in catalogue order."""
        from airflow_provider_onemin.pipeline import catalogue_products

        return catalogue_products(lines)

    catalogue = products(planned)

    cut_out = BackgroundRemoverOperator.partial(
        task_id="cut_out",
        **CUTOUT,
        output_path=OUTPUT_PATH,
        reuse=True,
        outlets=[RESULTS],
        max_active_tis_per_dagrun=4,
        retries=2,
        map_index_template="{{ task.image_url.rsplit('/', 1)[-1] }}",
    ).expand(image_url=catalogue.map(product_photo))

    replace = BackgroundReplacerOperator.partial(
        task_id="replace_background",
        **REQUEST,
        output_path=OUTPUT_PATH,
        reuse=True,
        outlets=[RESULTS],
        max_active_tis_per_dagrun=4,
        retries=2,
        map_index_template="{{ task.image_url.rsplit('/', 1)[-1] }}: {{ task.prompt }}",
    ).expand_kwargs(planned.map(operator_arguments))

    @task
    def write_manifest(
        rows: list[dict[str, Any]],
        stored_paths: list[list[str]],
        seeds: list[list[int]],
        uuids: list[str],
        reused_from: list[dict[str, Any] | None],
        credits: list[float | None],
        ti: Any = None,
    ) -> str:
        """Write ``manifest.csv`` (one line per stored result) next to this run's results."""
        from airflow_provider_onemin.pipeline import mapped_values, write_run_file

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
        writer.writeheader()
        # Map index i is plan line i. A new line's reused_from is None, which Airflow 3.0 does
        # not store: read it with mapped_values (None where a map index has no value).
        reused = mapped_values(reused_from, len(rows))
        # None where 1min.ai did not report what a generation cost (Airflow 3.0 stores no None).
        line_credits = mapped_values(credits, len(rows))
        for position, line in enumerate(rows):
            paths, line_seeds, uuid = stored_paths[position], seeds[position], uuids[position]
            status = "new" if reused[position] is None else "reused"
            cost = line_credits[position]
            for index, path in enumerate(paths):
                seed = line_seeds[index] if index < len(line_seeds) else line["seed"]
                writer.writerow(
                    {
                        "sku": line["sku"],
                        "product": line["product"],
                        "prompt": line["prompt"],
                        "seed": seed,
                        "uuid": uuid,
                        "stored_path": path,
                        "status": status,
                        # A line's credits on its first row: the generation is paid once.
                        "credits": credits_cell(cost) if index == 0 else "",
                    }
                )
        # Whole or not at all; the URI is s3://bucket/key, what boto3, the AWS CLI and s3fs accept.
        uri = write_run_file(OUTPUT_PATH, ti.dag_id, ti.run_id, "manifest.csv", buffer.getvalue().encode())
        log.info("Manifest of %d generation(s) written to %s", len(rows), uri)
        return uri

    manifest = write_manifest(
        planned,
        replace.output["stored_paths"],
        replace.output["seeds"],
        replace.output["ai_record_uuid"],
        replace.output["reused_from"],
        replace.output["credits"],
    )

    @task
    def main_renditions(items: list[dict[str, Any]], cutouts: Any) -> list[dict[str, Any]]:
        """render_main's arguments per product: its cut-out, its name and its photo."""
        from airflow_provider_onemin.pipeline import main_rendition_arguments

        return main_rendition_arguments(items, cutouts)

    @task
    def scene_renditions(
        lines: list[dict[str, Any]], items: list[dict[str, Any]], stored_paths: Any, cutouts: Any
    ) -> list[dict[str, Any]]:
        """render_scenes' arguments per line: its result, its product's channels and cut-out."""
        from airflow_provider_onemin.pipeline import scene_rendition_arguments

        return scene_rendition_arguments(lines, items, stored_paths, cutouts)

    cutout_paths = cut_out.output["stored_paths"]
    render_main = RenditionsOperator.partial(
        task_id="render_main",
        channels=[MAIN_CHANNEL],
        output_path=OUTPUT_PATH,
        reuse=True,
        map_index_template="{{ task.product['sku'] }}: " + MAIN_CHANNEL,
    ).expand_kwargs(main_renditions(catalogue, cutout_paths))
    render_scenes = RenditionsOperator.partial(
        task_id="render_scenes",
        output_path=OUTPUT_PATH,
        reuse=True,
        # The line's scene is not an argument of the operator: read from the plan, by map index.
        map_index_template=(
            "{{ task.product['sku'] }}: {{ ti.xcom_pull(task_ids='plan')[ti.map_index]['prompt'] }}"
        ),
    ).expand_kwargs(scene_renditions(planned, catalogue, replace.output["stored_paths"], cutout_paths))
    # Direct upstreams: a RenditionsOperator reads its images through the connection of its
    # upstreams' output_path (s3://<conn_id>@bucket/...), as the DAG declares it.
    cut_out >> render_main
    [cut_out, replace] >> render_scenes

    @task
    def choices(
        lines: list[dict[str, Any]],
        items: list[dict[str, Any]],
        main: Any,
        main_compliance: Any,
        scenes: Any,
        scene_compliance: Any,
    ) -> list[dict[str, Any]]:
        """Every rendition of the run, as the review offers them: per product and channel."""
        from airflow_provider_onemin.pipeline import collect_renditions, mapped_values, review_choices

        products, scene_lines = len(items), len(lines)
        renditions = collect_renditions(
            items,
            lines,
            mapped_values(main, products),
            mapped_values(main_compliance, products),
            mapped_values(scenes, scene_lines),
            mapped_values(scene_compliance, scene_lines),
        )
        offered = review_choices(renditions)
        for number, choice in enumerate(offered, start=1):
            log.info("Choice %d: %s", number, choice["option"])
            for record in choice["renditions"]:
                log.info(
                    "  %s: %sx%s %s, fidelity %s",
                    record["uri"],
                    record["width"],
                    record["height"],
                    record["format"],
                    record["fidelity"],
                )
        return offered

    offered = choices(
        planned,
        catalogue,
        render_main.output,
        render_main.output["compliance"],
        render_scenes.output,
        render_scenes.output["compliance"],
    )

    if REVIEW_AVAILABLE:  # Airflow 3.1+: a person picks what to publish (docs/viewer.md)
        review = ResultsReviewOperator(
            task_id="review",
            lines=offered,
            response_timeout_minutes="{{ params.review_timeout_minutes }}",
            # Its own retries (three): Airflow may fail a review answered in its first seconds
            # (apache/airflow#72716), and the next try asks again. A timeout is not retried.
        )
        manifest >> review

        @task(trigger_rule="all_done")
        def publish(offered: Any, ti: Any = None) -> dict[str, Any]:
            """
            Copy the approved renditions to ``published/<channel>/<sku>/<position>.<ext>``; write
            ``published.csv`` (the shop import) and ``review.csv`` beside the run's results.
            """
            from airflow_provider_onemin.pipeline import publish_reviewed

            answer = ti.xcom_pull(task_ids="review")
            return publish_reviewed(offered, answer, OUTPUT_PATH, ti.dag_id, ti.run_id, log)

        review >> publish(offered)
