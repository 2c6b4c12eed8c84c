"""
1min.ai's model list: which models a feature offers and what they are said to cost.

``GET /models?feature=BACKGROUND_REPLACER`` is undocumented; public clients call it without a key
and it answers ``{models: [{modelId, status, features, creditMetadata, creditEstimation, ...}],
total}``. It is **advisory**: a public snapshot lacked models the feature serves (``ideogram-3``,
``gpt-image-2``), so a model missing from it is reported, never refused.

Lists are cached per process for :data:`MODEL_LIST_TTL` seconds (by base URL and feature): a plan of
many lines or a worker running many tasks reads it once. The cache is a convenience, never state
another process needs: a process without it reads the list again.

**Estimates.** :meth:`ListedModel.price` reads ``creditEstimation`` in the shapes docs/models.md
lists (a number; or ``{"unit", "credit", "byOptions": [{"options", "credit"}]}``); anything else
is no estimate (the caller then says "unknown" or looks elsewhere), never a guess.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.exceptions import OneMinError, OneMinMalformedResponseError

if TYPE_CHECKING:
    import logging

MODELS_PATH = "/models"
#: Seconds a model list read by this process is used again before it is read anew.
MODEL_LIST_TTL = 300.0
#: The longest read timeout of a model list call, in seconds: the list is advice, and a plan or a
#: dry run must not wait the connection's generation-sized read timeout for it.
MODEL_LIST_READ_TIMEOUT = 30.0
#: The features the connection test lists models for.
LISTED_FEATURES = ("BACKGROUND_REPLACER", "BACKGROUND_REMOVER")
#: ``creditEstimation.unit`` values that mean "per call" (anything else, or none: per image).
_PER_CALL_UNITS = frozenset({"call", "request", "generation"})


def _credit_number(value: Any) -> float | None:
    """A credit figure: a finite number >= 0 (a boolean or a string is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return float(value)


@dataclass(frozen=True)
class ListedPrice:
    """
    What the model list says a request costs.

    :param credits: the figure read.
    :param per_call: True when the figure is for the whole call, False when per image.
    :param upper_bound: True when no figure matched the request's options and the highest figure
        the model lists was taken (an estimate on the high side).
    """

    credits: float
    per_call: bool = False
    upper_bound: bool = False

    def for_images(self, images: int) -> float:
        """The credits of a call making ``images`` images."""
        return self.credits if self.per_call else self.credits * images


@dataclass(frozen=True)
class ListedModel:
    """One model of the list, as 1min.ai describes it (unread fields kept as they came)."""

    model_id: str
    name: str | None
    status: str | None
    features: tuple[str, ...]
    credit_metadata: Any
    credit_estimation: Any

    def price(self, prompt_object: Mapping[str, Any]) -> ListedPrice | None:
        """
        What the list says a request with this promptObject costs; None when it says nothing readable.

        :param prompt_object: the request's promptObject (its option fields are matched against
            ``byOptions``).
        """
        estimation = self.credit_estimation
        number = _credit_number(estimation)
        if number is not None:
            return ListedPrice(number)
        if not isinstance(estimation, Mapping):
            return None
        per_call = str(estimation.get("unit", "image")).lower() in _PER_CALL_UNITS
        rules = estimation.get("byOptions")
        rules = [r for r in rules if isinstance(r, Mapping)] if isinstance(rules, list) else []
        for rule in rules:
            options = rule.get("options")
            figure = _credit_number(rule.get("credit"))
            if figure is None or not isinstance(options, Mapping) or not options:
                continue
            if all(prompt_object.get(name) == value for name, value in options.items()):
                return ListedPrice(figure, per_call)
        default = _credit_number(estimation.get("credit"))
        if default is not None:
            return ListedPrice(default, per_call)
        figures = [f for f in (_credit_number(r.get("credit")) for r in rules) if f is not None]
        return ListedPrice(max(figures), per_call, upper_bound=True) if figures else None


@dataclass(frozen=True)
class ModelList:
    """The models 1min.ai lists for one feature."""

    feature: str
    models: tuple[ListedModel, ...]
    total: int | None = None

    @property
    def ids(self) -> list[str]:
        """The listed model ids, in the list's order."""
        return [model.model_id for model in self.models]

    def get(self, model_id: str) -> ListedModel | None:
        """The listed model ``model_id``, or None when the list does not have it."""
        return next((model for model in self.models if model.model_id == model_id), None)


def parse_model_list(answer: Any, feature: str) -> ModelList:
    """
    The model list in an answer of ``GET /models``; entries without a ``modelId`` are skipped.

    :raises OneMinMalformedResponseError: when the answer has no ``models`` list.
    """
    models = answer.get("models") if isinstance(answer, Mapping) else None
    if not isinstance(models, list):
        raise OneMinMalformedResponseError(
            f"1min.ai answered GET {MODELS_PATH}?feature={feature} without a 'models' list."
        )
    listed = []
    for entry in models:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("modelId"), str):
            continue
        features = entry.get("features")
        listed.append(
            ListedModel(
                model_id=entry["modelId"],
                name=entry.get("name") if isinstance(entry.get("name"), str) else None,
                status=entry.get("status") if isinstance(entry.get("status"), str) else None,
                features=tuple(f for f in features if isinstance(f, str))
                if isinstance(features, list)
                else (),
                credit_metadata=entry.get("creditMetadata"),
                credit_estimation=entry.get("creditEstimation"),
            )
        )
    total = answer.get("total")
    return ModelList(feature, tuple(listed), total if isinstance(total, int) else None)


