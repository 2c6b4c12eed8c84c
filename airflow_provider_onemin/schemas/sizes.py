"""
The size rules JSON Schema cannot state: a ``WIDTHxHEIGHT`` size on a grid with limits on its
area, its longest side and its aspect ratio (gpt-image-2).

A schema states the limits in an ``x-size-grid`` annotation beside its ``size`` field; the request
validator (:mod:`.validation`) calls :func:`size_grid_violation` for it, so the numbers live in the
schema file only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SIZE = re.compile(r"([1-9][0-9]*)x([1-9][0-9]*)")


def size_grid_violation(size: Any, grid: Mapping[str, Any]) -> str | None:
    """
    What is wrong with ``size`` under ``grid``, or ``None`` when it is on the grid.

    :param size: the requested size, ``"WIDTHxHEIGHT"`` in pixels.
    :param grid: ``multiple_of`` (both sides), ``min_pixels`` and ``max_pixels`` (W*H),
        ``max_side`` (the longest side) and ``max_ratio`` (long side / short side), every one
        inclusive.
    :return: the broken rule, in words, with the value given.
    """
    match = _SIZE.fullmatch(size) if isinstance(size, str) else None
    if match is None:
        return f"must be WIDTHxHEIGHT in pixels, like 1024x1536 ({size!r} given)"
    width, height = int(match[1]), int(match[2])
    step = grid["multiple_of"]
    if width % step or height % step:
        return f"both sides must be multiples of {step} ({size} given)"
    pixels = width * height
    if not grid["min_pixels"] <= pixels <= grid["max_pixels"]:
        return f"must have {grid['min_pixels']:,} to {grid['max_pixels']:,} pixels ({size} has {pixels:,})"
    if max(width, height) > grid["max_side"]:
        return f"no side may be longer than {grid['max_side']} pixels ({size} given)"
    if max(width, height) > grid["max_ratio"] * min(width, height):
        return f"the long side may be at most {grid['max_ratio']} times the short one ({size} given)"
    return None
