"""
The emulator is a second opinion on the provider: it imports nothing of the provider outside
``airflow_provider_onemin.emulator``, so it cannot share the provider's rules (or its mistakes).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

PACKAGE = "airflow_provider_onemin"
EMULATOR = f"{PACKAGE}.emulator"


def _emulator_folder() -> Path:
    spec = find_spec(EMULATOR)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def _emulator_modules() -> list[tuple[str, Path]]:
    """``(module name, file)`` of every module of the emulator package."""
    folder = _emulator_folder()
    found = []
    for path in sorted(folder.rglob("*.py")):
        parts = [EMULATOR, *path.relative_to(folder).with_suffix("").parts]
        found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    assert len(found) > 10
    return found


def imported_names(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """
    Every module ``source`` imports, at any depth (functions and TYPE_CHECKING blocks too),
    relative imports resolved against ``module``; ``from a import b`` yields ``a`` and ``a.b``.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, name))
            found.extend((node.lineno, f"{name}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            # importlib.import_module("...") or __import__("...") with a literal name.
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
                found.append((node.lineno, str(first.value)))
    return found


def _outside_the_emulator(name: str) -> bool:
    return (name == PACKAGE or name.startswith(PACKAGE + ".")) and not (
        name == EMULATOR or name.startswith(EMULATOR + ".")
    )


def test_the_emulator_source_imports_nothing_of_the_provider() -> None:
    offending = [
        f"{path.name}:{line}: {name}"
        for module, path in _emulator_modules()
        for line, name in imported_names(
            path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py"
        )
        if _outside_the_emulator(name)
    ]
    assert offending == []


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    from airflow_provider_onemin.schemas.validation import request_violations\n",
        "if TYPE_CHECKING:\n    import airflow_provider_onemin.hooks.onemin\n",
        "from .. import validation\n",
        "from ..schemas import validation\n",
        "importlib.import_module('airflow_provider_onemin.schemas.validation')\n",
    ],
)
def test_the_scan_finds_each_way_of_importing_the_provider(source: str) -> None:
    names = [name for _, name in imported_names(source, f"{EMULATOR}.generation_routes")]
    assert any(_outside_the_emulator(name) for name in names), names


def test_the_scan_allows_the_emulators_own_modules() -> None:
    source = "from . import images\nfrom .rules import check_request\nimport airflow_provider_onemin.emulator.state\n"
    names = [name for _, name in imported_names(source, f"{EMULATOR}.generation_routes")]
    assert names and not any(_outside_the_emulator(name) for name in names), names


# Runs the emulator in a fresh interpreter, serves a valid request, a refused one and a poll, then
# lists the provider's modules that got loaded.
_SERVE_AND_LIST = """
import json, sys, urllib.request, urllib.error
from airflow_provider_onemin.emulator.server import EmulatorServer

def post(url, body):
    request = urllib.request.Request(url + "/api/features", data=json.dumps(body).encode(),
        headers={"API-KEY": "k", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)

server = EmulatorServer(api_key="k").start()
try:
    body = {"type": "BACKGROUND_REPLACER", "model": "ideogram-3",
            "promptObject": {"prompt": "a beach", "imageUrl": "development/images/a.png", "num_images": 1}}
    ok, record = post(server.url, body)
    body["promptObject"]["num_images"] = 9
    refused, error = post(server.url, body)
    poll = urllib.request.Request(server.url + "/api/results/" + record["aiRecord"]["uuid"],
        headers={"API-KEY": "k"})
    with urllib.request.urlopen(poll, timeout=30) as answer:
        polled = answer.status
finally:
    server.stop()
print(json.dumps({
    "statuses": [ok, refused, polled],
    "refusal": error.get("errorCode"),
    "provider_modules": sorted(m for m in sys.modules if m.split(".")[0] == "airflow_provider_onemin"),
    "airflow_loaded": "airflow" in sys.modules,
}))
"""


def test_a_running_emulator_loads_nothing_of_the_provider() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SERVE_AND_LIST], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["statuses"] == [200, 400, 200] and seen["refusal"] == "UNKNOWN_ERROR", seen
    outside = [name for name in seen["provider_modules"] if _outside_the_emulator(name) and name != PACKAGE]
    assert outside == []
    assert EMULATOR + ".rules" in seen["provider_modules"]
    # Nor Airflow: the provider's validator was what pulled it in.
    assert seen["airflow_loaded"] is False
