"""
Importing the operator (what every DAG file does) loads only what building the operator needs.

A guard on *what* is loaded, not on seconds: the import got slower when the reuse, ledger, results
and metrics modules (and through them the client) were imported by the operator's module although
only a running task uses them. ``benchmarks/bench_import.py`` measures the time against
``HttpOperator``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: What the operator's module may load of this provider: itself, its base class, the argument
#: mapping, the extra link and the feature names. Written out here, not derived from the code under test.
ALLOWED = {
    "airflow_provider_onemin",
    "airflow_provider_onemin.operators",
    "airflow_provider_onemin.operators.background_replacer",
    "airflow_provider_onemin.operators.base_generation",
    "airflow_provider_onemin.inputs",
    "airflow_provider_onemin.inputs.arguments",
    "airflow_provider_onemin.links",
    "airflow_provider_onemin.links.results",
    "airflow_provider_onemin.schemas",
    "airflow_provider_onemin.schemas.features",
}
#: The same for the Background Remover's module: its own module instead of the replacer's.
ALLOWED_REMOVER = (ALLOWED - {"airflow_provider_onemin.operators.background_replacer"}) | {
    "airflow_provider_onemin.operators.background_remover"
}
#: The renditions operator's module: itself only (presets, Pillow and storage load in the task).
ALLOWED_RENDITIONS = {
    "airflow_provider_onemin",
    "airflow_provider_onemin.operators",
    "airflow_provider_onemin.operators.renditions",
}
MODULES = {
    "airflow_provider_onemin.operators.background_replacer": ALLOWED,
    "airflow_provider_onemin.operators.background_remover": ALLOWED_REMOVER,
    "airflow_provider_onemin.operators.renditions": ALLOWED_RENDITIONS,
}
#: Libraries a running task needs and a DAG file does not (Airflow itself may load some of them).
TASK_ONLY_LIBRARIES = ("requests", "tenacity", "jsonschema_rs", "PIL", "numpy")

_PROBE = """
import json, sys
import airflow.sdk
before = set(sys.modules)
import {module}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.fixture(scope="module", params=sorted(MODULES))
def module(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def loaded(module: str) -> list[str]:
    # A fresh interpreter: this test session has long since imported everything.
    probe = _PROBE.replace("{module}", module)
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_operator_module_loads_only_what_building_an_operator_needs(
    module: str, loaded: list[str]
) -> None:
    ours = {name for name in loaded if name.startswith("airflow_provider_onemin")}
    allowed = MODULES[module]
    assert ours <= allowed, f"{module}'s import also loads {sorted(ours - allowed)}"


def test_the_operator_module_loads_no_task_only_library(loaded: list[str]) -> None:
    heavy = [name for name in loaded if name.split(".")[0] in TASK_ONLY_LIBRARIES]
    assert heavy == [], f"the operator's import loads {heavy}"
