"""
What the operator needs to know of a model to build its request, read from the model's schema
file (``schemas/background_replacer/<model>.json``): its fields, the field "how many images" is
sent in, and the defaults it always sends. The schema file is the one statement of a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from airflow_provider_onemin.schemas.features import DEFAULT_MODEL, FEATURE_BACKGROUND_REPLACER


@dataclass(frozen=True)
class ModelSpec:
    """
    One Background Replacer model as its request schema states it.

    :param model: the model's name.
    :param fields: the promptObject fields it takes.
    :param num_images_field: the field the operator's ``num_images`` goes to (``x-num-images``);
        ``None`` when the model makes one image per request.
    :param omitted_defaults: fields left out of the body when their value is the field's default
        (``x-omit-default``: a field only one version of the API page has).
    :param sent_defaults: fields sent with their default when not given (``x-send-default``).
    """

    model: str
    fields: tuple[str, ...]
    num_images_field: str | None
    omitted_defaults: Mapping[str, Any]
    sent_defaults: Mapping[str, Any]


@lru_cache(maxsize=16)
def model_spec(model: str = DEFAULT_MODEL, feature: str = FEATURE_BACKGROUND_REPLACER) -> ModelSpec:
    """The :class:`ModelSpec` of ``model`` (of ``feature``); an unknown model raises the error listing the known ones."""
    from airflow_provider_onemin.schemas.validation import request_schema

    schema = request_schema(model, feature)
    properties = schema["properties"]["promptObject"]["properties"]
    return ModelSpec(
        model=model,
        fields=tuple(properties),
        num_images_field=schema.get("x-num-images"),
        omitted_defaults={f: p["default"] for f, p in properties.items() if p.get("x-omit-default")},
        sent_defaults={f: p["default"] for f, p in properties.items() if p.get("x-send-default")},
    )


def images_requested(body: Mapping[str, Any]) -> int:
    """How many images a validated request ``body`` asks for (1 for a model that makes one)."""
    spec = model_spec(body["model"], body.get("type", FEATURE_BACKGROUND_REPLACER))
    if spec.num_images_field is None:
        return 1
    default = spec.omitted_defaults.get(spec.num_images_field, 1)
    return int(body["promptObject"].get(spec.num_images_field, default))
