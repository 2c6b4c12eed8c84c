"""
Per-call overhead of the hook against a bare ``requests.Session`` sending the same HTTP sequence
(the async POST, then the one GET poll) to the same emulator, in its own process, with zero
render latency, so what differs is the client: connection parsing, retry wrapper, error
classification, answer validation, logging.

Each repetition is a fresh interpreter; inside it both clients warm up, then run ``calls``
sequences each in alternating blocks. The figures are the median over repetitions of the mean
wall time per sequence, and of the client process's CPU time per sequence (which a loaded
machine disturbs far less than the wall clock).
"""

from __future__ import annotations

import json

from common import EmulatorProcess, Result, log, median, run_python, upload_sample_photo

_CODE = r"""
import json, sys, time
import requests
from airflow_provider_onemin.hooks.onemin import OneMinHook

base_url, api_key, image_key, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
body = {"type": "BACKGROUND_REPLACER", "model": "ideogram-3", "async": True,
        "promptObject": {"prompt": "a beach at dawn", "imageUrl": image_key, "num_images": 1}}

session = requests.Session()
headers = {"API-KEY": api_key}

def bare():
    answer = session.post(f"{base_url}/api/features", json=body, headers=headers, timeout=(10, 300))
    answer.raise_for_status()
    uuid = answer.json()["aiRecord"]["uuid"]
    answer = session.get(f"{base_url}/api/results/{uuid}", headers=headers, timeout=(10, 300))
    answer.raise_for_status()
    assert answer.json()["aiRecord"]["status"] == "SUCCESS"

hook = OneMinHook()

def ours():
    record = hook.run_feature(body)
    if not hook.check_status(record):
        record = hook.wait_for_result(record["uuid"])
    assert record["status"] == "SUCCESS"

def block(call):
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls, (time.process_time() - cpu) / calls

for _ in range(5):
    bare(); ours()
timings = {"ours": [], "bare": [], "ours_cpu": [], "bare_cpu": []}
for index in range(4):
    order = [("ours", ours), ("bare", bare)] if index % 2 == 0 else [("bare", bare), ("ours", ours)]
    for name, call in order:
        wall, cpu = block(call)
        timings[name].append(wall)
        timings[name + "_cpu"].append(cpu)
print(json.dumps({name: sum(v) / len(v) for name, v in timings.items()}))
"""


def measure(env: dict[str, str], repetitions: int, calls: int) -> list[Result]:
    ours: list[float] = []
    bare: list[float] = []
    ours_cpu: list[float] = []
    bare_cpu: list[float] = []
    with EmulatorProcess(env, latency=0.0) as emulator:
        image_key = upload_sample_photo(emulator.url, emulator.connection()["password"])
        child_env = {
            **env,
            # The defaults a user gets; a poll interval that never triggers with zero latency.
            "AIRFLOW_CONN_ONEMIN_DEFAULT": json.dumps(emulator.connection()),
        }
        for _ in range(repetitions):
            answer = run_python(
                _CODE,
                child_env,
                args=[emulator.url, emulator.connection()["password"], image_key, str(calls // 4 or 1)],
            )
            ours.append(answer["ours"])
            bare.append(answer["bare"])
            ours_cpu.append(answer["ours_cpu"])
            bare_cpu.append(answer["bare_cpu"])
        charges = emulator.charges()
    log(
        f"hook: ours {[round(s * 1000, 2) for s in ours]} ms/call, "
        f"requests {[round(s * 1000, 2) for s in bare]} ms/call ({charges} generations)"
    )
    return [
        Result(
            name="hook per call, POST+GET (vs bare requests)",
            value=median(ours) * 1000,
            baseline=median(bare) * 1000,
            unit="ms",
            goal=1.10,
            detail=f"{repetitions} x {calls} sequences per client, zero latency",
            samples={"ours_s": ours, "baseline_s": bare},
        ),
        # The client process's own CPU time: what the client costs, whatever the machine's load
        # does to the wall clock (the emulator's time is not in it).
        Result(
            name="hook CPU per call, POST+GET (vs bare requests)",
            value=median(ours_cpu) * 1000,
            baseline=median(bare_cpu) * 1000,
            unit="ms",
            goal=1.10,
            detail="the client process's CPU time (time.process_time), same calls",
            samples={"ours_cpu_s": ours_cpu, "baseline_cpu_s": bare_cpu},
        ),
    ]
