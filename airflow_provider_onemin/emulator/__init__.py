"""
A local server speaking the subset of the 1min.ai API this provider uses, for demos and tests.

Start it with the ``onemin-emulator`` command, with
:class:`~airflow_provider_onemin.emulator.server.EmulatorServer` in Python, or through the
``onemin_emulator`` pytest fixture. It needs the ``emulator`` extra (FastAPI, uvicorn, Pillow).

This package imports nothing heavy: FastAPI and uvicorn load only when a server starts. The
provider's runtime code never imports it, and it imports nothing of the provider outside this
package: it is a second opinion, with its own statement of the API's rules (``rules.py``, and
each model's in ``models.py``), so a mistake in the provider's schemas is not one it shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_onemin.emulator.server import EmulatorServer

__all__ = ["EmulatorServer"]


def __getattr__(name: str) -> Any:
    if name == "EmulatorServer":
        from airflow_provider_onemin.emulator.server import EmulatorServer

        return EmulatorServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
