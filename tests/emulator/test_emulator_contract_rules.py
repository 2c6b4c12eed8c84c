"""
The emulator's answers to requests the API contract rules on, over real HTTP; and the provider's
verdict on the same bodies, so that the two can only disagree where the provider refuses on
purpose what the contract allows.

Every expected outcome comes from the contract's text (``contract_cases.py``), never from either
implementation.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from contract_cases import CASES, MISSING, SEED_EXAMPLE, SEED_STYLE_PRESETS, Case

from airflow_provider_onemin.schemas.validation import request_violations

if TYPE_CHECKING:
    import requests

    from airflow_provider_onemin.emulator.server import EmulatorServer


def _post(emu: EmulatorServer, api: requests.Session, body: Any) -> requests.Response:
    return api.post(f"{emu.url}/api/features", json=body, timeout=30)


def _names_field(error: dict[str, Any], field: str) -> bool:
    details = json.loads(error["details"])
    lines = details.get("violations", [])
    named = {line.split(":", 1)[0] for line in lines} | set(details.get("missing", []))
    if error["errorCode"] == "UNSUPPORTED_MODEL":
        named.add("model")  # the model is the subject of the answer itself
    return field in named or any(name.startswith(field + "[") for name in named)


def test_the_cases_cover_both_verdicts() -> None:
    verdicts = [case.valid for case in CASES]
    assert verdicts.count(True) >= 20 and verdicts.count(False) >= 20
    assert len({case.id for case in CASES}) == len(CASES)


def test_the_seed_lists_62_presets() -> None:
    # The contract: "style_preset: one of the 62 names in the seed".
    assert len(SEED_STYLE_PRESETS) == len(set(SEED_STYLE_PRESETS)) == 62


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_emulator_answers_as_the_contract_says(
    emu: EmulatorServer, api: requests.Session, case: Case
) -> None:
    answer = _post(emu, api, case.body())
    if case.valid:
        assert answer.status_code == 200, answer.text
        record = answer.json()["aiRecord"]
        count = int(case.body()["promptObject"]["num_images"])
        if record["status"] == "SUCCESS":
            assert len(record["aiRecordDetail"]["resultObject"]) == count
        assert emu.charges() == 1
        return
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert set(error) == {"errorCode", "message", "details", "context"}, error
    assert error["errorCode"] == case.code, error
    assert error["message"]
    assert case.field is not None and _names_field(error, case.field), error
    assert emu.charges() == 0 and emu.records == []


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_provider_schema_agrees_with_the_contract(case: Case) -> None:
    violations = request_violations(case.body())
    if case.provider_stricter:
        assert violations, f"the provider means to refuse this ({case.provider_stricter})"
        return
    if case.valid:
        assert violations == []
        return
    assert violations, "the provider lets through a body the contract refuses"
    assert case.field is not None
    parent, _, key = case.field.rpartition(".")

    def names_the_field(line: str) -> bool:
        path, _, rule = line.partition(": ")
        if path == case.field or path.startswith(case.field + "["):
            return True
        # jsonschema reports an unknown field at its parent, quoting it.
        return path == (parent or "(request)") and f"{key!r}" in rule

    assert any(names_the_field(line) for line in violations), violations


def test_every_seed_preset_is_accepted(emu: EmulatorServer, api: requests.Session) -> None:
    refused = []
    for preset in SEED_STYLE_PRESETS:
        body = json.loads(json.dumps(SEED_EXAMPLE))
        body["promptObject"]["style_preset"] = preset
        answer = _post(emu, api, body)
        if answer.status_code != 200:
            refused.append((preset, answer.text))
    assert refused == []
    assert emu.charges() == len(SEED_STYLE_PRESETS)


@pytest.mark.parametrize("body", ["[]", '"a body"', "{nope"])
def test_a_body_that_is_no_json_object(emu: EmulatorServer, api: requests.Session, body: str) -> None:
    answer = api.post(
        f"{emu.url}/api/features", data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "UNKNOWN_ERROR"
    assert emu.charges() == 0


def test_missing_fields_are_all_named(emu: EmulatorServer, api: requests.Session) -> None:
    body = {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {"rendering_speed": "TURBO"},
    }
    error = _post(emu, api, body).json()
    assert error["errorCode"] == MISSING
    assert json.loads(error["details"])["missing"] == [
        "promptObject.prompt",
        "promptObject.imageUrl",
        "promptObject.num_images",
    ]
