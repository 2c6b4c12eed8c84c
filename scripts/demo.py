"""
README command 1 (``make demo``): run the example DAG end to end against the local emulator.

No API key and no network: the emulator is started on a free loopback port, the connection
``onemin_default`` is pointed at it through ``AIRFLOW_CONN_ONEMIN_DEFAULT`` (with a throwaway key),
the example DAG runs with ``airflow dags test``, and the results land under ``./out/``. The
script then checks each image against its source photo (same size, foreground pixels equal,
background changed), prints the paths, and stops the emulator.

Whatever is exported in the shell (``ONEMIN_API_KEY``, another ``AIRFLOW_CONN_ONEMIN_DEFAULT``, a
secrets backend), this never reaches the real 1min.ai: the environment of the DAG run is built
here, and the run is refused unless the connection points at loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "onemin_background_replacer_example"
SOURCE = REPO / "dags" / "sample_photos" / "mug.png"


def demo_environment(emulator_url: str, api_key: str, airflow_home: Path, out_dir: Path) -> dict[str, str]:
    """The DAG run's environment: the user's, minus anything that could reach the real API."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__SECRETS__", "AIRFLOW__CORE__", "ONEMIN_"))
        and k not in {"AIRFLOW_HOME", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}
    }
    connection = {
        "conn_type": "onemin",
        "host": emulator_url,
        "password": api_key,
        "extra": {"poll_interval": 0.2},
    }
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_ONEMIN_DEFAULT": json.dumps(connection),
            "ONEMIN_OUTPUT_PATH": f"file://{out_dir}",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    host = urlsplit(emulator_url).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"refusing to run the demo against {emulator_url}: not loopback")
    return env


def check_result(result: Path, source: Path) -> str:
    """Compare a result with its source: size, foreground kept, background changed."""
    from PIL import Image, ImageChops

    src = Image.open(source).convert("RGBA")
    out = Image.open(result).convert("RGBA")
    if out.size != src.size:
        return f"size {out.size} differs from the source's {src.size}"
    mask = src.getchannel("A")
    opaque = mask.point(lambda a: 255 if a == 255 else 0)
    diff = (
        ImageChops.difference(out.convert("RGB"), src.convert("RGB"))
        .convert("L")
        .point(lambda d: 255 if d else 0)
    )
    foreground_changed = ImageChops.multiply(diff, opaque).histogram()[255]
    background = ImageChops.invert(mask.point(lambda a: 255 if a > 0 else 0))
    background_changed = ImageChops.multiply(diff, background).histogram()[255]
    opaque_pixels = opaque.histogram()[255]
    background_pixels = background.histogram()[255]
    return (
        f"{out.size[0]}x{out.size[1]} PNG; foreground {opaque_pixels - foreground_changed}/{opaque_pixels} "
        f"pixels identical to the source; background {100 * background_changed / max(background_pixels, 1):.0f}% "
        "of pixels regenerated"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument(
        "--out", type=Path, default=REPO / "out", help="where results are stored (default ./out)"
    )
    parser.add_argument("--airflow-home", type=Path, default=REPO / ".demo-airflow")
    args = parser.parse_args()
    out_dir = args.out.resolve()
    airflow_home = args.airflow_home.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    airflow_home.mkdir(parents=True, exist_ok=True)

    from airflow_provider_onemin.emulator.server import EmulatorServer

    started = time.monotonic()
    api_key = f"demo-{secrets.token_hex(8)}"
    log_path = out_dir / "demo-airflow.log"
    with EmulatorServer(api_key=api_key, latency=1.0) as emulator:
        print(f"1min.ai emulator listening on {emulator.url} (no real API is contacted)")
        env = demo_environment(emulator.url, api_key, airflow_home, out_dir)
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
        )
        if metadata.version("apache-airflow-core").startswith("3.0."):
            # Airflow 3.0's `dags test` does not parse the DAG into the database first: its output
            # asset would be unknown there (inactive) and the task refused. Later minors do it.
            subprocess.run(
                [sys.executable, "-m", "airflow", "dags", "reserialize"],
                env=env,
                check=True,
                capture_output=True,
            )
        print(f"Running `airflow dags test {DAG_ID}` (full log: {log_path}) ...")
        with open(log_path, "w") as log:
            run = subprocess.run(
                [sys.executable, "-m", "airflow", "dags", "test", DAG_ID],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        charges = emulator.charges(api_key)
    if run.returncode != 0:
        print(f"The DAG run failed (exit {run.returncode}); see {log_path}", file=sys.stderr)
        print(log_path.read_text()[-4000:], file=sys.stderr)
        return run.returncode
    results = sorted(p for p in out_dir.rglob("*.png") if DAG_ID in p.parts)
    newest_run = max((p.parent for p in results), key=lambda d: d.stat().st_mtime, default=None)
    results = [p for p in results if p.parent == newest_run]
    if not results:
        print(f"The DAG succeeded but no result was stored under {out_dir}", file=sys.stderr)
        return 1
    print(f"\nDone in {time.monotonic() - started:.1f} s; {charges} generation(s) charged on the emulator.")
    print(f"Source photo: {SOURCE.relative_to(REPO)}")
    for path in results:
        print(f"  {path}\n      {check_result(path, SOURCE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
