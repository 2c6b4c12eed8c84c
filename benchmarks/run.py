"""
Run every benchmark of the provider and print one table.

    python benchmarks/run.py            # everything, including the scheduler throughput run
    python benchmarks/run.py --quick    # a smoke pass of everything but the throughput and reuse runs, < ~60 s
    python benchmarks/run.py --only import,hook --json results.json

Every figure is a ratio against a baseline measured in the same run, on the same machine, from
medians of several repetitions (each in a fresh subprocess where import cost counts), because
absolute times on a shared machine mean little. Needs the ``bench`` and ``emulator`` extras:
``pip install -e '.[test,bench]'``. Benchmarks are not tests: nothing here fails on a slow figure;
the exit status is 0 unless a benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Result, log, scratch_airflow_home  # noqa: E402

BENCHMARKS = ("import", "parse", "hook", "memory", "throughput", "reuse", "renditions")


def machine() -> dict[str, str]:
    """The machine the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
        cores = f"{psutil.cpu_count(logical=False)} physical / {psutil.cpu_count()} logical"
    except ImportError:
        ram = "unknown (install psutil)"
        cores = str(os.cpu_count())
    return {
        "cpu": cpu,
        "cores": cores,
        "ram": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "airflow": version("apache-airflow"),
        "provider": version("airflow-provider-onemin"),
        "http provider": version("apache-airflow-providers-http"),
    }


def table(results: list[Result]) -> str:
    """A Markdown table (readable as plain text too)."""
    rows = [
        "| benchmark | ours | baseline | ratio | goal | met |",
        "|---|---:|---:|---:|---:|:---:|",
    ]
    for r in results:
        rows.append(
            f"| {r.name} | {r.value:,.1f} {r.unit} | {r.baseline:,.1f} {r.unit} | {r.ratio:.2f}x | "
            f"<= {r.goal:g}x | {'yes' if r.met else 'NO'} |"
        )
    details = [f"- {r.name}: {r.detail}" for r in results if r.detail]
    return "\n".join(rows + ([""] + details if details else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions, no scheduler throughput or pipeline reuse run",
    )
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--json", type=Path, help="also write the results and the machine to this file")
    parser.add_argument(
        "--airflow-config",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="an Airflow setting for the throughput run's instance (repeatable)",
    )
    parser.add_argument(
        "--render-seconds",
        type=float,
        default=3.0,
        help="emulated render time in the throughput run (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    chosen = [b.strip() for b in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if args.quick and not args.only:
        chosen.remove("throughput")
        chosen.remove("reuse")
        chosen.remove("renditions")

    airflow_config = dict(item.split("=", 1) for item in args.airflow_config)
    info = machine()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    results: list[Result] = []
    failures: list[str] = []
    started = time.monotonic()
    with scratch_airflow_home() as env:
        for name in chosen:
            log(f"--- {name} ---")
            began = time.monotonic()
            try:
                results.extend(
                    _run(
                        name, env, quick=args.quick, airflow_config=airflow_config, render=args.render_seconds
                    )
                )
            except Exception:
                failures.append(name)
                log(f"{name} could not run:\n{traceback.format_exc()}")
            log(f"{name}: {time.monotonic() - began:.1f} s")
    print(table(results))
    print(
        f"\n{len(results)} figure(s) in {time.monotonic() - started:.0f} s"
        f"{'; could not run: ' + ', '.join(failures) if failures else ''}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "quick": args.quick, "results": [r.as_dict() for r in results]}, indent=2
            )
        )
    return 1 if failures else 0


def _run(
    name: str, env: dict[str, str], *, quick: bool, airflow_config: dict[str, str], render: float
) -> list[Result]:
    if name == "import":
        import bench_import

        return bench_import.measure(env, repetitions=3 if quick else 9)
    if name == "parse":
        import bench_parse

        return bench_parse.measure(env, repetitions=3 if quick else 5)
    if name == "hook":
        import bench_hook

        return bench_hook.measure(env, repetitions=3 if quick else 7, calls=60 if quick else 200)
    if name == "memory":
        import bench_memory

        return bench_memory.measure(env, repetitions=1 if quick else 3)
    if name == "throughput":
        import bench_throughput

        return bench_throughput.measure(
            env, repetitions=1 if quick else 2, airflow_config=airflow_config, render_seconds=render
        )
    if name == "reuse":
        import bench_reuse

        return bench_reuse.measure(env, repetitions=1 if quick else 3, render_seconds=render)
    if name == "renditions":
        import bench_renditions

        return bench_renditions.measure(env, repetitions=1 if quick else 2, sources=100)
    raise ValueError(name)


if __name__ == "__main__":
    sys.exit(main())
