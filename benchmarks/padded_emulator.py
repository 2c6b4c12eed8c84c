"""
``onemin-emulator`` with large results, for the memory benchmark only.

The emulator draws result PNGs at the source image's size, a few hundred kB at most. Real results
can be several MB, and what the memory benchmark checks is that storing them streams instead of
buffering whole files. With ``--pad-bytes N``, every result whose prompt contains
:data:`LARGE_MARKER` gets a private ancillary PNG chunk of N bytes (a valid PNG that any decoder
reads as the same picture); other prompts are served as usual (small warm-up results). The rest
of the command line is ``onemin-emulator``'s.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib

LARGE_MARKER = "[large result]"
#: Private, ancillary, safe-to-copy chunk type: decoders skip it.
_CHUNK_TYPE = b"emPd"


def padded_png(png: bytes, pad_bytes: int) -> bytes:
    """``png`` with a chunk of ``pad_bytes`` pseudo-random bytes inserted before IEND."""
    if pad_bytes <= 0:
        return png
    payload = os.urandom(pad_bytes)  # incompressible, so no transport can shrink it
    chunk = struct.pack(">I", len(payload)) + _CHUNK_TYPE + payload
    chunk += struct.pack(">I", zlib.crc32(_CHUNK_TYPE + payload) & 0xFFFFFFFF)
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + chunk + png[iend:]


def main(argv: list[str]) -> int:
    pad_bytes = 0
    if "--pad-bytes" in argv:
        at = argv.index("--pad-bytes")
        pad_bytes = int(argv[at + 1])
        del argv[at : at + 2]

    from airflow_provider_onemin.emulator import images
    from airflow_provider_onemin.emulator.__main__ import main as emulator_main

    render = images.render_result

    def render_result(source: bytes, prompt: str, seed: int, index: int) -> bytes:
        png = render(source, prompt, seed, index)
        return padded_png(png, pad_bytes) if LARGE_MARKER in prompt else png

    images.render_result = render_result
    return emulator_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
