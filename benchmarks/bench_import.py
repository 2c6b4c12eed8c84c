"""
Import cost of the operator module once ``airflow.sdk`` is loaded (as in a DAG file), against
the http provider's ``HttpOperator``. Each repetition is a fresh interpreter per module, the two
alternating, so neither profits from the other's imports or from a warm ``sys.modules``.
"""

from __future__ import annotations

from common import Result, log, median, run_python

SUBJECT = "airflow_provider_onemin.operators.background_replacer"
BASELINE = "airflow.providers.http.operators.http"

_CODE = """
import json, sys, time
import airflow.sdk
module = sys.argv[1]
before = set(sys.modules)
started = time.perf_counter()
__import__(module)
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "modules": len(set(sys.modules) - before)}))
"""


def measure(env: dict[str, str], repetitions: int) -> list[Result]:
    ours: list[float] = []
    theirs: list[float] = []
    modules = {}
    for index in range(repetitions):
        order = [(SUBJECT, ours), (BASELINE, theirs)]
        if index % 2:
            order.reverse()
        for module, samples in order:
            answer = run_python(_CODE, env, args=[module])
            samples.append(answer["seconds"])
            modules[module] = answer["modules"]
    log(
        f"import: ours {[round(s * 1000, 1) for s in ours]} ms, http {[round(s * 1000, 1) for s in theirs]} ms"
    )
    return [
        Result(
            name="import operator (vs HttpOperator)",
            value=median(ours) * 1000,
            baseline=median(theirs) * 1000,
            unit="ms",
            goal=0.03,
            detail=f"{modules[SUBJECT]} vs {modules[BASELINE]} new modules",
            samples={"ours_s": ours, "baseline_s": theirs},
        )
    ]
