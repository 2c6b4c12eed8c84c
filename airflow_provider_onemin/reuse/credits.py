"""
Credits before paying: what a request would cost, and the prices paid calls left beside the index.

:func:`estimate` says what one request would cost, and where the figure comes from
(docs/models.md, "Credits"):

1. ``model list``: 1min.ai's model list (:meth:`~airflow_provider_onemin.hooks.onemin.OneMinHook.list_models`)
   has an estimate for the model and the request's options;
2. ``earlier paid calls``: a paid call with identical options, under the same output folder,
   reported what it cost (:func:`remember_price` keeps it, per image, beside the reuse index);
3. ``unknown``: neither. Never 0: an unknown cost is not a free one.

Identical options: the same feature, model and promptObject, but for what each request has of its
own (the prompt, the images, the seed, the negative prompt) and the number of images (a price is
kept per image). A price record is one small JSON file per options at
``<output_path>/.onemin-reuse/credits/<options digest>.json``, written whole or not at all; the
newest paid call wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import read_storage_path
from airflow_provider_onemin.schemas.features import FEATURE_BACKGROUND_REPLACER

if TYPE_CHECKING:
    from airflow_provider_onemin.hooks.model_list import ModelList

log = logging.getLogger(__name__)

__all__ = [
    "EARLIER_CALLS",
    "MODEL_LIST",
    "UNKNOWN",
    "CreditEstimate",
    "estimate",
    "format_credits",
    "image_count",
    "options_of",
    "remember_price",
]

MODEL_LIST = "model list"
EARLIER_CALLS = "earlier paid calls"
UNKNOWN = "unknown"
#: Folder, under the reuse index's folder, holding the price of each set of options.
PRICES_FOLDER = "credits"
PRICE_FORMAT = "onemin-credits/1"
#: promptObject fields that are a request's own content, not options that set its price.
CONTENT_FIELDS = frozenset({"prompt", "imageUrl", "negative_prompt", "seed", "style_reference_images"})
#: Fields that say how many images a call makes (the price is kept per image).
COUNT_FIELDS = ("num_images", "n")


def format_credits(credits: float | None) -> str:
    """``"3,000"`` (thousands separated), or ``"unknown"`` for ``None``."""
    if credits is None:
        return UNKNOWN
    return f"{credits:,.0f}" if float(credits).is_integer() else f"{credits:,.2f}"


def images_of(
    model: str, prompt_object: Mapping[str, Any], feature: str = FEATURE_BACKGROUND_REPLACER
) -> int:
    """How many images a request makes: as its model's schema says, else :func:`image_count`."""
    from airflow_provider_onemin.schemas.models import images_requested

    try:
        return images_requested({"type": feature, "model": model, "promptObject": prompt_object})
    except Exception:  # a model (or feature) the schemas do not know: read the usual fields
        return image_count(prompt_object)


def image_count(prompt_object: Mapping[str, Any]) -> int:
    """How many images a request makes: its ``num_images`` or ``n``, else one."""
    for name in COUNT_FIELDS:
        value = prompt_object.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 1


def options_of(
    model: str, prompt_object: Mapping[str, Any], feature: str = FEATURE_BACKGROUND_REPLACER
) -> dict:
    """
    The options that set a request's price: feature, model and the non-content fields. Only plain
    values are options: a list, an object or a link (a field of a model this module does not know
    that names a file) is content, and a link may be signed: it is never written to a price record.
    """
    kept = {
        name: value
        for name, value in prompt_object.items()
        if name not in CONTENT_FIELDS
        and name not in COUNT_FIELDS
        and (
            value is None
            or isinstance(value, (bool, int, float))
            or (isinstance(value, str) and "://" not in value)
        )
    }
    return {"type": feature, "model": model, "options": kept}


