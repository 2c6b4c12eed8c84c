"""
Request and answer validation against the JSON Schemas shipped in ``schemas/``.

The schemas are the single source of truth for the rules: this module only loads them, runs
the validators and turns every violation into one ``field.path: rule`` line.

API answers are checked on every POST and poll, so their schema is also compiled by
``jsonschema-rs`` from the same Draft 2020-12 file: it answers "valid?" in microseconds, and
``jsonschema`` runs only when that answer is "no", for its messages. An answer is refused only
when ``jsonschema`` finds a violation, so what the user reads is always its message. Requests
(once per task, and built from Python values that are not always plain JSON, such as tuples)
are checked by ``jsonschema`` alone.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.exceptions import (
    OneMinConfigurationError,
    OneMinMalformedResponseError,
    OneMinValidationError,
)

# FEATURE_BACKGROUND_REPLACER: imported from here before schemas/features.py existed.
from airflow_provider_onemin.schemas.features import (  # noqa: F401
    DEFAULT_MODEL,
    FEATURE_BACKGROUND_REPLACER,
    FEATURE_TITLES,
    SCHEMA_FOLDERS,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

_SCHEMA_PACKAGE = "airflow_provider_onemin.schemas"


def supported_models(feature_dir: str = "background_replacer") -> list[str]:
    """Models that have a request schema shipped with this package, sorted."""
    folder = resources.files(_SCHEMA_PACKAGE).joinpath(feature_dir)
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


@lru_cache(maxsize=16)
def _load_schema(relative_path: str) -> dict[str, Any]:
    text = resources.files(_SCHEMA_PACKAGE).joinpath(relative_path).read_text(encoding="utf-8")
    return json.loads(text)


def _size_grid(validator: Validator, grid: Any, instance: Any, schema: dict[str, Any]) -> Any:
    """The ``x-size-grid`` keyword: the size rules JSON Schema cannot state (:mod:`.sizes`)."""
    from jsonschema.exceptions import ValidationError

    from airflow_provider_onemin.schemas.sizes import size_grid_violation

    problem = size_grid_violation(instance, grid) if isinstance(instance, str) else None
    if problem is not None:
        yield ValidationError(problem)


@lru_cache(maxsize=16)
def _validator(relative_path: str) -> Validator:
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend

    schema = _load_schema(relative_path)
    Draft202012Validator.check_schema(schema)
    return extend(Draft202012Validator, {"x-size-grid": _size_grid})(schema)


@lru_cache(maxsize=16)
def _compiled_check(relative_path: str) -> Callable[[Any], bool]:
    """The compiled validator's ``is_valid`` for the schema at ``relative_path``."""
    from jsonschema_rs import Draft202012Validator as CompiledValidator

    return CompiledValidator(_load_schema(relative_path)).is_valid


def _parsed_json_errors(relative_path: str, instance: Any) -> list[ValidationError]:
    """
    jsonschema's errors for ``instance``, a value parsed from JSON; none, at once, when the
    compiled check passes. (On values JSON cannot hold the two libraries differ: a tuple is an
    array to jsonschema-rs only, so this is for parsed answers, never for Python-built bodies.)
    """
    try:
        if _compiled_check(relative_path)(instance):
            return []
    except ValueError:
        pass  # a value it cannot read: jsonschema decides
    return list(_validator(relative_path).iter_errors(instance))


def _schema_path(model: str, feature: str) -> str:
    return f"{SCHEMA_FOLDERS[feature]}/{model}.json"


def request_schema(model: str = DEFAULT_MODEL, feature: str = FEATURE_BACKGROUND_REPLACER) -> dict[str, Any]:
    """
    Return the request schema of ``model`` for ``feature``; a clear error when unknown.

    :param model: the model's name.
    :param feature: the feature type (``BACKGROUND_REPLACER``, ``BACKGROUND_REMOVER``).
    """
    folder = SCHEMA_FOLDERS[feature]
    known = supported_models(folder)
    if not isinstance(model, str) or model not in known:
        raise OneMinConfigurationError(
            f"Unknown {FEATURE_TITLES[feature]} model {model!r}: this provider has request schemas for "
            f"{', '.join(known)}. Use one of those, or add "
            f"schemas/{folder}/<model>.json to support another."
        )
    return _load_schema(_schema_path(model, feature))


def _field_path(error: ValidationError) -> str:
    parts: list[str] = []
    for part in error.absolute_path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(request)"


