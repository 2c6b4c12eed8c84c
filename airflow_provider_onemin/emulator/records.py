"""
What the emulator holds: uploaded files (:class:`Asset`) and accepted generations (:class:`Generation`).

Plain data: :class:`~airflow_provider_onemin.emulator.state.EmulatorState` keeps them and owns the
lock. An API key is kept only as its :func:`key_fingerprint`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any


def key_fingerprint(api_key: str | None) -> str:
    """Short sha256 fingerprint of an API key, so the key itself is never stored."""
    return hashlib.sha256((api_key or "").encode("utf-8")).hexdigest()[:16]


@dataclass
class Asset:
    """An uploaded file, in memory."""

    key: str
    data: bytes
    content_type: str
    filename: str


@dataclass
class Generation:
    """
    One accepted Background Replacer request.

    Its status is computed from the (monotonic) clock: PROCESSING until ``ready_at``, then
    ``outcome``. ``renders`` caches the PNG of each result once it has been drawn. ``token`` is the
    random part of its ``temporaryUrl``.
    """

    uuid: str
    model: str
    feature: str
    prompt_object: dict[str, Any]
    source: bytes
    resolution: tuple[int, int]
    seed: int
    result_keys: list[str]
    created_at: float
    created_iso: str
    ready_at: float
    is_async: bool
    key_fingerprint: str
    charged: bool
    token: str
    outcome: str = "SUCCESS"
    failure_message: str | None = None
    #: How many results its record shows once it succeeded (``withheld`` fault); None: all of them.
    kept: int | None = None
    #: What it cost, as its record reports it (``metadata.credit``); None: not reported.
    credit: int | None = None
    renders: dict[int, bytes] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> str:
        """SUCCESS or FAILURE once the render latency has passed, PROCESSING before."""
        return self.outcome if time.monotonic() >= self.ready_at else "PROCESSING"

    @property
    def prompt(self) -> str:
        """The background prompt of the request."""
        return str(self.prompt_object.get("prompt", ""))

    @property
    def num_images(self) -> int:
        """How many results the generation has."""
        return len(self.result_keys)

    @property
    def shown_keys(self) -> list[str]:
        """The results its record shows (all but those withheld)."""
        return self.result_keys if self.kept is None else self.result_keys[: self.kept]
