"""
The emulator's own statement of the API's request rules, and the error answers that break them.

Written from the API contract (``onemin-api.md`` and the seed document), not from the provider's
JSON schemas: the emulator is a second opinion, so a mistake in the provider's schema is not one
it shares. Nothing here imports from the provider outside this package (a test checks).

The rules of one model are plain data (:class:`ModelRules`: fields, required fields, cross-field
rules, how many images it makes), kept per model in :mod:`~airflow_provider_onemin.emulator.models`.
This module holds the kinds of field rule and :func:`check_request`, which turns a body into the
model's rules or into the API's 400 answer, in the contract's shape.

Where the contract leaves a choice, the emulator picks the reading that refuses less, except
for unknown fields: the contract lists each model's fields, and a field from another model (or a
typo) is refused, so that a client leaking one model's fields into another's body shows in tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Top-level fields of a ``POST /api/features`` body (``async`` is the observed async mode).
TOP_LEVEL_FIELDS = ("type", "model", "promptObject", "async")
REQUIRED_TOP_LEVEL = ("type", "model", "promptObject")

#: A check of one value: ``None`` when the value obeys the rule, else what the rule says.
ValueCheck = Callable[[Any], "str | None"]
#: A check across fields of a promptObject: ``(field, message)`` for each broken rule.
CrossCheck = Callable[[Mapping[str, Any]], "list[tuple[str, str]]"]


def is_integer(value: Any) -> bool:
    """
    A JSON number without a fraction. JSON (and the JavaScript behind the API) does not tell 2
    from 2.0, so an integral float counts; a boolean is not a number, a digit string is a string.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def text(*, non_empty: bool = False, max_length: int | None = None) -> ValueCheck:
    """A string; ``non_empty``: at least one character; ``max_length`` characters at most."""

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        if non_empty and value == "":
            return "must not be empty"
        if max_length is not None and len(value) > max_length:
            return f"must be at most {max_length} characters long ({len(value)} given)"
        return None

    return check


def integer(low: int, high: int) -> ValueCheck:
    """An integer from ``low`` to ``high``, both included."""

    def check(value: Any) -> str | None:
        if not is_integer(value):
            return f"must be an integer from {low} to {high}"
        if not low <= value <= high:
            return f"must be from {low} to {high} ({value!r} given)"
        return None

    return check


def one_of(*allowed: str) -> ValueCheck:
    """One of the ``allowed`` names, exactly (case matters)."""
    names = frozenset(allowed)

    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in names:
            return None
        shown = ", ".join(allowed) if len(allowed) <= 8 else ", ".join(allowed[:4]) + ", ..."
        return f"must be one of {len(allowed)} values ({shown}); {value!r} given"

    return check


def paths(*, max_items: int) -> ValueCheck:
    """A list of at most ``max_items`` asset paths (non-empty strings)."""

    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return "must be a list of asset paths"
        if len(value) > max_items:
            return f"holds {len(value)} items, at most {max_items} allowed"
        for index, item in enumerate(value):
            if not isinstance(item, str) or item == "":
                return f"item [{index}] must be an asset path (a non-empty string)"
        return None

    return check


def dimensions(
    *, multiple_of: int, min_pixels: int, max_pixels: int, max_side: int, max_ratio: float
) -> ValueCheck:
    """
    A size ``"WxH"`` in pixels: both sides multiples of ``multiple_of``, ``W*H`` from
    ``min_pixels`` to ``max_pixels``, no side over ``max_side``, long side at most ``max_ratio``
    times the short one.
    """

    def check(value: Any) -> str | None:
        width, _, height = value.partition("x") if isinstance(value, str) else ("", "", "")
        if not (width.isascii() and width.isdigit() and height.isascii() and height.isdigit()):
            return f"must be a size WIDTHxHEIGHT in pixels, like 1024x1536; {value!r} given"
        w, h = int(width), int(height)
        if w == 0 or h == 0 or w % multiple_of or h % multiple_of:
            return f"both sides must be multiples of {multiple_of} ({value} given)"
        if not min_pixels <= w * h <= max_pixels:
            return f"must have {min_pixels} to {max_pixels} pixels ({value} has {w * h})"
        if max(w, h) > max_side:
            return f"no side may be longer than {max_side} ({value} given)"
        if max(w, h) > max_ratio * min(w, h):
            return f"the long side may be at most {max_ratio:g} times the short one ({value} given)"
        return None

    return check


def boolean(value: Any) -> str | None:
    """A JSON boolean."""
    return None if isinstance(value, bool) else "must be true or false"