# --- the per-process cache ----------------------------------------------------------------------

_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, ModelList]] = {}
#: The clock of the cache (monotonic: a changed wall clock does not age or rejuvenate a list).
_clock = time.monotonic


def cached_list(base_url: str, feature: str, max_age: float) -> ModelList | None:
    """The list read from ``base_url`` for ``feature`` less than ``max_age`` seconds ago, if any."""
    with _lock:
        found = _cache.get((base_url, feature))
    if found is None or _clock() - found[0] >= max_age:
        return None
    return found[1]


def remember_list(base_url: str, model_list: ModelList) -> None:
    """Keep a list just read, for :func:`cached_list`."""
    with _lock:
        _cache[(base_url, model_list.feature)] = (_clock(), model_list)


def clear_cache() -> None:
    """Forget every list this process read."""
    with _lock:
        _cache.clear()


# --- reading it through the sync hook -----------------------------------------------------------


def fetch_model_list(
    hook: Any, feature: str, *, max_age: float | None = None, retry: bool = True
) -> ModelList:
    """
    What ``OneMinHook.list_models`` does (``hook`` is the sync hook: typed loosely, as the hook's
    module imports this one): the cached list when it is young enough, else one
    ``GET /models?feature=...`` without the key (read timeout at most :data:`MODEL_LIST_READ_TIMEOUT`),
    retried as any free call unless ``retry`` is False.
    """
    from airflow_provider_onemin.hooks.retry_policy import Retryable

    max_age = MODEL_LIST_TTL if max_age is None else max_age
    found = cached_list(hook.base_url, feature, max_age)
    if found is not None:
        return found
    connect, read = hook.timeout
    timeout = (connect, min(read, MODEL_LIST_READ_TIMEOUT))

    def attempt() -> Any:
        url = hook._url(MODELS_PATH)
        response = hook._send(
            "GET", url, paid=False, anonymous=True, params={"feature": feature}, timeout=timeout
        )
        try:
            return response.json()
        except ValueError:
            raise hook._not_json("GET", MODELS_PATH, response.status_code, len(response.content)) from None
        finally:
            response.close()

    if retry:
        answer = hook._with_retries(f"GET {MODELS_PATH}", attempt)
    else:
        try:
            answer = attempt()
        except Retryable as failure:
            raise failure.error from None
    listed = parse_model_list(answer, feature)
    remember_list(hook.base_url, listed)
    return listed


def model_is_listed(log: logging.Logger, feature: str, model: str, model_list: ModelList) -> bool:
    """True when ``model`` is in ``model_list``; else a warning (the model is used anyway)."""
    if model_list.get(model) is not None:
        return True
    log.warning(
        "Model %r is not in 1min.ai's model list for %s (%s). The list is advisory: the model is "
        "used anyway; its credits cannot be estimated from the list.",
        model,
        feature,
        ", ".join(model_list.ids) or "the list is empty",
    )
    return False


def offered_models(hook: Any) -> str:
    """What the list offers per feature, in words, one attempt each; an unreadable list is said so."""
    from airflow_provider_onemin.schemas.features import DEFAULT_MODEL, FEATURE_BACKGROUND_REPLACER

    parts = []
    for feature in LISTED_FEATURES:
        try:
            ids = hook.list_models(feature, retry=False).ids
        except OneMinError as exc:
            parts.append(f"{feature}: model list not readable ({type(exc).__name__})")
            continue
        offered = f"{feature}: {', '.join(ids) if ids else 'none listed'}"
        if feature == FEATURE_BACKGROUND_REPLACER and DEFAULT_MODEL not in ids:
            offered += (
                f" ({DEFAULT_MODEL}, the default, is not listed: the list is advisory, it is used anyway)"
            )
        parts.append(offered)
    return "Models offered: " + "; ".join(parts) + "."
