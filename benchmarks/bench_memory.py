"""
Memory while storing results: the operator's worker path (submit, poll, download, store under
``output_path``) for one generation of 8 results of 10 MiB each, served by the emulator with
padded results (see padded_emulator.py). The figure is the peak RSS growth of the worker process
during that call against the bytes it stored: streaming keeps it near a chunk or two, buffering
whole files would show the file size or more.

Each repetition is a fresh process that first runs a small generation the same way (so imports,
the HTTP session and the storage backend are loaded), then measures the large one: RSS sampled
every millisecond by a thread, and ``ru_maxrss``.
"""

from __future__ import annotations

import json
import tempfile

from common import EmulatorProcess, Result, log, median, run_python

RESULTS = 8
RESULT_BYTES = 10 * 2**20

_CODE = r"""
import gc, json, os, resource, sys, threading, time
import psutil
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

out_dir, count = sys.argv[1], int(sys.argv[2])

class TaskInstance:
    dag_id, run_id, task_id, map_index = "bench_memory", "manual__bench", "store", -1
    def xcom_push(self, key, value):
        pass

class InMemoryStateStore:
    # Stands in for the task state store: the operator refuses to pay without a record store.
    def __init__(self):
        self.values = {}
    def get(self, key):
        return self.values.get(key)
    def set(self, key, value, retention=None):
        self.values[key] = value
    def delete(self, key):
        self.values.pop(key, None)

def run(prompt, num_images, folder):
    operator = BackgroundReplacerOperator(
        task_id="store", prompt=prompt, image_url="development/images/mug.png", num_images=num_images,
        output_path=os.path.join(out_dir, folder), deferrable=False, poll_interval=0.05,
    )
    return operator.execute({"ti": TaskInstance(), "task_state_store": InMemoryStateStore()})

run("a beach at dawn", 1, "warm-up")
gc.collect()
process = psutil.Process()
before = process.memory_info().rss
maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
peak = before
done = threading.Event()

def sample():
    global peak
    while not done.is_set():
        peak = max(peak, process.memory_info().rss)
        time.sleep(0.001)

sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
results = run("[large result] a beach at dawn", count, "large")
done.set()
sampler.join()
maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if maxrss_after > maxrss_before:
    peak = max(peak, maxrss_after)
stored = [os.path.join(root, name) for root, _, names in os.walk(os.path.join(out_dir, "large")) for name in names]
print(json.dumps({"growth": peak - before, "stored_bytes": sum(os.path.getsize(p) for p in stored),
                  "files": len(stored), "results": len(results), "rss_before": before}))
"""


def measure(env: dict[str, str], repetitions: int) -> list[Result]:
    growths: list[float] = []
    stored: list[float] = []
    with EmulatorProcess(env, pad_bytes=RESULT_BYTES) as emulator:
        child_env = {
            **env,
            "AIRFLOW_CONN_ONEMIN_DEFAULT": json.dumps(emulator.connection(poll_interval=0.05)),
        }
        for _ in range(repetitions):
            with tempfile.TemporaryDirectory(prefix="onemin-bench-store-") as out_dir:
                answer = run_python(_CODE, child_env, args=[out_dir, str(RESULTS)])
            if answer["files"] != RESULTS or answer["stored_bytes"] < RESULTS * RESULT_BYTES:
                raise RuntimeError(f"expected {RESULTS} files of >= {RESULT_BYTES} bytes, got {answer}")
            growths.append(answer["growth"])
            stored.append(answer["stored_bytes"])
    mib = 2**20
    log(
        f"memory: growth {[round(g / mib, 1) for g in growths]} MiB for {round(median(stored) / mib)} MiB stored"
    )
    return [
        Result(
            name=f"peak RSS growth storing {RESULTS} x 10 MiB (vs bytes stored)",
            value=median(growths) / mib,
            baseline=median(stored) / mib,
            unit="MiB",
            goal=0.25,
            detail=f"{repetitions} fresh process(es); worker path: submit, poll, download, store",
            samples={"growth_bytes": growths, "stored_bytes": stored},
        )
    ]
