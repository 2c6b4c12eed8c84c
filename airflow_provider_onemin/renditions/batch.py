"""
One batch of renditions, from checked input to stored files, in three steps:

1. **check**: every source's header is read (no pixel decoded) and every size rule that needs no
   pixel is checked: a source too small for a preset (more than 2x enlargement) is refused, all
   sources and presets at once;
2. **render**: one source at a time is read, decoded once (at reduced size where JPEG allows:
   the largest reduction every preset still gets enough pixels from), and rendered into every
   preset, each scaled region shared by presets of the same geometry; each rendition is encoded
   into a local spool folder, read back and checked against its channel's rule (with reuse on, a
   rendition made before from the same bytes and preset is read into the spool instead, checked
   by its SHA-256: :mod:`.reuse`; a source whose every rendition is reused is not decoded). A source that
   cannot make a channel's rendition (an ``amazon_main`` source that is neither a cut-out nor
   white-bordered) or a rendition that breaks its rule is reported, with every other problem;
3. **store**: only when every rendition of the batch passed, each is stored through the same
   code as results (``storage/results.py``): temporary name and rename on a local folder, one
   upload with its content type on an object store. Nothing is written to the output before.

Memory holds one decoded source and its renditions at a time, whatever the batch size. A change
that changes a rendition's bytes or its report must bump :data:`.reuse.RENDERER_VERSION`.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.exceptions import OneMinRenditionError

if TYPE_CHECKING:
    import logging

    from airflow_provider_onemin.renditions.presets import Preset
    from airflow_provider_onemin.renditions.render import Decoded, Plan
    from airflow_provider_onemin.renditions.reuse import RenditionIndex

_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}
#: How far (levels) a border pixel of an opaque ``amazon_main`` source may be from white.
SOURCE_WHITE_TOLERANCE = 8


@dataclass(frozen=True)
class Names:
    """The task instance whose renditions these are (their names are built from it only)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int

    def folder(self) -> str:
        """``<dag>/<run>/<task>[/map-<k>]``: this task instance's own folder."""
        from airflow_provider_onemin.storage.results import safe_part

        parts = [safe_part(self.dag_id), safe_part(self.run_id), safe_part(self.task_id)]
        if self.map_index >= 0:
            parts.append(f"map-{self.map_index}")
        return "/".join(parts)

    def stem(self, channel: str, index: int) -> str:
        """``<dag>/<run>/<task>[/map-<k>]/<channel>/image-<i>`` (without extension)."""
        from airflow_provider_onemin.storage.results import safe_part

        return f"{self.folder()}/{safe_part(channel)}/image-{index}"


def check_sources(images: list[str], presets: list[Preset], conn_id: str | None) -> list[tuple[int, int]]:
    """
    Step 1: every source's size, from its header; every problem raised at once.

    :raises OneMinRenditionError: a source too small for a preset, missing or not an image.
    """
    from airflow_provider_onemin.exceptions import OneMinInputFileError
    from airflow_provider_onemin.renditions.render import MAX_UPSCALE, scale_needed
    from airflow_provider_onemin.renditions.sources import probe_source

    problems: list[str] = []
    sizes: list[tuple[int, int]] = []
    for index, uri in enumerate(images):
        try:
            header = probe_source(uri, conn_id, f"images[{index}]")
        except OneMinInputFileError as exc:
            problems.extend(exc.violations)
            sizes.append((0, 0))
            continue
        sizes.append((header.width, header.height))
        for preset in presets:
            scale = scale_needed(preset, header.width, header.height)
            if scale is not None and scale > MAX_UPSCALE:
                problems.append(_too_small(index, uri, preset, (header.width, header.height), scale))
    if problems:
        raise OneMinRenditionError(
            problems, summary="The sources cannot make these renditions; nothing was stored"
        )
    return sizes


def _too_small(index: int, uri: str, preset: Preset, size: tuple[int, int], scale: float) -> str:
    return (
        f"images[{index}]: {uri} is {size[0]}x{size[1]}; {preset.name} ({preset.width}x{preset.height}, "
        f"{preset.fit}) would enlarge it {scale:.2f}x, more than 2x: give a larger source"
    )


def _decode_size(presets: list[Preset], size: tuple[int, int]) -> tuple[int, int] | None:
    """The least decoded size every preset needs from a source of ``size`` (None: full size)."""
    from airflow_provider_onemin.renditions.render import scale_needed

    scales = [scale_needed(preset, *size) for preset in presets]
    if any(scale is None for scale in scales) or max(scales) >= 1:  # type: ignore[type-var]
        return None
    top = max(scales)  # type: ignore[type-var]
    return (math.ceil(size[0] * top), math.ceil(size[1] * top))


