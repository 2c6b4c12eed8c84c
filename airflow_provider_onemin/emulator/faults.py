"""
The emulator's fault queue entries: what a fault is, which endpoints it applies to, its syntax.

A fault makes the next matching calls of an endpoint fail in one way (a status, a dropped
connection, a truncated answer, a failed generation...); :class:`Fault` checks its parameters, and
:func:`parse_fault_spec` reads the command-line form. Nothing here imports FastAPI or uvicorn.
"""

from __future__ import annotations

import json
import re
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
    "expired_link": ("download",),
    "withheld": ("features", "results"),
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
    "expired_link": {},
    "withheld": {"keep": 0},
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
            unsafe | out_of_credits | bad_request | null_record | delay |
            expired_link (download only: the signed temporaryUrl expires; 403 until the next poll) |
            withheld (the generation succeeds with only its first `keep` images, the others
            withheld as unsafe; 0: a SUCCESS with no image; for good, every later poll agrees)
  COUNT     how many matching calls it applies to (default 1)
  ENDPOINT  features | results | assets | download | any (default features)
  params    status: code=503 (429/500/502/503/504/522/524), retry_after=SECONDS or an HTTP date,
              charged=true|false (default: the billing model, --charged-statuses)
            out_of_credits: status=429;  bad_request: error_code=UNKNOWN_ERROR, message=...
            delay: seconds=1.0, charge_first=false;  failure: message=...;  withheld: keep=0
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
                raise ValueError(
                    "status fault charged must be true, false or null (the billing model decides)"
                )
        elif self.kind == "out_of_credits":
            if not isinstance(params["status"], int) or not 400 <= params["status"] <= 599:
                raise ValueError("out_of_credits status must be an HTTP error status 400..599")
        elif self.kind == "bad_request":
            if params["error_code"] not in BAD_REQUEST_CODES:
                raise ValueError(f"bad_request error_code must be one of {', '.join(BAD_REQUEST_CODES)}")
        elif self.kind == "withheld":
            keep = params["keep"]
            if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
                raise ValueError("withheld keep must be an integer >= 0")
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
