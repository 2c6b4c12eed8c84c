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


async def result_png(generation: Generation, index: int) -> bytes:
    """PNG bytes of one result, drawn once (in a worker thread) and then cached."""
    cached = generation.renders.get(index)
    if cached is None:
        loop = asyncio.get_running_loop()
        cached = await loop.run_in_executor(
            None, images.render_result, generation.source, generation.prompt, generation.seed, index
        )
        generation.renders[index] = cached
    return cached


def result_png_now(generation: Generation, index: int) -> bytes:
    """PNG bytes of one result of a succeeded generation, drawn here (once) if need be."""
    if generation.status != "SUCCESS":
        raise images.SourceImageError(f"result {index} of {generation.uuid} is not ready")
    cached = generation.renders.get(index)
    if cached is None:
        cached = images.render_result(generation.source, generation.prompt, generation.seed, index)
        generation.renders[index] = cached
    return cached


def find_upstream_result(state: EmulatorState, rest: str) -> tuple[Generation, int] | None:
    """The generation and index that ``<uuid>/<index>.png`` names, if it has that result."""
    record_uuid, _, name = rest.partition("/")
    generation = state.generation(record_uuid)
    index_text = name.removesuffix(".png")
    if generation is None or not index_text.isdigit() or int(index_text) >= generation.num_images:
        return None
    return generation, int(index_text)
