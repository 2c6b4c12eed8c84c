"""
Property tests: the shipped JSON Schema (through ``request_violations``) against an independent
oracle.

The oracle below re-states the rules of the seed document (``seed/ideogram-background-replacer.txt``)
by hand in plain Python; it does not read the schema file. Hypothesis generates valid bodies,
near-valid bodies (a valid body with one to three mutations) and wild bodies (every field drawn
from a mix of valid, edge and wrong values), and each body must get the same verdict from both.
Every field the oracle blames must be named by a violation line, and every violation line must
name a field the oracle blames.

Profiles: ``onemin-fast`` (300 examples) runs by default; ``onemin-long`` (10,000 examples) runs
the test marked ``long`` and only with ``ONEMIN_LONG_TESTS=1`` (or ``--run-long`` if a conftest
registers that option). Run ``-m long --hypothesis-show-statistics`` to see the valid/invalid
split as Hypothesis events.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings

from airflow_provider_onemin.schemas.validation import request_violations
from tests.schemas.seed_bodies import EDGE_VALUES, STYLE_CONTEXTS, request_bodies, valid_bodies
from tests.schemas.seed_oracle import SEED_STYLE_PRESETS, Blame, oracle_is_valid, oracle_problems

FAST_PROFILE = "onemin-fast"
LONG_PROFILE = "onemin-long"
FAST_EXAMPLES = 300
LONG_EXAMPLES = 10_000

settings.register_profile(
    FAST_PROFILE,
    max_examples=FAST_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    LONG_PROFILE,
    max_examples=LONG_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ============================================================================================
# The comparison
# ============================================================================================


def _line_path(line: str) -> str:
    return line.split(": ", 1)[0]


def _names(blame: Blame, line: str) -> bool:
    path, _, rule = line.partition(": ")
    if path not in blame.paths:
        return False
    return blame.unknown_key is None or repr(blame.unknown_key) in rule


def compare_with_oracle(flavour: str, body: Any, counts: Counter[str]) -> str:
    """Assert the schema and the oracle agree on ``body``; count and return the verdict."""
    violations = request_violations(body)
    problems = oracle_problems(body)
    oracle_valid = not problems
    verdict = "valid" if oracle_valid else "invalid"
    counts[verdict] += 1
    counts[f"{flavour}:{verdict}"] += 1

    assert (not violations) == oracle_valid, (
        f"schema and oracle disagree on {body!r}\n  schema: {violations}\n  oracle: {problems}"
    )
    for problem in problems:
        assert any(_names(problem, line) for line in violations), (
            f"the oracle blames {sorted(problem.paths)} ({problem.reason}) but no violation names it: "
            f"{violations} for {body!r}"
        )
    blamed_paths = {path for problem in problems for path in problem.paths}
    for line in violations:
        assert _line_path(line) in blamed_paths, (
            f"violation {line!r} names a field the oracle does not blame ({problems}) for {body!r}"
        )
    return verdict


def run_comparison(profile: str) -> Counter[str]:
    counts: Counter[str] = Counter()

    @settings(settings.get_profile(profile))
    @given(request_bodies)
    def check(flavoured: tuple[str, Any]) -> None:
        flavour, body = flavoured
        verdict = compare_with_oracle(flavour, body, counts)
        event(f"oracle verdict: {verdict}")
        event(f"body flavour: {flavour}:{verdict}")

    check()
    return counts


def _record(request: pytest.FixtureRequest, counts: Counter[str]) -> None:
    # Quietly kept with the test's report (e.g. in --junitxml), not printed.
    for key in ("valid", "invalid"):
        request.node.user_properties.append((f"bodies_{key}", counts[key]))


def test_schema_agrees_with_the_seed_oracle(request: pytest.FixtureRequest) -> None:
    counts = run_comparison(FAST_PROFILE)
    _record(request, counts)
    assert counts["valid"] + counts["invalid"] >= FAST_EXAMPLES
    # Both branches must be exercised heavily, not once by luck.
    assert counts["valid"] >= FAST_EXAMPLES // 10, counts
    assert counts["invalid"] >= FAST_EXAMPLES // 10, counts
    assert counts["edge:valid"] + counts["near:valid"] + counts["wild:valid"] >= 1, counts


@pytest.mark.parametrize("field", sorted(EDGE_VALUES))
def test_edge_value_table(field: str) -> None:
    """Every edge value of ``field``, in every style context: schema and oracle agree."""
    counts: Counter[str] = Counter()
    for context in STYLE_CONTEXTS:
        for value in EDGE_VALUES[field]:
            body = _body(**context)
            if field.startswith("promptObject."):
                body["promptObject"][field.split(".", 1)[1]] = copy.deepcopy(value)
            else:
                body[field] = copy.deepcopy(value)
            compare_with_oracle("table", body, counts)
    assert counts["valid"] and counts["invalid"], counts


def _long_tests_enabled(config: pytest.Config) -> bool:
    return os.environ.get("ONEMIN_LONG_TESTS") == "1" or bool(config.getoption("--run-long", default=False))


@pytest.mark.long
def test_schema_agrees_with_the_seed_oracle_long(request: pytest.FixtureRequest) -> None:
    if not _long_tests_enabled(request.config):
        pytest.skip("long property profile: set ONEMIN_LONG_TESTS=1 (or pass --run-long) to run it")
    counts = run_comparison(LONG_PROFILE)
    _record(request, counts)
    assert counts["valid"] + counts["invalid"] >= LONG_EXAMPLES, counts
    assert counts["valid"] >= LONG_EXAMPLES // 10, counts
    assert counts["invalid"] >= LONG_EXAMPLES // 10, counts


@settings(settings.get_profile(FAST_PROFILE))
@given(valid_bodies())
def test_generated_valid_bodies_pass_both(body: dict[str, Any]) -> None:
    assert oracle_problems(body) == []
    assert request_violations(body) == []


# ============================================================================================
# The oracle itself, on hand-picked bodies (so a broken oracle cannot agree with a broken schema)
# ============================================================================================


def _body(**fields: Any) -> dict[str, Any]:
    prompt_object = {
        "prompt": "A busy coffee shop",
        "imageUrl": "development/images/portrait.png",
        "num_images": 1,
    }
    prompt_object.update(fields)
    return {"type": "BACKGROUND_REPLACER", "model": "ideogram-3", "promptObject": prompt_object}


def test_oracle_has_the_62_presets_of_the_seed() -> None:
    assert len(SEED_STYLE_PRESETS) == 62


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"num_images": 8, "seed": 2147483647},
        {"num_images": 2.0, "seed": 0.0},
        {"rendering_speed": "DEFAULT", "magic_prompt": "AUTO", "style_type": "AUTO"},
        {"style_type": "FICTION"},
        {"style_type": "GENERAL", "style_preset": "WEIRD"},
        {"style_reference_images": ["a.png"] * 5, "style_type": "AUTO"},
        {"negative_prompt": ""},
    ],
)
def test_oracle_accepts(fields: dict[str, Any]) -> None:
    assert oracle_is_valid(_body(**fields))


@pytest.mark.parametrize(
    ("fields", "blamed"),
    [
        ({"num_images": 0}, "promptObject.num_images"),
        ({"num_images": 9}, "promptObject.num_images"),
        ({"num_images": True}, "promptObject.num_images"),
        ({"num_images": 1.5}, "promptObject.num_images"),
        ({"num_images": "3"}, "promptObject.num_images"),
        ({"seed": -1}, "promptObject.seed"),
        ({"seed": 2147483648}, "promptObject.seed"),
        ({"prompt": " \t"}, "promptObject.prompt"),
        ({"style_preset": "VAPORWAVE"}, "promptObject.style_preset"),
        ({"style_reference_images": ["a.png"] * 6}, "promptObject.style_reference_images"),
        ({"style_reference_images": []}, "promptObject.style_reference_images"),
        (
            {"style_preset": "WEIRD", "style_reference_images": ["a.png"]},
            "promptObject.style_reference_images",
        ),
        ({"style_preset": "WEIRD", "style_type": "DESIGN"}, "promptObject.style_type"),
        ({"style_reference_images": ["a.png"], "style_type": "REALISTIC"}, "promptObject.style_type"),
        ({"colour": "red"}, "promptObject"),
    ],
)
def test_oracle_rejects(fields: dict[str, Any], blamed: str) -> None:
    problems = oracle_problems(_body(**fields))
    assert problems
    assert any(blamed in problem.paths for problem in problems)