#: "10 MB" of the contract: it does not say whether 10**6 or 2**20 bytes a megabyte; the emulator
#: takes the larger reading, which refuses less.
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class FileLimit:
    """
    What the files a field names must be (checked when the emulator holds them).

    :param max_bytes: largest size of each file.
    :param max_total_bytes: largest size of all the field's files together (``None``: no limit).
    :param formats: the image formats allowed, as Pillow names them.
    """

    max_bytes: int
    max_total_bytes: int | None = None
    formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP")


@dataclass(frozen=True)
class ModelRules:
    """
    What one model of one feature accepts in ``promptObject``.

    :param feature: the body's ``type`` (``BACKGROUND_REPLACER``).
    :param model: the body's ``model``.
    :param fields: every field the model accepts, with the check of its value.
    :param required: the fields that must be present.
    :param cross: rules that look at several fields at once.
    :param count_field: the field saying how many images to make (``None``: one image).
    :param files: limits on the files named by fields (an asset path, or a list of them).
    """

    feature: str
    model: str
    fields: Mapping[str, ValueCheck]
    required: tuple[str, ...]
    cross: tuple[CrossCheck, ...] = ()
    count_field: str | None = None
    files: Mapping[str, FileLimit] = field(default_factory=dict)

    def violations(self, prompt_object: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Every ``(field, message)`` the promptObject breaks, missing fields first."""
        found = [(name, "is required") for name in self.required if name not in prompt_object]
        for name, value in prompt_object.items():
            check = self.fields.get(name)
            if check is None:
                found.append((name, f"is not a field of {self.model} (it takes {', '.join(self.fields)})"))
                continue
            message = check(value)
            if message is not None:
                found.append((name, message))
        for rule in self.cross:
            found.extend(rule(prompt_object))
        return found

    def image_count(self, prompt_object: Mapping[str, Any]) -> int:
        """How many images an accepted promptObject asks for."""
        if self.count_field is None or self.count_field not in prompt_object:
            return 1
        return int(prompt_object[self.count_field])


@dataclass(frozen=True)
class Refusal:
    """
    The API's 400 answer to a body it does not take.

    :param error_code: ``errorCode`` of the answer, one of those the contract lists.
    :param message: ``message`` of the answer.
    :param details: what goes (as a JSON string) into ``details``.
    :param context: ``context`` of the answer (the feature and model as sent).
    """

    error_code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 400


def check_request(
    body: Any, models: Mapping[tuple[str, str], ModelRules]
) -> tuple[ModelRules | None, Refusal | None]:
    """
    The rules of the model ``body`` asks for, or the API's refusal of ``body``.

    :param body: the parsed JSON body of ``POST /api/features``.
    :param models: the rules of each ``(feature, model)`` served.
    """
    if not isinstance(body, dict):
        return None, Refusal("UNKNOWN_ERROR", "The body must be a JSON object.")
    feature, model = body.get("type"), body.get("model")
    context = {"feature": feature, "model": model}
    missing = [name for name in REQUIRED_TOP_LEVEL if body.get(name) is None]
    if missing:
        return None, Refusal(
            "MISSING_REQUIRED_FIELDS", "Missing required fields.", {"missing": missing}, context
        )
    features = sorted({key[0] for key in models})
    if not isinstance(feature, str) or feature not in features:
        return None, Refusal(
            "UNKNOWN_ERROR",
            f"Feature type {feature!r} is not served by this emulator.",
            {"features": features, "violations": [f"type: must be one of {', '.join(features)}"]},
            context,
        )
    rules = models.get((feature, model)) if isinstance(model, str) else None
    if rules is None:
        supported = sorted(key[1] for key in models if key[0] == feature)
        return None, Refusal(
            "UNSUPPORTED_MODEL",
            f"Model {model!r} is not supported for {feature}.",
            {"supported": supported},
            context,
        )
    lines = [f"{name}: is not a field of the request" for name in body if name not in TOP_LEVEL_FIELDS]
    if "async" in body and boolean(body["async"]) is not None:
        lines.append("async: must be true or false")
    prompt_object = body["promptObject"]
    if not isinstance(prompt_object, dict):
        lines.append("promptObject: must be an object")
        only_missing = False
    else:
        found = rules.violations(prompt_object)
        only_missing = bool(found) and not lines and all(msg == "is required" for _, msg in found)
        lines.extend(f"promptObject.{name}: {message}" for name, message in found)
    if not lines:
        return rules, None
    if only_missing:
        return None, Refusal(
            "MISSING_REQUIRED_FIELDS",
            "Missing required fields.",
            {"missing": [line.split(":", 1)[0] for line in lines], "violations": lines},
            context,
        )
    return None, Refusal(
        "UNKNOWN_ERROR", "Invalid request: " + "; ".join(lines), {"violations": lines}, context
    )