def _describe(error: ValidationError) -> str:
    rule = error.schema.get("x-rule") if isinstance(error.schema, dict) else None
    if rule:
        return f"{_field_path(error)}: {rule}"
    if error.validator == "required":
        # jsonschema reports a missing property at the parent; name the missing field itself.
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        path = _field_path(error)
        field = missing if path == "(request)" else f"{path}.{missing}"
        return f"{field}: is required"
    if error.validator == "additionalProperties":
        return f"{_field_path(error)}: {error.message} (not fields of this model's request)"
    if error.validator == "enum" and len(error.validator_value) > 8:
        sample = ", ".join(error.validator_value[:4])
        return (
            f"{_field_path(error)}: {error.instance!r} is not one of the {len(error.validator_value)} "
            f"allowed values ({sample}, ...; docs/operator.md lists them all)"
        )
    if error.validator == "maxItems" and isinstance(error.instance, list):
        # jsonschema only says "is too long"; state the limit.
        return (
            f"{_field_path(error)}: {len(error.instance)} items given, "
            f"at most {error.validator_value} allowed"
        )
    if error.validator == "pattern" and error.validator_value == "\\S":
        return f"{_field_path(error)}: must not be blank"
    return f"{_field_path(error)}: {error.message}"


def _not_fields_of(error: ValidationError, model: str) -> list[str]:
    """One line per field ``model``'s request does not have, naming the model and what it takes."""
    known = list(error.schema.get("properties", {}))
    given = error.instance if isinstance(error.instance, dict) else {}
    return [
        f"{_field_path(error)}: {name!r} is not allowed for model {model} (its fields: {', '.join(known)})"
        for name in sorted(set(given) - set(known), key=str)
    ]


def request_violations(
    body: dict[str, Any], model: str = DEFAULT_MODEL, *, feature: str = FEATURE_BACKGROUND_REPLACER
) -> list[str]:
    """Every violation of the request schema of ``model`` (of ``feature``), one ``field.path: rule`` line each."""
    request_schema(model, feature)  # raises the clear "unknown model" error first
    validator = _validator(_schema_path(model, feature))
    errors = sorted(validator.iter_errors(body), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    lines: list[str] = []
    for error in errors:
        if error.validator == "additionalProperties":
            lines.extend(_not_fields_of(error, model))
        else:
            lines.append(_describe(error))
    return lines


def validate_request(
    body: dict[str, Any],
    model: str = DEFAULT_MODEL,
    *,
    also: list[str] | tuple[str, ...] = (),
    feature: str = FEATURE_BACKGROUND_REPLACER,
) -> None:
    """
    Raise :class:`OneMinValidationError` listing all violations; return quietly when valid.

    :param body: the request body.
    :param model: the model whose schema judges it.
    :param also: problems found before the body was built (the operator's arguments), reported
        first, with the schema's.
    :param feature: the feature type whose schemas judge it.
    """
    violations = [*also, *request_violations(body, model, feature=feature)]
    if violations:
        raise OneMinValidationError(
            violations,
            summary=f"Invalid {FEATURE_TITLES[feature]} request for model {model} ({len(violations)} problem(s))",
        )


def answer_violations(answer: Any) -> list[str]:
    """Every way an API answer differs from the shape this provider relies on."""
    return [_describe(e) for e in _parsed_json_errors("ai_record.json", answer)]


def record_or_none(answer: Any, *, what: str) -> dict[str, Any] | None:
    """
    The record of a ``GET /api/results/{uuid}`` answer: ``None`` for ``{"aiRecord": null}`` (no
    such record), else as :func:`validate_answer`.
    """
    if isinstance(answer, dict) and "aiRecord" in answer and answer["aiRecord"] is None:
        return None
    return validate_answer(answer, what=what)


def validate_answer(answer: Any, *, what: str) -> dict[str, Any]:
    """
    Return ``answer["aiRecord"]`` when the answer has the expected shape, else raise. A
    ``temporaryUrl`` sent at the top level of the answer is moved into the record, where the code
    that downloads results reads it.
    """
    violations = answer_violations(answer)
    if violations:
        raise OneMinMalformedResponseError(
            f"1min.ai answered {what} with an unexpected shape: {'; '.join(violations[:5])}. "
            "The API may have changed; report it with the task log."
        )
    record = answer["aiRecord"]
    if not record.get("temporaryUrl") and answer.get("temporaryUrl"):
        record = {**record, "temporaryUrl": answer["temporaryUrl"]}
    return record
