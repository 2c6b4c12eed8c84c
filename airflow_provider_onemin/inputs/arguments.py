"""
From the operator's arguments to the request's promptObject: which argument is which field,
whether a value is only known after rendering, and what a rendered value becomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Operator argument -> promptObject field. The order is the order of the seed document.
PROMPT_FIELDS: dict[str, str] = {
    "prompt": "prompt",
    "image_url": "imageUrl",
    "num_images": "num_images",
    "rendering_speed": "rendering_speed",
    "magic_prompt": "magic_prompt",
    "style_type": "style_type",
    "style_preset": "style_preset",
    "style_reference_images": "style_reference_images",
    "negative_prompt": "negative_prompt",
    "seed": "seed",
}
_INTEGER_ARGUMENTS = ("num_images", "seed")


def is_templated(value: Any) -> bool:
    """True when ``value`` is only known after rendering (a Jinja string or an XComArg...)."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, (list, tuple)):
        return any(is_templated(v) for v in value)
    if isinstance(value, dict):
        return any(is_templated(v) for v in value.values())
    return value is not None and not isinstance(value, (int, float, bool))


def coerce_integer(name: str, value: Any) -> Any:
    """Rendered templates are strings: turn a string of digits into an int, leave the rest to the schema."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def prompt_object_of(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The promptObject of the operator's (rendered) arguments; ``None`` arguments are left out."""
    prompt_object: dict[str, Any] = {}
    for argument, field in PROMPT_FIELDS.items():
        value = arguments.get(argument)
        if value is None:
            continue
        if argument in _INTEGER_ARGUMENTS:
            value = coerce_integer(argument, value)
        elif isinstance(value, tuple):
            value = list(value)
        prompt_object[field] = value
    return prompt_object
