"""
The parse benchmark (benchmarks/bench_parse.py) builds a stand-in for the operator from its source
with ``ast``. When it missed the keyword arguments the operator takes from its base class, the
shipped pipeline (``.partial(reuse=...)``) no longer parsed with it and the benchmark stopped with
an error: nothing else runs it.
"""

from __future__ import annotations

import inspect
import sys

from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from tests.support.airflow_helpers import REPO


def _bench_parse():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_parse
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return bench_parse


def test_the_parse_benchmarks_stand_in_takes_every_argument_the_operator_takes():
    namespace: dict[str, object] = {}
    exec(compile(_bench_parse().stand_in_source(), "stand_in", "exec"), namespace)
    stand_in = inspect.signature(namespace["BackgroundReplacerOperator"].__init__).parameters
    taken = {
        name
        for cls in BackgroundReplacerOperator.__mro__
        if cls.__module__.startswith("airflow_provider_onemin")
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if parameter.kind is parameter.KEYWORD_ONLY
    }
    assert taken and taken <= set(stand_in), sorted(taken - set(stand_in))
