"""
Test set-up: a real Airflow with its own AIRFLOW_HOME and sqlite database for this test session.

The environment is set before anything imports Airflow, so the tests never touch a user's
Airflow home, never load Airflow's example DAGs, and parse this project's own ``dags/``.
No test reaches the real 1min.ai: connections point at the local emulator or a loopback
``pytest-httpserver``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# This module runs twice when a test does `from tests.conftest import ...` (pytest imports it as
# "conftest", the test as "tests.conftest"). The second run must keep the first, migrated home:
# a fresh one would leave the in-process Airflow on a database that has no tables.
_SESSION_HOME = "_ONEMIN_TEST_AIRFLOW_HOME"
_pid, _, _home = os.environ.get(_SESSION_HOME, "").partition(":")
if _pid != str(os.getpid()) or not _home:
    _home = tempfile.mkdtemp(prefix="onemin-airflow-home-")
    os.environ[_SESSION_HOME] = f"{os.getpid()}:{_home}"
_AIRFLOW_HOME = Path(_home)

os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
os.environ["AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP"] = r"(airflow|airflow_provider_onemin)\..*"
os.environ.pop("AIRFLOW_CONN_ONEMIN_DEFAULT", None)
# A key exported in the developer's shell must never make a test spend money.
os.environ.pop("ONEMIN_API_KEY_FOR_TESTS", None)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """A migrated sqlite metadata database (about 3 s, once per session)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return airflow_home


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out
