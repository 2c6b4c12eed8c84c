"""README command 1 (`make demo`) works: real PNGs, foreground kept, background changed, one charge."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support.airflow_helpers import REPO

# Not in the CI matrix: `make demo` runs on the Airflow its own venv resolves, the newest. The
# example DAG it runs is run on every older minor by test_dags_import.py, in-process.


@pytest.mark.e2e
def test_demo_script_produces_checked_results(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_HOME"}
    # A real-looking key exported in the shell must not matter: the demo never uses it.
    env["ONEMIN_API_KEY"] = "sk-live-should-never-be-used"
    env["AIRFLOW_CONN_ONEMIN_DEFAULT"] = (
        '{"conn_type": "onemin", "host": "https://api.1min.ai", "password": "x"}'
    )
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "demo.py"),
            "--out",
            str(tmp_path / "out"),
            "--airflow-home",
            str(tmp_path / "home"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"emulator listening on http://127\.0\.0\.1:\d+", run.stdout)
    assert "1 generation(s) charged on the emulator" in run.stdout
    checks = re.findall(
        r"foreground (\d+)/(\d+) pixels identical.*background (\d+)% of pixels regenerated", run.stdout
    )
    assert len(checks) == 2, run.stdout
    for same, total, changed in checks:
        assert same == total and int(total) > 0
        assert int(changed) >= 50
    pngs = list((tmp_path / "out").rglob("*.png"))
    assert len(pngs) == 2
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
    assert not list((tmp_path / "out").rglob("*.part")), "no temporary file may be left behind"
