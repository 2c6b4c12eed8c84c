"""
DAG parse time of the example DAGs (``dags/*.py``) against the same DAGs built from EmptyOperator.

Each parse runs in a fresh interpreter the way the DAG processor's parsing child does: a
``BundleDagBag`` on the one file, then every DAG serialised. Airflow's own modules are imported
(and a DagBag on an empty file is parsed) before the clock starts; the provider is not, as in
production where only ``airflow.*`` imports are pre-imported.

The baseline is the same file with ``BackgroundReplacerOperator`` replaced by an EmptyOperator
subclass taking the same arguments (an import hook serves it in place of the operator module), so
the DAG shape, the ``@task`` functions and every other import stay the same.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from common import REPO, Result, log, median, run_python

OPERATOR_MODULE = "airflow_provider_onemin.operators.background_replacer"
OPERATORS = REPO / "airflow_provider_onemin" / "operators"
#: The operator's class and the base class whose keyword arguments it passes on (``reuse``...).
OPERATOR_CLASSES = (
    (OPERATORS / "background_replacer.py", "BackgroundReplacerOperator"),
    (OPERATORS / "base_generation.py", "OneMinGenerationOperator"),
)

_CODE = r"""
import importlib.abc, importlib.util, json, os, sys, tempfile, time
variant, path, stub_source = sys.argv[1], sys.argv[2], sys.argv[3]
import airflow.sdk
from airflow.dag_processing.dagbag import BundleDagBag
from airflow.serialization.serialized_objects import DagSerialization

def parse(file):
    bag = BundleDagBag(dag_folder=file, bundle_path=os.path.dirname(file), load_op_links=False)
    data = [DagSerialization.to_dict(dag) for dag in bag.dags.values()]
    return bag, data

with tempfile.TemporaryDirectory() as scratch:
    empty = os.path.join(scratch, "empty_dag.py")
    with open(empty, "w") as handle:
        handle.write("from airflow.sdk import DAG\nDAG(dag_id='warm_up', schedule=None)\n")
    parse(empty)

if variant == "empty":
    class StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, target_path=None, target=None):
            if name == "OPERATOR_MODULE":
                return importlib.util.spec_from_loader(name, self)
            return None
        def create_module(self, spec):
            return None
        def exec_module(self, module):
            exec(compile(stub_source, "<EmptyOperator stand-in>", "exec"), module.__dict__)
    sys.meta_path.insert(0, StubFinder())

started = time.perf_counter()
bag, data = parse(path)
elapsed = time.perf_counter() - started
operators = sorted({type(task).__name__ + "/" + type(task).__module__.split(".")[0]
                    for dag in bag.dags.values() for task in dag.tasks})
print(json.dumps({"seconds": elapsed, "dags": len(bag.dags), "tasks": sum(len(d.tasks) for d in bag.dags.values()),
                  "errors": {k: v[-300:] for k, v in bag.import_errors.items()}, "operators": operators}))
""".replace("OPERATOR_MODULE", OPERATOR_MODULE)


def _init_arguments(path: Path, class_name: str) -> list[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return [a.arg for a in item.args.args[1:] + item.args.kwonlyargs]
    raise RuntimeError(f"{class_name}.__init__ not found in {path}")


def stand_in_source() -> str:
    """
    An EmptyOperator subclass taking the operator's keyword arguments, its base class's included
    (read with ``ast``, no import): a DAG may pass any of them, to ``partial()`` too.
    """
    names = list(dict.fromkeys(name for path, cls in OPERATOR_CLASSES for name in _init_arguments(path, cls)))
    parameters = ", ".join(f"{name}=None" for name in names)
    return (
        "from airflow.providers.standard.operators.empty import EmptyOperator\n\n"
        "class BackgroundReplacerOperator(EmptyOperator):\n"
        f"    def __init__(self, *, {parameters}, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
    )


def measure(env: dict[str, str], repetitions: int, dag_files: list[Path] | None = None) -> list[Result]:
    files = dag_files or sorted((REPO / "dags").glob("*.py"))
    stub = stand_in_source()
    env = {**env, "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags")}
    ours_total = 0.0
    empty_total = 0.0
    samples: dict[str, list[float]] = {}
    notes = []
    for file in files:
        timings: dict[str, list[float]] = {"ours": [], "empty": []}
        info: dict[str, dict] = {}
        for index in range(repetitions):
            order = ["ours", "empty"] if index % 2 == 0 else ["empty", "ours"]
            for variant in order:
                answer = run_python(_CODE, env, args=[variant, str(file), stub])
                if answer["errors"]:
                    raise RuntimeError(
                        f"{file.name} ({variant}) failed to parse: {json.dumps(answer['errors'])}"
                    )
                timings[variant].append(answer["seconds"])
                info[variant] = answer
        if info["ours"]["tasks"] != info["empty"]["tasks"]:
            raise RuntimeError(f"{file.name}: the stand-in DAG has a different shape: {info}")
        ours, empty = median(timings["ours"]), median(timings["empty"])
        ours_total += ours
        empty_total += empty
        samples[f"{file.name}:ours_s"] = timings["ours"]
        samples[f"{file.name}:empty_s"] = timings["empty"]
        notes.append(f"{file.name} {ours * 1000:.0f}/{empty * 1000:.0f} ms")
        log(
            f"parse {file.name}: ours {[round(s * 1000) for s in timings['ours']]} ms, "
            f"EmptyOperator {[round(s * 1000) for s in timings['empty']]} ms ({info['ours']['tasks']} tasks)"
        )
    return [
        Result(
            name=f"parse dags/*.py ({len(files)} files, vs EmptyOperator)",
            value=ours_total * 1000,
            baseline=empty_total * 1000,
            unit="ms",
            goal=1.2,
            detail="; ".join(notes),
            samples=samples,
        )
    ]
