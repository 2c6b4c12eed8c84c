"""
The result images of the emulator's generations: drawn once, then cached on the generation.

``images.render_result`` is looked up at each call (the memory benchmark swaps it for one that
pads large results).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from airflow_provider_onemin.emulator import images

if TYPE_CHECKING:
    from airflow_provider_onemin.emulator.records import Generation
    from airflow_provider_onemin.emulator.state import EmulatorState


#: The feature whose results are cut-outs (:func:`images.render_cutout`), not replaced backgrounds.
BACKGROUND_REMOVER = "BACKGROUND_REMOVER"
MEDIA_TYPES = {"PNG": "image/png", "WEBP": "image/webp"}


def _render(generation: Generation, index: int) -> bytes:
    if generation.feature == BACKGROUND_REMOVER:
        output_format = str(generation.prompt_object.get("output_format", "png"))
        return images.render_cutout(generation.source, output_format)
    return images.render_result(generation.source, generation.prompt, generation.seed, index)


def result_media_type(generation: Generation) -> str:
    """The content type a result of ``generation`` is served with."""
    if generation.feature == BACKGROUND_REMOVER:
        output_format = str(generation.prompt_object.get("output_format", "png"))
        return MEDIA_TYPES[images.CUTOUT_FORMATS.get(output_format, "PNG")]
    return "image/png"


def result_extension(generation: Generation) -> str:
    """The extension of a result's key and link (``png``, ``webp``), by what it is served as."""
    return result_media_type(generation).removeprefix("image/")


async def result_png(generation: Generation, index: int) -> bytes:
    """The bytes of one result (PNG, or the remover's format), drawn once (in a worker thread) and then cached."""
    cached = generation.renders.get(index)
    if cached is None:
        loop = asyncio.get_running_loop()
        cached = await loop.run_in_executor(None, _render, generation, index)
        generation.renders[index] = cached
    return cached


def result_png_now(generation: Generation, index: int) -> bytes:
    """PNG bytes of one result of a succeeded generation, drawn here (once) if need be."""
    if generation.status != "SUCCESS":
        raise images.SourceImageError(f"result {index} of {generation.uuid} is not ready")
    cached = generation.renders.get(index)
    if cached is None:
        cached = _render(generation, index)
        generation.renders[index] = cached
    return cached


def find_upstream_result(state: EmulatorState, rest: str) -> tuple[Generation, int] | None:
    """The generation and index that ``<uuid>/<index>.<png|webp>`` names, if it has that result."""
    record_uuid, _, name = rest.partition("/")
    generation = state.generation(record_uuid)
    index_text = name.removesuffix(".png").removesuffix(".webp")
    if generation is None or not index_text.isdigit() or int(index_text) >= generation.num_images:
        return None
    return generation, int(index_text)
