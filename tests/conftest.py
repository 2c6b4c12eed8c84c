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

from tests.airflow_helpers import REPO
from tests.s3_server import s3_bucket, s3_server  # noqa: F401 - fixtures: moto's S3 on loopback

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="onemin-airflow-home-"))

os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
os.environ["AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP"] = r"(airflow|airflow_provider_onemin)\..*"
os.environ.pop("AIRFLOW_CONN_ONEMIN_DEFAULT", None)

import pytest  # noqa: E402


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import shutil

    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


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
