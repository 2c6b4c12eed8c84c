"""
Multipart parsing kept entirely in memory.

Starlette's form parser spools files over 1 MB to temporary files; the emulator must hold no
state on disk, so it feeds the raw body to python-multipart's low-level parser instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header


class MultipartError(ValueError):
    """The body is not a readable multipart/form-data body."""


@dataclass
class Part:
    """One form field: its name, file name (None for a plain field), content type and bytes."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = b""


def parse_multipart(content_type: str, body: bytes) -> dict[str, Part]:
    """The parts of a ``multipart/form-data`` body by field name (the first part of each name)."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MultipartError("expected a multipart/form-data body with a boundary")

    parts: dict[str, Part] = {}
    headers: dict[str, str] = {}
    header_name = bytearray()
    header_value = bytearray()
    chunks: list[bytes] = []

    def on_part_begin() -> None:
        headers.clear()
        chunks.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[header_name.decode("latin-1").lower()] = header_value.decode("utf-8", "replace")
        header_name.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunks.append(bytes(data[start:end]))

    def on_part_end() -> None:
        _, disposition = parse_options_header(headers.get("content-disposition", ""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        part = Part(
            name=name,
            filename=None if filename is None else filename.decode("utf-8", "replace"),
            content_type=headers.get("content-type"),
            data=b"".join(chunks),
        )
        parts.setdefault(name, part)

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as error:
        raise MultipartError(str(error)) from error
    return parts