def _options_digest(options: Mapping[str, Any]) -> str:
    text = json.dumps(options, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CreditEstimate:
    """
    What one request would cost.

    :param credits: the estimate, None when unknown.
    :param source: where it comes from: ``model list``, ``earlier paid calls`` or ``unknown``.
    :param detail: how it was reached, in words (``3,000 per image x 2 images``).
    :param images: the images the request makes.
    """

    credits: float | None
    source: str
    detail: str
    images: int

    def describe(self) -> str:
        """``6,000 credits (model list: 3,000 per image x 2 images)``, or why it is unknown."""
        if self.credits is None:
            return f"credits unknown ({self.detail})"
        return f"{format_credits(self.credits)} credits ({self.source}: {self.detail})"

    def as_dict(self) -> dict[str, Any]:
        return {"credits": self.credits, "source": self.source, "detail": self.detail, "images": self.images}


def estimate(
    model: str,
    prompt_object: Mapping[str, Any],
    *,
    model_list: ModelList | None,
    output_path: Any = None,
    feature: str = FEATURE_BACKGROUND_REPLACER,
) -> CreditEstimate:
    """
    What one request would cost: from the model list, else from earlier paid calls, else unknown.

    :param model: the model.
    :param prompt_object: the request's promptObject.
    :param model_list: the feature's model list, None when it could not be read.
    :param output_path: the output folder whose earlier paid calls are looked at (None: none).
    :param feature: the feature type.
    """
    images = images_of(model, prompt_object, feature)
    plural = "image" if images == 1 else "images"
    listed = model_list.get(model) if model_list is not None else None
    price = listed.price(prompt_object) if listed is not None else None
    if price is not None:
        if price.per_call:
            detail = f"{format_credits(price.credits)} per call"
        else:
            detail = f"{format_credits(price.credits)} per image x {images} {plural}"
        if price.upper_bound:
            detail += ", the highest figure listed for the model: no figure for these options"
        return CreditEstimate(price.for_images(images), MODEL_LIST, detail, images)
    earlier = _earlier_price(output_path, options_of(model, prompt_object, feature))
    if earlier is not None:
        per_image = earlier["credit_per_image"]
        detail = f"{format_credits(per_image)} per image x {images} {plural}, as paid for generation {earlier.get('uuid')}"
        return CreditEstimate(per_image * images, EARLIER_CALLS, detail, images)
    if model_list is None:
        why = "the model list could not be read"
    elif listed is None:
        why = f"{model} is not in the model list"
    else:
        why = f"the model list gives no estimate for {model} that can be read"
    where = "no earlier paid call with these options" if output_path not in (None, "") else "no output_path"
    return CreditEstimate(None, UNKNOWN, f"{why}, and {where}", images)


def read_model_list(onemin_conn_id: str, feature: str, model: str, log: logging.Logger) -> ModelList | None:
    """
    The feature's model list through the connection (cached per process), warning when ``model``
    is not in it; None, with a warning, when it cannot be read (the estimate then looks elsewhere).
    """
    from airflow_provider_onemin.exceptions import OneMinError
    from airflow_provider_onemin.hooks.onemin import OneMinHook

    hook = OneMinHook(onemin_conn_id=onemin_conn_id)
    try:
        model_list = hook.list_models(feature)
    except Exception as exc:  # a missing connection is not a OneMinError
        what = str(exc) if isinstance(exc, OneMinError) else type(exc).__name__
        log.warning(
            "The model list of %s could not be read (%s): credits are estimated without it.", feature, what
        )
        return None
    finally:
        hook.close()
    hook.model_listed(feature, model, model_list)
    return model_list


def _price_path(output_path: Any, options: Mapping[str, Any]) -> Any:
    from airflow_provider_onemin.reuse.index import INDEX_FOLDER
    from airflow_provider_onemin.storage.results import as_storage_path

    return as_storage_path(output_path) / INDEX_FOLDER / PRICES_FOLDER / f"{_options_digest(options)}.json"


def _earlier_price(output_path: Any, options: Mapping[str, Any]) -> dict[str, Any] | None:
    """The price record of these options under ``output_path``, if one can be read and trusted."""
    if output_path is None or output_path == "":
        return None
    path = _price_path(output_path, options)
    try:
        record = json.loads(read_storage_path(path))
    except FileNotFoundError:
        return None
    except Exception as exc:
        # An estimate is advice: a store that fails here leaves it unknown, it does not fail the run.
        log.warning("Price record %s could not be read (%s): it is not used.", path, type(exc).__name__)
        return None
    per_image = record.get("credit_per_image") if isinstance(record, dict) else None
    if (
        record.get("format") != PRICE_FORMAT
        or record.get("options") != json.loads(json.dumps(options, default=str))
        or isinstance(per_image, bool)
        or not isinstance(per_image, (int, float))
        or per_image < 0
    ):
        log.warning("Price record %s does not match its options or format: it is not used.", path)
        return None
    return record


def remember_price(
    output_path: Any,
    request: Mapping[str, Any],
    credit: float,
    uuid: str | None,
    log: logging.Logger,
) -> None:
    """
    Keep what a paid call cost, per image, for later estimates of identical options (best effort:
    a failure is logged, the paid and stored generation stays delivered).

    :param output_path: the output folder (the price goes beside its reuse index).
    :param request: the request as paid for (``type``, ``model``, ``promptObject``: a request key's).
    :param credit: what the call cost (``metadata.credit``).
    :param uuid: the generation.
    """
    from airflow_provider_onemin.storage.results import write_file_atomically

    prompt_object = request.get("promptObject") or {}
    feature = request.get("type") or FEATURE_BACKGROUND_REPLACER
    options = options_of(request["model"], prompt_object, feature)
    images = images_of(request["model"], prompt_object, feature)
    entry = {
        "format": PRICE_FORMAT,
        "options": options,
        "credit": credit,
        "images": images,
        "credit_per_image": credit / images,
        "uuid": uuid,
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        path = _price_path(output_path, options)
        write_file_atomically(path, json.dumps(entry, indent=1, sort_keys=True, default=str).encode("utf-8"))
    except Exception as exc:
        log.warning("What generation %s cost could not be kept for later estimates (%s).", uuid, exc)
        return
    log.info(
        "Kept the price of generation %s (%s credits) for estimates: %s", uuid, format_credits(credit), path
    )


def total(estimates: Iterable[CreditEstimate]) -> tuple[float, int]:
    """The sum of the known estimates, and how many are unknown."""
    known, unknown = 0.0, 0
    for item in estimates:
        if item.credits is None:
            unknown += 1
        else:
            known += item.credits
    return known, unknown
