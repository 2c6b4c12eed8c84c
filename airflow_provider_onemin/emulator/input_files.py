"""
The contract's rules on the files a request names (the source image, style references): size
and format, checked for the files the emulator holds (uploaded assets, earlier results).

A path the emulator does not hold stands for a synthetic product photo, which obeys the rules.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_onemin.emulator.rules import ModelRules


def image_format(data: bytes) -> str | None:
    """The image format of ``data`` as Pillow names it (``PNG``, ``GIF``…), ``None`` if no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except Exception:  # Pillow raises many types for what is not an image
        return None


def file_violations(
    rules: ModelRules, prompt_object: Mapping[str, Any], held: Callable[[str], bytes | None]
) -> list[str]:
    """
    One ``field: rule`` line for each file rule of ``rules`` the named files break.

    :param rules: the model's rules (its ``files`` limits).
    :param prompt_object: an accepted promptObject (its paths are strings).
    :param held: the bytes the emulator holds for a path or link, ``None`` when it holds none;
        it may raise ``ValueError`` for a link to this emulator that leads nowhere.
    """
    lines: list[str] = []
    for name, limit in rules.files.items():
        value = prompt_object.get(name)
        if value is None:
            continue
        listed = not isinstance(value, str)
        total = 0
        for index, path in enumerate(value if listed else [value]):
            where = f"promptObject.{name}" + (f"[{index}]" if listed else "")
            try:
                data = held(path)
            except ValueError as error:
                lines.append(f"{where}: {error}")
                continue
            if data is None:
                continue
            total += len(data)
            if len(data) > limit.max_bytes:
                lines.append(f"{where}: the file has {len(data)} bytes, more than {limit.max_bytes}")
            found = image_format(data)
            if found not in limit.formats:
                lines.append(f"{where}: the file is {found or 'no image'}, not {', '.join(limit.formats)}")
        if limit.max_total_bytes is not None and total > limit.max_total_bytes:
            lines.append(
                f"promptObject.{name}: the files have {total} bytes together, more than {limit.max_total_bytes}"
            )
    return lines
