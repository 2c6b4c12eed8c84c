"""
The fast answer check agrees with jsonschema on the answer schema: it may only ever say "valid"
when jsonschema does (anything else falls back to jsonschema), and for speed it should say
"valid" for every answer jsonschema accepts.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_onemin.validation import _conforms, _load_schema, _Undecided, _validator

SCHEMA = _load_schema("ai_record.json")

VALID = {
    "aiRecord": {
        "uuid": "u-1",
        "status": "SUCCESS",
        "temporaryUrl": None,
        "aiRecordDetail": {
            "resultObject": ["development/images/r.png"],
            "responseObject": {"data": [{"url": "https://x/0.png", "seed": 12}]},
        },
    }
}

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["", "SUCCESS", "PROCESSING", "FAILURE", "x", "development/images/r.png"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                ["aiRecord", "uuid", "status", "temporaryUrl", "aiRecordDetail", "resultObject",
                 "responseObject", "data", "url", "seed", "other"]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
PATHS = [
    ("aiRecord",),
    ("aiRecord", "uuid"),
    ("aiRecord", "status"),
    ("aiRecord", "temporaryUrl"),
    ("aiRecord", "aiRecordDetail"),
    ("aiRecord", "aiRecordDetail", "resultObject"),
    ("aiRecord", "aiRecordDetail", "responseObject"),
    ("aiRecord", "aiRecordDetail", "responseObject", "data"),
]


@st.composite
def answers(draw: Any) -> Any:
    """A valid answer with a few parts replaced or removed, or any JSON value at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    answer = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = answer
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if draw(st.booleans()):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(json_values)
    return answer


def _jsonschema_valid(answer: Any) -> bool:
    return not list(_validator("ai_record.json").iter_errors(answer))


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(answers())
def test_fast_check_agrees_with_jsonschema(answer):
    try:
        fast = _conforms(SCHEMA, answer)
    except _Undecided:  # pragma: no cover - the answer schema only uses covered keywords
        raise AssertionError("the answer schema should be decided by the fast check") from None
    assert fast == _jsonschema_valid(answer), answer


def test_a_schema_keyword_it_does_not_know_is_left_to_jsonschema():
    import pytest

    with pytest.raises(_Undecided):
        _conforms({"type": "string", "pattern": "^a"}, "b")
    with pytest.raises(_Undecided):
        _conforms({"properties": {"a": {"enum": [1]}}}, {"a": 2})
