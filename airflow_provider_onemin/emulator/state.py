"""
The emulator's whole state, in memory: configuration, fault queue, assets, generations, charges.

Nothing here imports FastAPI or uvicorn, so the fault syntax and the state can be used (and
tested) without the server. Every method is thread-safe: the server's event loop and the test
thread that drives :class:`~airflow_provider_onemin.emulator.server.EmulatorServer` share one
:class:`EmulatorState`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

#: Endpoints a fault can be scoped to (``any`` matches all of them).
ENDPOINTS = ("features", "results", "assets", "download", "any")

#: Fault kinds, with the endpoints each one can apply to.
FAULT_KINDS: dict[str, tuple[str, ...]] = {
    "status": ("features", "results", "assets", "download"),
    "reset_before_charge": ("features", "results", "assets", "download"),
    "reset_after_charge": ("features", "results", "assets", "download"),
    "truncated_json": ("features", "results", "assets", "download"),
    "failure": ("features", "results"),
    "unsafe": ("features", "results", "assets", "download"),
    "out_of_credits": ("features", "results", "assets", "download"),
    "bad_request": ("features", "results", "assets", "download"),
    "null_record": ("features", "results"),
    "delay": ("features", "results", "assets", "download"),
}

#: Parameters each kind accepts, with their defaults.
FAULT_PARAMS: dict[str, dict[str, Any]] = {
    "status": {"code": 503, "retry_after": None, "charged": None},
    "reset_before_charge": {},
    "reset_after_charge": {},
    "truncated_json": {},
    "failure": {"message": "The image could not be generated (emulated failure)."},
    "unsafe": {},
    "out_of_credits": {"status": 429},
    "bad_request": {"error_code": "UNKNOWN_ERROR", "message": None},
    "null_record": {},
    "delay": {"seconds": 1.0, "charge_first": False},
}

BAD_REQUEST_CODES = (
    "UNSUPPORTED_MODEL",
    "MISSING_REQUIRED_FIELDS",
    "EXTERNAL_API_RESPONSE_WITH_ERROR",
    "UNKNOWN_ERROR",
)

FAULT_SYNTAX = """\
KIND[:COUNT][:ENDPOINT][:key=value,...]
  KIND      status | reset_before_charge | reset_after_charge | truncated_json | failure |
            unsafe | out_of_credits | bad_request | null_record | delay
  COUNT     how many matching calls it applies to (default 1)
  ENDPOINT  features | results | assets | download | any (default features)
  params    status: code=503 (429/500/502/503/504/522/524), retry_after=SECONDS or an HTTP date,
              charged=true|false (default: the billing model, --charged-statuses)
            out_of_credits: status=429;  bad_request: error_code=UNKNOWN_ERROR, message=...
            delay: seconds=1.0, charge_first=false;  failure: message=...
  examples  status:2:features:code=503,retry_after=1   reset_after_charge   delay:1:any:seconds=5
            status:1:any:code=429,retry_after=Wed, 21 Oct 2026 07:28:00 GMT"""


@dataclass
class Fault:
    """One queued fault: ``kind`` applies to the next ``count`` calls matching ``endpoint``."""

    kind: str
    count: int = 1
    endpoint: str = "features"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown fault endpoint {self.endpoint!r}; one of {', '.join(ENDPOINTS)}")
        if self.endpoint != "any" and self.endpoint not in FAULT_KINDS[self.kind]:
            raise ValueError(f"fault {self.kind!r} cannot apply to endpoint {self.endpoint!r}")
        if not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"fault count must be a positive integer, not {self.count!r}")
        unknown = set(self.params) - set(FAULT_PARAMS[self.kind])
        if unknown:
            raise ValueError(f"fault {self.kind!r} takes no parameter(s) {', '.join(sorted(unknown))}")
        self.params = {**FAULT_PARAMS[self.kind], **self.params}
        self._check_params()

    def _check_params(self) -> None:
        params = self.params
        if self.kind == "status":
            code = params["code"]
            if not isinstance(code, int) or not 400 <= code <= 599:
                raise ValueError(f"status fault code must be an HTTP error status 400..599, not {code!r}")
            retry_after = params["retry_after"]
            if retry_after is not None and not isinstance(retry_after, (int, float, str)):
                raise ValueError("retry_after must be seconds or an HTTP date")
            if params["charged"] not in (None, True, False):
                raise ValueError("status fault charged must be true, false or null (the billing model decides)")
        elif self.kind == "out_of_credits":
            if not isinstance(params["status"], int) or not 400 <= params["status"] <= 599:
                raise ValueError("out_of_credits status must be an HTTP error status 400..599")
        elif self.kind == "bad_request":
            if params["error_code"] not in BAD_REQUEST_CODES:
                raise ValueError(f"bad_request error_code must be one of {', '.join(BAD_REQUEST_CODES)}")
        elif self.kind == "delay":
            if not isinstance(params["seconds"], (int, float)) or params["seconds"] < 0:
                raise ValueError("delay seconds must be a number >= 0")
            if not isinstance(params["charge_first"], bool):
                raise ValueError("delay charge_first must be true or false")

    def matches(self, endpoint: str) -> bool:
        """True when this fault applies to a call of ``endpoint``."""
        return endpoint in FAULT_KINDS[self.kind] and self.endpoint in (endpoint, "any")

    def as_dict(self) -> dict[str, Any]:
        """JSON form, as the control endpoint takes and shows it."""
        return {"kind": self.kind, "count": self.count, "endpoint": self.endpoint, **self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from the JSON form ``{"kind": ..., "count": 1, "endpoint": ..., **params}``."""
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError('a fault is a JSON object with at least "kind"')
        rest = dict(data)
        kind = rest.pop("kind")
        count = rest.pop("count", 1)
        endpoint = rest.pop("endpoint", "features")
        return cls(kind=kind, count=count, endpoint=endpoint, params=rest)


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_fault_spec(spec: str) -> Fault:
    """Parse the command-line form ``KIND[:COUNT][:ENDPOINT][:key=value,...]`` (see FAULT_SYNTAX)."""
    kind, _, rest = spec.strip().partition(":")
    count = 1
    endpoint = "features"
    params: dict[str, Any] = {}
    while rest:
        head, _, tail = rest.partition(":")
        if head.isdigit():
            count = int(head)
        elif head in ENDPOINTS:
            endpoint = head
        elif "=" in head:
            # Parameters run to the end; values may hold ':' and ',' (HTTP dates), so split only
            # before the next "name=".
            for item in re.split(r",(?=\s*[A-Za-z_]+=)", rest):
                name, equals, value = item.partition("=")
                if not equals:
                    raise ValueError(f"fault parameter {item!r} is not key=value")
                params[name.strip()] = _scalar(value.strip())
            break
        else:
            raise ValueError(
                f"cannot read {head!r} in fault {spec!r}; expected {FAULT_SYNTAX.splitlines()[0]}"
            )
        rest = tail
    return Fault(kind=kind, count=count, endpoint=endpoint, params=params)


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

    # configuration
    def configure(
        self,
        *,
        api_key: Any = ...,
        latency: Any = ...,
        max_in_flight: Any = ...,
        charged_statuses: Any = ...,
        echo_key: Any = ...,
    ) -> None:
        """
        Change the API key (None: no key needed), the render latency (seconds), the limit of
        generations in flight per key (None: no limit) and/or the billing model's statuses that
        charge before answering (:attr:`Config.charged_statuses`).
        """
        with self._lock:
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
            if config:
                self.config = copy.copy(self._defaults)

    # billing model
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
                "assets": len(self._assets),
                "faults": self.pending_faults(),
                "config": {
                    "latency": self.config.latency,
                    "api_key_required": self.config.api_key is not None,
                    "max_in_flight": self.config.max_in_flight,
                    "charged_statuses": sorted(self.config.charged_statuses),
                    "echo_key": self.config.echo_key,
                },
                "requests_in_progress": self._requests_in_progress,
            }
