"""
The emulator's whole state, in memory: configuration, fault queue, assets, generations, charges.

Nothing here imports FastAPI or uvicorn, so the fault syntax and the state can be used (and
tested) without the server. Every method is thread-safe: the server's event loop and the test
thread that drives :class:`~airflow_provider_onemin.emulator.server.EmulatorServer` share one
:class:`EmulatorState`. What a fault is lives in :mod:`.faults`, what is held in :mod:`.records`;
their names are re-exported here.
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from airflow_provider_onemin.emulator.faults import (
    BAD_REQUEST_CODES,
    ENDPOINTS,
    FAULT_KINDS,
    FAULT_PARAMS,
    FAULT_SYNTAX,
    Fault,
    parse_fault_spec,
)
from airflow_provider_onemin.emulator.records import Asset, Generation, key_fingerprint

__all__ = [
    "BAD_REQUEST_CODES",
    "ENDPOINTS",
    "FAULT_KINDS",
    "FAULT_PARAMS",
    "FAULT_SYNTAX",
    "Asset",
    "Config",
    "EmulatorState",
    "Fault",
    "Generation",
    "key_fingerprint",
    "parse_fault_spec",
]


@dataclass
class Config:
    """Settings that tests change at run time."""

    api_key: str | None = None
    latency: float = 0.0
    #: The account's limit of generations in flight per API key (None: no limit); above it a
    #: submission is refused with 429, as a rate-limited account is.
    max_in_flight: int | None = None
    #: The billing model for ``status`` faults on ``POST /api/features``: the statuses the server
    #: answers *after* starting (and charging) the generation. Empty by default, as the contract
    #: reads (a status answer means nothing was started); see :meth:`EmulatorState.charges_before_answering`.
    charged_statuses: frozenset[int] = frozenset()
    #: Echo the API key a client sent back in answers (errors and records), to test redaction.
    echo_key: bool = False
    #: Put in front of the random part of every link signature issued from now on, so that a test
    #: can search whatever a run left behind for signatures (a signed link is a credential).
    link_secret: str = ""
    #: Put what a generation cost in its record (``aiRecord.metadata.credit``); off: "unknown".
    report_credit: bool = True
    #: Models left out of the model list (``GET /models``): the real list is advisory.
    unlisted_models: frozenset[str] = frozenset()


def _check_charged_statuses(value: Any) -> frozenset[int]:
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(
        isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599 for code in value
    ):
        raise ValueError("charged_statuses must be a list of HTTP error statuses 400..599")
    return frozenset(value)


def _check_max_in_flight(value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError("max_in_flight must be a positive integer or null")


class EmulatorState:
    """All mutable state of one emulator; see the module docstring."""

    def __init__(
        self, api_key: str | None = None, latency: float = 0.0, max_in_flight: int | None = None
    ) -> None:
        _check_max_in_flight(max_in_flight)
        self._lock = threading.RLock()
        self._defaults = Config(api_key=api_key, latency=float(latency), max_in_flight=max_in_flight)
        self.config = copy.copy(self._defaults)
        self._faults: list[Fault] = []
        self._assets: dict[str, Asset] = {}
        self._generations: dict[str, Generation] = {}
        self._result_index: dict[str, tuple[str, int]] = {}
        self._charges: dict[str, int] = {}
        self._rate_limited: dict[str, int] = {}
        self._requests_in_progress = 0
        self._model_list_calls: list[dict[str, Any]] = []

    # configuration
    def configure(
        self,
        *,
        api_key: Any = ...,
        latency: Any = ...,
        max_in_flight: Any = ...,
        charged_statuses: Any = ...,
        echo_key: Any = ...,
        link_secret: Any = ...,
        report_credit: Any = ...,
        unlisted_models: Any = ...,
    ) -> None:
        """
        Change the API key (None: no key needed), the render latency (seconds), the limit of
        generations in flight per key (None: no limit) and/or the billing model's statuses that
        charge before answering (:attr:`Config.charged_statuses`), and/or what every link
        signature starts with (:attr:`Config.link_secret`), whether records report what they
        cost (:attr:`Config.report_credit`) and the models the list leaves out
        (:attr:`Config.unlisted_models`).
        """
        with self._lock:
            if report_credit is not ...:
                if not isinstance(report_credit, bool):
                    raise ValueError("report_credit must be true or false")
                self.config.report_credit = report_credit
            if unlisted_models is not ...:
                if not isinstance(unlisted_models, (list, tuple, set, frozenset)) or not all(
                    isinstance(name, str) for name in unlisted_models
                ):
                    raise ValueError("unlisted_models must be a list of model ids")
                self.config.unlisted_models = frozenset(unlisted_models)
            if link_secret is not ...:
                if not isinstance(link_secret, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", link_secret):
                    raise ValueError("link_secret must be a string of letters, digits, '-' and '_'")
                self.config.link_secret = link_secret
            if charged_statuses is not ...:
                self.config.charged_statuses = _check_charged_statuses(charged_statuses)
            if echo_key is not ...:
                if not isinstance(echo_key, bool):
                    raise ValueError("echo_key must be true or false")
                self.config.echo_key = echo_key
            if max_in_flight is not ...:
                _check_max_in_flight(max_in_flight)
                self.config.max_in_flight = max_in_flight
            if api_key is not ...:
                if api_key is not None and (not isinstance(api_key, str) or not api_key):
                    raise ValueError("api_key must be a non-empty string or null")
                self.config.api_key = api_key
            if latency is not ...:
                if not isinstance(latency, (int, float)) or latency < 0:
                    raise ValueError("latency must be a number of seconds >= 0")
                self.config.latency = float(latency)

    def reset(self, *, config: bool = False) -> None:
        """Forget faults, assets, generations and charges; with ``config``, restore the startup config."""
        with self._lock:
            self._faults.clear()
            self._assets.clear()
            self._generations.clear()
            self._result_index.clear()
            self._charges.clear()
            self._rate_limited.clear()
            self._model_list_calls.clear()
            if config:
                self.config = copy.copy(self._defaults)

    # billing model
    def new_link_signature(self) -> str:
        """A fresh signature for a generation's links: :attr:`Config.link_secret` and a random part."""
        with self._lock:
            return f"{self.config.link_secret}{secrets.token_hex(16)}"

    def charges_before_answering(self, fault: Fault | None) -> bool:
        """
        The emulator's billing model, in one place: True when a call of ``POST /api/features``
        that meets ``fault`` starts (and charges) the generation before the client gets its answer.

        * ``reset_after_charge``, ``truncated_json`` and ``delay`` with ``charge_first``: yes;
        * ``reset_before_charge``, ``bad_request``, ``unsafe``, ``out_of_credits``,
          ``null_record``, a plain ``delay``: no (``failure`` starts one that is refunded);
        * ``status``: its ``charged`` parameter when given, else whether its code is in
          :attr:`Config.charged_statuses` (empty by default).
        """
        if fault is None:
            return True
        if fault.kind == "status":
            charged = fault.params["charged"]
            return fault.params["code"] in self.config.charged_statuses if charged is None else charged
        if fault.kind == "delay":
            return bool(fault.params["charge_first"])
        return fault.kind in ("reset_after_charge", "truncated_json", "failure")

    # requests being handled (tests wait for quiet before they count charges)
    def request_started(self) -> None:
        with self._lock:
            self._requests_in_progress += 1

    def request_finished(self) -> None:
        with self._lock:
            self._requests_in_progress -= 1

    def requests_in_progress(self) -> int:
        """Requests the emulator is still handling (a delayed one included)."""
        with self._lock:
            return self._requests_in_progress

    # faults
    def add_fault(self, fault: Fault) -> None:
        """Queue a fault behind the ones already queued."""
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, endpoint: str) -> Fault | None:
        """The first queued fault matching a call of ``endpoint``, used up by one; None if none."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(endpoint):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return Fault(kind=fault.kind, count=1, endpoint=fault.endpoint, params=dict(fault.params))
        return None

    def pending_faults(self) -> list[dict[str, Any]]:
        """Queued faults in their JSON form, with the count still to apply."""
        with self._lock:
            return [fault.as_dict() for fault in self._faults]

    # assets
    def store_asset(self, data: bytes, filename: str, content_type: str) -> Asset:
        """Keep an uploaded file in memory under a new key ``development/images/<hex>_<safe name>``."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("._")
        key = f"development/images/{uuid.uuid4().hex}_{safe[:100] or 'upload'}"
        asset = Asset(key=key, data=data, content_type=content_type, filename=filename)
        with self._lock:
            self._assets[key] = asset
        return asset

    def asset(self, key: str) -> Asset | None:
        """The uploaded file stored under ``key``, if any."""
        with self._lock:
            return self._assets.get(key)

    def asset_count(self) -> int:
        """How many uploaded files are held."""
        with self._lock:
            return len(self._assets)

    # the model list
    def model_list_called(self, feature: str | None, with_key: bool) -> None:
        """Note a call of ``GET /models`` (tests count them, and check that no key was sent)."""
        with self._lock:
            self._model_list_calls.append({"feature": feature, "with_key": with_key})

    def model_list_calls(self) -> list[dict[str, Any]]:
        """Every ``GET /models`` call so far: ``{"feature", "with_key"}``, oldest first."""
        with self._lock:
            return [dict(call) for call in self._model_list_calls]

    # generations and charges
    def add_generation(self, generation: Generation) -> None:
        """Record an accepted generation, charging it when ``generation.charged``."""
        with self._lock:
            self._generations[generation.uuid] = generation
            for index, key in enumerate(generation.result_keys):
                self._result_index[key] = (generation.uuid, index)
            if generation.charged:
                fingerprint = generation.key_fingerprint
                self._charges[fingerprint] = self._charges.get(fingerprint, 0) + 1

    def admit_generation(self, generation: Generation) -> bool:
        """
        Record ``generation`` as :meth:`add_generation` does, unless its key already has
        ``max_in_flight`` generations rendering: then count the refusal and return False.
        """
        with self._lock:
            limit = self.config.max_in_flight
            fingerprint = generation.key_fingerprint
            if limit is not None and self.in_flight(fingerprint) >= limit:
                self._rate_limited[fingerprint] = self._rate_limited.get(fingerprint, 0) + 1
                return False
            self.add_generation(generation)
            return True

    def in_flight(self, fingerprint: str) -> int:
        """Generations of the key with this fingerprint that are still rendering."""
        now = time.monotonic()
        with self._lock:
            return sum(
                1 for g in self._generations.values() if g.key_fingerprint == fingerprint and now < g.ready_at
            )

    def finish_rendering(self) -> int:
        """End every render still in progress now; return how many there were."""
        now = time.monotonic()
        with self._lock:
            rendering = [g for g in self._generations.values() if now < g.ready_at]
            for generation in rendering:
                generation.ready_at = now
            return len(rendering)

    def fail_generation(self, generation: Generation, message: str) -> None:
        """Make a generation end in FAILURE; a failed generation is not charged, so refund it."""
        with self._lock:
            generation.outcome = "FAILURE"
            generation.failure_message = message
            if generation.charged:
                generation.charged = False
                fingerprint = generation.key_fingerprint
                self._charges[fingerprint] -= 1

    def generation(self, record_uuid: str) -> Generation | None:
        """The generation with this uuid, if any."""
        with self._lock:
            return self._generations.get(record_uuid)

    def generations(self) -> list[Generation]:
        """All generations, oldest first."""
        with self._lock:
            return list(self._generations.values())

    def result_of_key(self, key: str) -> tuple[Generation, int] | None:
        """The generation and result index a result key belongs to."""
        with self._lock:
            found = self._result_index.get(key)
            if found is None:
                return None
            return self._generations[found[0]], found[1]

    def charges(self, api_key: str | None = None) -> int:
        """Generations charged in total (``api_key`` None) or to one key."""
        with self._lock:
            if api_key is None:
                return sum(self._charges.values())
            return self._charges.get(key_fingerprint(api_key), 0)

    def snapshot(self) -> dict[str, Any]:
        """The JSON answer of ``GET /_emulator/state``."""
        with self._lock:
            return {
                "charges": {"total": sum(self._charges.values()), "by_key": dict(self._charges)},
                "rate_limited": {
                    "total": sum(self._rate_limited.values()),
                    "by_key": dict(self._rate_limited),
                },
                "records": len(self._generations),
                "model_list_calls": len(self._model_list_calls),
                "assets": len(self._assets),
                "faults": self.pending_faults(),
                "config": {
                    "latency": self.config.latency,
                    "api_key_required": self.config.api_key is not None,
                    "max_in_flight": self.config.max_in_flight,
                    "charged_statuses": sorted(self.config.charged_statuses),
                    "echo_key": self.config.echo_key,
                    "report_credit": self.config.report_credit,
                    "unlisted_models": sorted(self.config.unlisted_models),
                },
                "requests_in_progress": self._requests_in_progress,
            }
