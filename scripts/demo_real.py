"""
``make demo-real``: the example DAG against the REAL 1min.ai API. This spends credits.

It needs ``ONEMIN_API_KEY``, states what it will spend, and asks for confirmation on a terminal;
it refuses to run in CI or without a terminal. The key is passed to Airflow only through the
connection's password (``AIRFLOW_CONN_ONEMIN_DEFAULT``), which Airflow masks in logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "onemin_background_replacer_example"


def main() -> int:
    key = os.environ.get("ONEMIN_API_KEY")
    if not key:
        print("Set ONEMIN_API_KEY to your 1min.ai API key first.", file=sys.stderr)
        return 2
    if os.environ.get("CI") or not sys.stdin.isatty():
        print(
            "demo-real spends money: it runs only on an interactive terminal, never in CI.", file=sys.stderr
        )
        return 2
    print(
        "This runs the example DAG against https://api.1min.ai and spends credits:\n"
        "  1 asset upload (free) and 1 Background Replacer generation (ideogram-3) of 2 images,\n"
        "  billed at your plan's price for 2 ideogram-3 images (TURBO rendering).\n"
        "Results are stored under ./out-real/."
    )
    if input("Type 'yes' to continue: ").strip().lower() != "yes":
        print("Nothing was sent.")
        return 1
    out_dir = REPO / "out-real"
    out_dir.mkdir(exist_ok=True)
    airflow_home = REPO / ".demo-airflow"
    airflow_home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_") and k != "ONEMIN_API_KEY"}
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_ONEMIN_DEFAULT": json.dumps({"conn_type": "onemin", "password": key}),
            "ONEMIN_OUTPUT_PATH": f"file://{out_dir}",
        }
    )
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    run = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", DAG_ID], env=env)
    for path in sorted(out_dir.rglob("*.png")):
        print(path)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
