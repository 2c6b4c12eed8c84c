"""
From the operator's arguments to the request's promptObject: which argument is which field,
whether a value is only known after rendering, and what a rendered value becomes.

Which fields a model takes, where its "how many images" goes and which defaults it always sends
are read from the model's schema file (:mod:`~airflow_provider_onemin.schemas.models`), loaded
on first use: importing this module (every DAG file does, through the operator) reads no schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_onemin.schemas.features import DEFAULT_MODEL

#: Operator argument -> promptObject field: the seed document's, in its order, then the other
#: models' (issue 21). ``num_images`` goes to the model's own field (:func:`prompt_object_of`).
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
    "size": "size",
    "quality": "quality",
    "background": "background",
    "output_format": "output_format",
    "output_compression": "output_compression",
    "style": "style",
    "substyle": "substyle",
}
_INTEGER_ARGUMENTS = ("num_images", "seed", "output_compression")


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


def prompt_object_of(arguments: Mapping[str, Any], model: str = DEFAULT_MODEL) -> dict[str, Any]:
    """
    The promptObject of the operator's (rendered) arguments for ``model``.

    ``None`` arguments are left out, except a field the model always sends, which gets its
    default. ``num_images`` goes to the model's own field (``num_images``, ``n``), left out when
    the model makes one image (:func:`argument_violations` refuses more) or when it is the
    field's default and the field is one that only one version of the API page has. Any other
    argument is put under its field even when the model has no such field: the schema then
    refuses the request, naming the field and the model.

    :raises OneMinConfigurationError: when ``model`` is unknown (the message lists the known ones).
    """
    from airflow_provider_onemin.schemas.models import model_spec

    spec = model_spec(model)
    prompt_object: dict[str, Any] = {}
    for argument, field in PROMPT_FIELDS.items():
        value = arguments.get(argument)
        if argument == "num_images":
            field = spec.num_images_field
            if field is None or value is None:
                continue
        if value is None:
            if field in spec.sent_defaults:
                prompt_object[field] = spec.sent_defaults[field]
            continue
        if argument in _INTEGER_ARGUMENTS:
            value = coerce_integer(argument, value)
        elif isinstance(value, tuple):
            value = list(value)
        if field in spec.omitted_defaults and value == spec.omitted_defaults[field] and type(value) is int:
            continue
        prompt_object[field] = value
    return prompt_object


def argument_violations(arguments: Mapping[str, Any], model: str = DEFAULT_MODEL) -> list[str]:
    """
    What the schema cannot see because the argument is not sent: ``num_images`` other than 1 for
    a model that makes one image. One ``argument: rule`` line each.
    """
    from airflow_provider_onemin.schemas.models import model_spec

    if model_spec(model).num_images_field is not None:
        return []  # the schema judges it, under the model's own field
    asked = coerce_integer("num_images", arguments.get("num_images"))
    if asked is None or (asked == 1 and type(asked) is int):
        return []
    return [f"num_images: model {model} makes one image per request ({asked!r} asked for)"]


def remover_prompt_object(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """
    The Background Remover's promptObject of the operator's (rendered) arguments: ``image_url``
    and ``output_format`` (``png`` when not given; always sent, docs/models.md).
    """
    output_format = arguments.get("output_format")
    return {
        "imageUrl": arguments.get("image_url"),
        "output_format": "png" if output_format is None else output_format,
    }
