"""
The schema files: valid Draft 2020-12, shipped as package data, one per model, the seed's presets;
and the answer schema, through ``validate_answer``.
"""

from __future__ import annotations

import copy
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from airflow_provider_onemin.exceptions import (
    OneMinConfigurationError,
    OneMinMalformedResponseError,
)
from airflow_provider_onemin.schemas.validation import (
    request_schema,
    request_violations,
    supported_models,
    validate_answer,
    validate_request,
)
from tests.schemas.schema_cases import (
    SEED_ANSWER,
    SEED_BODY,
    SEED_PRESETS,
)

# --------------------------------------------------------------------------------------------
# The schema file itself
# --------------------------------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12_and_shipped_as_package_data() -> None:
    text = (
        resources.files("airflow_provider_onemin.schemas")
        .joinpath("background_replacer/ideogram-3.json")
        .read_text(encoding="utf-8")
    )
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert request_schema("ideogram-3") == schema
    assert request_schema() == schema
    assert "ideogram-3" in supported_models()


def test_answer_schema_is_valid_draft_2020_12_and_shipped_as_package_data() -> None:
    text = resources.files("airflow_provider_onemin.schemas").joinpath("ai_record.json").read_text("utf-8")
    Draft202012Validator.check_schema(json.loads(text))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_package_data_globs_cover_the_schemas() -> None:
    import tomllib

    # pyproject's package-data must ship every schema file, or an installed wheel has none.
    root = Path(__file__).resolve().parents[2]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["airflow_provider_onemin"]
    package = root / "airflow_provider_onemin"
    shipped = {p for pattern in globs for p in package.glob(pattern)}
    assert set(package.glob("schemas/**/*.json")) <= shipped
    assert (package / "schemas" / "background_replacer" / "ideogram-3.json") in shipped


def test_unknown_model_is_a_configuration_error_listing_the_known_ones() -> None:
    with pytest.raises(OneMinConfigurationError) as caught:
        request_schema("nope")
    assert "'nope'" in str(caught.value)
    assert "ideogram-3" in str(caught.value)
    with pytest.raises(OneMinConfigurationError, match="ideogram-3"):
        request_violations(SEED_BODY, model="nope")
    with pytest.raises(OneMinConfigurationError, match="ideogram-3"):
        validate_request(SEED_BODY, model="nope")


def test_schema_presets_are_the_62_of_the_seed() -> None:
    enum = request_schema()["properties"]["promptObject"]["properties"]["style_preset"]["enum"]
    assert len(SEED_PRESETS) == 62
    assert len(set(SEED_PRESETS)) == 62
    assert len(enum) == 62
    assert set(enum) == set(SEED_PRESETS)


# --------------------------------------------------------------------------------------------
# The answer schema
# --------------------------------------------------------------------------------------------


def test_seed_success_answer_passes_and_returns_the_ai_record() -> None:
    answer = copy.deepcopy(SEED_ANSWER)
    record = validate_answer(answer, what="POST /api/features")
    assert record is answer["aiRecord"]
    assert record["aiRecordDetail"]["resultObject"] == ["development/images/2026_04_15_bg_replace_result.png"]


@pytest.mark.parametrize("status", ["PROCESSING", "FAILURE", "FAILED", "ERROR"])
def test_non_success_answer_without_detail_has_the_expected_shape(status: str) -> None:
    # Shape only: the status decides success elsewhere; a PROCESSING record has no result yet.
    record = validate_answer({"aiRecord": {"uuid": "u-1", "status": status}}, what="GET /api/results/u-1")
    assert record == {"uuid": "u-1", "status": status}


def _without(path: list[str]) -> dict[str, Any]:
    answer = copy.deepcopy(SEED_ANSWER)
    target = answer
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return answer


def _with(path: list[str], value: Any) -> dict[str, Any]:
    answer = copy.deepcopy(SEED_ANSWER)
    target = answer
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return answer


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"aiRecord": None}, "aiRecord"),
        ({}, "aiRecord"),
        ([], "(request)"),
        ("<html>502 Bad Gateway</html>", "(request)"),
        (_without(["aiRecord", "status"]), "aiRecord.status"),
        (_without(["aiRecord", "uuid"]), "aiRecord.uuid"),
        (_with(["aiRecord", "status"], None), "aiRecord.status"),
        (
            _with(["aiRecord", "aiRecordDetail", "resultObject"], "a.png"),
            "aiRecord.aiRecordDetail.resultObject",
        ),
        (
            _with(["aiRecord", "aiRecordDetail", "resultObject"], [1, 2]),
            "aiRecord.aiRecordDetail.resultObject[0]",
        ),
        (
            _with(["aiRecord", "aiRecordDetail", "resultObject"], [""]),
            "aiRecord.aiRecordDetail.resultObject[0]",
        ),
        (_without(["aiRecord", "aiRecordDetail", "resultObject"]), "aiRecord.aiRecordDetail.resultObject"),
        (_without(["aiRecord", "aiRecordDetail"]), "aiRecord.aiRecordDetail"),
    ],
    ids=[
        "aiRecord-null",
        "no-aiRecord",
        "list",
        "html",
        "missing-status",
        "missing-uuid",
        "status-null",
        "resultObject-string",
        "resultObject-ints",
        "resultObject-blank",
        "success-without-resultObject",
        "success-without-detail",
    ],
)
def test_malformed_answers_rejected(answer: Any, named: str) -> None:
    with pytest.raises(OneMinMalformedResponseError) as caught:
        validate_answer(answer, what="POST /api/features")
    message = str(caught.value)
    assert "POST /api/features" in message
    assert f"{named}:" in message


def test_answer_missing_status_is_not_also_blamed_for_a_missing_detail() -> None:
    # Only a SUCCESS record must carry aiRecordDetail; an answer without a status must not be
    # told that aiRecordDetail is required.
    from airflow_provider_onemin.schemas.validation import answer_violations

    violations = answer_violations({"aiRecord": {"uuid": "u-1"}})
    assert violations == ["aiRecord.status: is required"]