def _not_a_cutout(decoded: Decoded, index: int, uri: str, preset: Preset) -> str | None:
    """Why an opaque source cannot be ``preset``'s (white background) rendition, or None."""
    if decoded.cutout or not preset.needs_product_mask:
        return None
    edge = decoded.edge_colour()
    if min(edge) >= 255 - SOURCE_WHITE_TOLERANCE and _border_is_white(decoded):
        return None
    return (
        f"channels {preset.name}: images[{index}] {uri} has no transparency and its border is not white "
        f"(border colour {edge}), so its background cannot be made pure white without cutting the product "
        "out. Pass the Background Remover's result (its stored_paths: a PNG with transparency), or an "
        "image already on a white background."
    )


def _border_is_white(decoded: Decoded) -> bool:
    image = decoded.image.convert("RGB") if decoded.image.mode != "RGB" else decoded.image
    width, height = image.size
    for box in (
        (0, 0, width, 1),
        (0, height - 1, width, height),
        (0, 0, 1, height),
        (width - 1, 0, width, height),
    ):
        if any(low < 255 - SOURCE_WHITE_TOLERANCE for low, _ in image.crop(box).getextrema()):
            return False
    return True


def render_all(
    images: list[str],
    sizes: list[tuple[int, int]],
    presets: list[Preset],
    *,
    conn_id: str | None,
    masks: list[str | None],
    threshold: float,
    spool: str,
    log: logging.Logger | Any,
    index: RenditionIndex | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """
    Step 2: every rendition encoded under ``spool`` (or, with ``index``, an earlier identical one
    read there) and checked; the report per channel, in input order (each entry has ``spool`` for
    step 3).

    :raises OneMinRenditionError: every source that cannot make a rendition and every rendition
        that breaks its channel's rule, at once.
    """
    from airflow_provider_onemin.renditions.sources import read_source

    reports: dict[str, list[dict[str, Any]]] = {preset.name: [] for preset in presets}
    problems: list[str] = []
    for position, uri in enumerate(images):
        data = read_source(uri, conn_id, f"images[{position}]")
        cutout = None
        if masks[position]:
            cutout = read_source(masks[position], conn_id, f"product_masks[{position}]")  # type: ignore[arg-type]
        decode_size = _decode_size(presets, sizes[position])
        fidelity = None
        if cutout is not None:
            from airflow_provider_onemin.renditions.compliance import fidelity_score

            score = fidelity_score(data, cutout)
            fidelity = {"score": score, "threshold": threshold, "mask": masks[position]}
        paths = {p.name: os.path.join(spool, f"{position}-{p.name}{_EXTENSIONS[p.format]}") for p in presets}
        reused: dict[str, dict[str, Any]] = {}
        keys: dict[str, str] = {}
        if index is not None:
            from airflow_provider_onemin.renditions.reuse import batch_context, rendition_key, sha256

            context = batch_context(presets, decode_size)
            source_sha, mask_sha = sha256(data), (sha256(cutout) if cutout is not None else None)
            for preset in presets:
                keys[preset.name] = rendition_key(source_sha, preset, mask_sha, context, index.engine)
                found = index.reuse(
                    keys[preset.name],
                    preset,
                    paths[preset.name],
                    source=(position, uri),
                    fidelity=fidelity,
                    threshold=threshold,
                )
                if found is not None:
                    reused[preset.name] = found
        todo = [preset for preset in presets if preset.name not in reused]
        fresh: dict[str, dict[str, Any]] = {}
        if todo:
            fresh, refused = _render_source(
                data, cutout, decode_size, presets, todo, paths, (position, uri), fidelity
            )
            problems.extend(refused)
        del data, cutout
        for preset in presets:
            report = reused.get(preset.name) or fresh.get(preset.name)
            if report is None:
                continue  # refused: the problem says why
            reports[preset.name].append(report)
            if index is not None and preset.name in fresh:
                frame = report.pop("_frame")
                index.rendered_one(keys[preset.name], preset, paths[preset.name], report, frame)
            else:
                report.pop("_frame", None)
        log.info("images[%d] %s: %d channel(s) rendered, %d reused", position, uri, len(todo), len(reused))
    if problems:
        raise OneMinRenditionError(
            problems, summary="Renditions break their channels' rules; nothing was stored"
        )
    return reports


def _render_source(
    data: bytes,
    cutout: bytes | None,
    decode_size: tuple[int, int] | None,
    presets: list[Preset],
    todo: list[Preset],
    paths: dict[str, str],
    source: tuple[int, str],
    fidelity: dict[str, Any] | None,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """
    One source (with its ``product_masks`` cut-out or None) decoded once and rendered into the
    presets of ``todo``: their reports by channel (each with ``_frame``), and the problems.

    The decoded size and whether a cut-out is flattened follow from all of ``presets`` (the batch),
    never from ``todo`` alone: a rendition's bytes are those its reuse key promises.
    """
    from airflow_provider_onemin.renditions.render import background_of, decode, plan

    index, uri = source
    decoded = decode(data, decode_size)
    if cutout is not None:
        decoded.use_mask(cutout)  # it locates the product
    layouts = {preset.name: plan(preset, decoded) for preset in todo}
    uses = Counter((layout.crop, layout.scaled) for layout in layouts.values())
    backgrounds = {background_of(preset, decoded) for preset in presets}
    if decoded.cutout and len(backgrounds) == 1:
        decoded.flatten(backgrounds.pop())
    cache: dict[Any, Any] = {}
    problems: list[str] = []
    reports: dict[str, dict[str, Any]] = {}
    for preset in todo:
        layout = layouts[preset.name]
        refusal = _not_a_cutout(decoded, index, uri, preset)
        if refusal:
            problems.append(refusal)
        else:
            report, broken = _render_one(decoded, preset, layout, paths[preset.name], cache, index, uri)
            report["fidelity"] = fidelity
            score = fidelity and fidelity["score"]
            report["needs_review"] = bool(fidelity) and (score is None or score > fidelity["threshold"])
            report["_frame"] = layout.size
            problems.extend(broken)
            reports[preset.name] = report
        key = (layout.crop, layout.scaled)
        uses[key] -= 1
        if not uses[key]:
            cache.pop(key, None)  # memory: keep only scaled regions another preset still needs
    return reports, problems


def _render_one(
    decoded: Decoded,
    preset: Preset,
    layout: Plan,
    path: str,
    cache: dict[Any, Any],
    index: int,
    uri: str,
) -> tuple[dict[str, Any], list[str]]:
    from airflow_provider_onemin.renditions.compliance import inspect, violations
    from airflow_provider_onemin.renditions.render import MAX_UPSCALE, background_of, compose, encode

    if layout.upscale > MAX_UPSCALE + 1e-9:
        return {}, [_too_small(index, uri, preset, decoded.full_size, layout.upscale)]
    encode(compose(decoded, layout, background_of(preset, decoded), cache), preset, path)
    product = layout.product
    report: dict[str, Any] = {
        "source": uri,
        "source_index": index,
        "channel": preset.name,
        "fit": preset.fit,
        **inspect(path, preset),
        "quality": preset.quality if preset.format in ("jpeg", "webp") else None,
        "product_box": decoded.box_found_by,
        "product_coverage": round(
            min(
                1.0,
                max((product[2] - product[0]) / layout.size[0], (product[3] - product[1]) / layout.size[1]),
            ),
            4,
        ),
        "min_coverage": preset.min_coverage,
        "upscale": round(layout.upscale, 3) if layout.upscale > 1.0005 else None,
        "notes": list(decoded.notes),
        "spool": path,
    }
    report.setdefault("background_check", None)
    if report["upscale"]:
        report["notes"].append(
            f"source {decoded.full_size[0]}x{decoded.full_size[1]} enlarged {report['upscale']}x (at most 2x)"
        )
    broken = [
        f"channels {preset.name}: images[{index}] {uri}: the rendition {v}"
        for v in violations(report, preset, layout.size)
    ]
    return report, broken


def store_all(
    reports: dict[str, list[dict[str, Any]]], output_path: Any, names: Names
) -> dict[str, list[str]]:
    """
    Step 3: every spooled rendition stored whole under ``output_path``; the URIs per channel.
    Each report's ``spool`` is replaced by the stored ``uri``.
    """
    from airflow_provider_onemin.storage.results import (
        as_storage_path,
        plain_uri,
        publish_file,
        write_file_atomically,
    )

    base = as_storage_path(output_path)
    stored: dict[str, list[str]] = {}
    for channel, entries in reports.items():
        stored[channel] = []
        for report in entries:
            spool = report.pop("spool")
            target = base / f"{names.stem(channel, report['source_index'])}{os.path.splitext(spool)[1]}"
            if target.protocol in ("file", "local", ""):
                with open(spool, "rb") as handle:  # one rendition in memory at a time
                    write_file_atomically(target, handle.read())
            else:
                publish_file(spool, target, os.path.getsize(spool))
            report["uri"] = plain_uri(target)
            stored[channel].append(report["uri"])
    return stored


def run_batch(
    images: list[str],
    presets: list[Preset],
    output_path: Any,
    names: Names,
    *,
    conn_id: str | None,
    masks: list[str | None],
    threshold: float,
    log: logging.Logger | Any,
    index: RenditionIndex | None = None,
) -> tuple[dict[str, list[str]], dict[str, list[dict[str, Any]]]]:
    """
    The three steps of the module docstring: the URIs per channel and the compliance report.

    :param index: with it, a rendition made before from the same bytes and preset is copied
        instead of rendered, and each rendered one is recorded once stored (:mod:`.reuse`); its
        ``rendered`` and ``reused`` count them.
    """
    sizes = check_sources(images, presets, conn_id)
    spool = tempfile.mkdtemp(prefix="onemin-renditions-")
    try:
        reports = render_all(
            images,
            sizes,
            presets,
            conn_id=conn_id,
            masks=masks,
            threshold=threshold,
            spool=spool,
            log=log,
            index=index,
        )
        stored = store_all(reports, output_path, names)
        if index is not None:
            index.record_stored(names.stem)
        return stored, reports
    finally:
        shutil.rmtree(spool, ignore_errors=True)
