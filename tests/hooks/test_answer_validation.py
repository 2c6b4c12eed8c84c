"""
The check of every API answer: compiled by jsonschema-rs from the schema file for the common
case (a well-formed answer), with jsonschema's own messages whenever an answer is refused.

The judge of "well-formed" here is jsonschema itself, run directly on the same schema file: the
two libraries are independent implementations of Draft 2020-12, and they must agree on every
answer Hypothesis can build (valid ones, and valid ones with a field removed or replaced by any
JSON value).
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from airflow_provider_onemin.exceptions import OneMinMalformedResponseError
from airflow_provider_onemin.schemas import validation

SCHEMA = json.loads(
    resources.files("airflow_provider_onemin.schemas").joinpath("ai_record.json").read_text("utf-8")
)
JSONSCHEMA = Draft202012Validator(SCHEMA)

SUCCESS_ANSWER: dict[str, Any] = {
    "aiRecord": {
        "uuid": "e40dd9ef-0944-4ce5-bc90-1edd2548619a",
        "status": "SUCCESS",
        "temporaryUrl": "https://asset.example/r.png?token=t",
        "aiRecordDetail": {
            "promptObject": {"prompt": "a beach", "imageUrl": "development/images/mug.png", "num_images": 1},
            "resultObject": ["development/images/2026_04_15_bg_replace_result.png"],
            "responseObject": {"data": [{"url": "https://upstream.example/0.png", "seed": 12345}]},
        },
    }
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)

statuses = st.sampled_from(["SUCCESS", "PROCESSING", "FAILURE", "FAILED", "ERROR", ""])


@st.composite
def answers(draw: st.DrawFn) -> Any:
    """A well-formed answer of any status, then (mostly) one field removed or replaced."""
    record: dict[str, Any] = {"uuid": draw(st.text(min_size=1, max_size=8)), "status": draw(statuses)}
    if draw(st.booleans()):
        record["temporaryUrl"] = draw(st.none() | st.text(max_size=8))
    if record["status"] == "SUCCESS" or draw(st.booleans()):
        data = draw(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "url": st.none() | st.text(max_size=8),
                        "seed": st.none() | st.integers(min_value=0, max_value=2**31),
                    },
                ),
                max_size=3,
            )
        )
        record["aiRecordDetail"] = {
            "resultObject": draw(st.lists(st.text(min_size=1, max_size=8), max_size=3)),
            "responseObject": draw(st.none() | st.just({"data": data})),
        }
    answer: Any = {"aiRecord": record}
    mutation = draw(st.sampled_from(["none", "remove", "replace", "replace", "whole"]))
    if mutation == "whole":
        return draw(json_values)
    if mutation == "none":
        return answer
    # Walk to a random dict on the path and change one of its keys.
    target = answer
    while True:
        children = [k for k, v in target.items() if isinstance(v, dict)]
        if not children or draw(st.booleans()):
            break
        target = target[draw(st.sampled_from(sorted(children)))]
    key = draw(st.sampled_from(sorted(target)))
    if mutation == "remove":
        del target[key]
    else:
        target[key] = draw(json_values)
    return answer


@settings(max_examples=400, deadline=None)
@given(answers())
def test_refused_exactly_when_jsonschema_finds_a_violation(answer: Any) -> None:
    # Answers arrive as parsed JSON: check what a JSON round trip leaves.
    answer = json.loads(json.dumps(answer))
    expected = sorted(e.message for e in JSONSCHEMA.iter_errors(answer))
    assert bool(validation.answer_violations(answer)) == bool(expected)
    if expected:
        with pytest.raises(OneMinMalformedResponseError):
            validation.validate_answer(answer, what="GET /api/results/x")
    else:
        assert validation.validate_answer(answer, what="GET /api/results/x") is answer["aiRecord"]


def test_a_well_formed_answer_does_not_run_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    # jsonschema's interpreter is what made the hook's POST+GET cost more than a bare pair; a
    # well-formed answer must be accepted by the compiled check alone.
    def no_interpreter(relative_path: str) -> Any:
        raise AssertionError(f"jsonschema ran for a well-formed answer ({relative_path})")

    monkeypatch.setattr(validation, "_validator", no_interpreter)
    answer = copy.deepcopy(SUCCESS_ANSWER)
    assert validation.validate_answer(answer, what="POST /api/features") is answer["aiRecord"]
    assert validation.record_or_none({"aiRecord": None}, what="GET /api/results/x") is None
    assert validation.answer_violations({"aiRecord": {"uuid": "u", "status": "PROCESSING"}}) == []


@pytest.mark.parametrize(
    "answer",
    [
        {"aiRecord": {"uuid": "", "status": "SUCCESS", "aiRecordDetail": {"resultObject": []}}},
        {"aiRecord": {"uuid": "u", "status": "SUCCESS"}},
        {"aiRecord": {"uuid": "u", "status": 3}},
        {"aiRecord": {"uuid": "u", "status": "SUCCESS", "aiRecordDetail": {"resultObject": [7]}}},
        ["not", "an", "object"],
    ],
    ids=["blank-uuid", "success-without-detail", "status-number", "result-number", "list"],
)
def test_a_refused_answer_carries_jsonschemas_messages(answer: Any) -> None:
    with pytest.raises(OneMinMalformedResponseError) as caught:
        validation.validate_answer(answer, what="GET /api/results/u")
    message = str(caught.value)
    for error in JSONSCHEMA.iter_errors(answer):
        if error.validator != "required":  # a missing field is re-worded to name the field itself
            assert error.message in message


def test_a_value_the_compiled_check_cannot_read_is_left_to_jsonschema() -> None:
    # Not JSON (an answer never holds one, but nothing must crash on it): jsonschema decides.
    odd = {"aiRecord": {"uuid": "u", "status": "PROCESSING", "temporaryUrl": b"bytes"}}
    assert validation.answer_violations(odd) == [
        "aiRecord.temporaryUrl: b'bytes' is not of type 'string', 'array', 'null'"
    ]
