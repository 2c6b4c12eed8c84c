"""
Test set-up: a real Airflow with its own AIRFLOW_HOME and sqlite database for this test session.

The environment is set before anything imports Airflow, so the tests never touch a user's
Airflow home, never load Airflow's example DAGs, and parse this project's own ``dags/``.
No test reaches the real 1min.ai: connections point at the local emulator or a loopback
``pytest-httpserver``.

Under pytest-xdist (``make test``) each worker is a process of its own and gets everything
here for itself: its Airflow home and sqlite database, its output folder, its emulator and S3
server (session fixtures), its temporary folders (pytest's, per worker) and its block of ports
(tests/support/processes.py). The tests that start a real deployment share one (tests/support/shared_deployment.py)
and run on one worker, one after the other.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# gcsfs (from 2026.3) first asks a bucket's layout over gRPC with TLS; against gcp-storage-emulator
# each call then hangs about a minute. Off before gcsfs is imported; real GCS does not need it.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from tests.support.s3_server import s3_bucket, s3_server  # noqa: E402, F401 - fixtures: moto's S3 on loopback
from tests.support.store_servers import azure_server, gcs_server  # noqa: E402, F401 - fixtures: GCS and Azure servers

#: This process's Airflow home: the xdist worker's name (gw0, gw1...) in it says whose it is.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix=f"onemin-airflow-home-{_WORKER}-"))
#: Set by pytest-xdist's controller for its workers: where the run's migrated database is made once.
_DB_TEMPLATE = "ONEMIN_TEST_DB_TEMPLATE"

os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# An empty DAGs folder of this process's own: from Airflow 3.3, each ``dag.test()`` parses every
# file of the DAGs folder's bundle and writes each of its DAGs to the database again, whichever
# DAG it runs (an eighth of the CPU of a module of short DAG runs, for DAGs nobody ran). Tests
# register the DAGs they run (tests/support/airflow_helpers.py); a test that runs a shipped DAG by
# its id through the CLI points the CLI at dags/ (SHIPPED_DAGS there).
(_AIRFLOW_HOME / "dags").mkdir()
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_AIRFLOW_HOME / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
os.environ["AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP"] = r"(airflow|airflow_provider_onemin)\..*"
os.environ.pop("AIRFLOW_CONN_ONEMIN_DEFAULT", None)
# The example DAGs store under ONEMIN_OUTPUT_PATH, by default a folder every process on the
# machine shares (and reuses results from). A test that does not set its own gets this process's.
os.environ["ONEMIN_OUTPUT_PATH"] = str(_AIRFLOW_HOME / "onemin-out")

import pytest  # noqa: E402

from tests.support.shared_deployment import (  # noqa: E402
    MARKER as _DEPLOYMENT_MARKER,
)
from tests.support.shared_deployment import (  # noqa: E402
    shared_deployment,  # noqa: F401 - a fixture
    stop_shared_deployment,
    stop_shared_deployment_after,
)


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    return any(defs and defs[-1].scope in ("module", "class", "package") for defs in definitions)


def _join_group(item: pytest.Item, group: str) -> None:
    """
    Put ``item`` in an xdist group. pytest-xdist's loadgroup reads the group from a ``@group``
    suffix of the test's id, which its own hook writes where pytest < 9.2 kept the id; from 9.2
    on that no longer takes (pytest-dev/pytest-xdist#1386, fixed the same way by #1388), so the
    suffix is written here.
    """
    item.add_marker(pytest.mark.xdist_group(group))
    if not os.environ.get("PYTEST_XDIST_WORKER") or not hasattr(item, "_id"):
        return  # no xdist worker, or a pytest whose ids xdist's own hook suffixes
    from _pytest.nodeid import NodeId

    item._id = NodeId.parse(f"{item.nodeid}@{group}")


# First: pytest-xdist reads the groups in its own hook.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """
    Groups for pytest-xdist's ``--dist loadgroup`` (``make test``): each group runs on one worker.

    * The deployment tests form one group and share one deployment. Split in two (the viewer's
      and the others, side by side on two workers) they needed a second deployment, whose start
      and idle loops cost more CPU than running side by side saved on two cores. Being the
      longest chain, they go first; the browser tests last (where a browser is installed:
      CI runs them in a leg of their own).
    * The tests of a module that share a module-scoped fixture (a DAG run they all read) form one
      group per module, so that the fixture is set up once, not once per worker.
    """
    deployment = [item for item in items if item.get_closest_marker(_DEPLOYMENT_MARKER)]
    # The browser tests last in their group: they publish into the folder the review's tests read.
    deployment.sort(key=lambda item: item.get_closest_marker("browser") is not None)
    for item in deployment:
        _join_group(item, _DEPLOYMENT_MARKER)
    others = [item for item in items if not item.get_closest_marker(_DEPLOYMENT_MARKER)]
    for item in others:
        if _shares_a_module_fixture(item):
            module = item.nodeid.split("::")[0].removeprefix("tests/").removesuffix(".py")
            _join_group(item, module.replace("/", "."))
    items[:] = deployment + others


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    stop_shared_deployment_after(item, nextitem)


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist's controller (which runs no test): a folder for the run's template database.
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        os.environ[_DB_TEMPLATE] = tempfile.mkdtemp(prefix="onemin-airflow-db-template-")
    _one_in_process_execution_api()


def _one_in_process_execution_api() -> None:
    """
    ``dag.test()`` on Airflow 3.0-3.2 builds a new in-process execution API for every task it runs
    (Cadwyn generating its versioned routers: seconds of CPU per task, most of what the CI matrix
    spent); Airflow 3.3 builds it once per process (``functools.lru_cache`` on
    ``in_process_api_server``). The tests get 3.3's behaviour on every minor: the same API serves
    the tasks, only built once. Nothing of the provider runs differently; real deployments never
    use this in-process API.
    """
    import functools

    from airflow.sdk.execution_time import supervisor

    build = supervisor.in_process_api_server
    if not hasattr(build, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(build)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and os.environ.get(_DB_TEMPLATE):
        shutil.rmtree(os.environ.pop(_DB_TEMPLATE), ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_shared_deployment()
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _AIRFLOW_HOME


def _migrate(home: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env={**os.environ, "AIRFLOW_HOME": str(home)},
    )


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """
    A migrated sqlite metadata database in this process's Airflow home (once per session).

    Under pytest-xdist, ``airflow db migrate`` (about 10 CPU-seconds) runs once per test run, not
    once per worker: the first worker to need a database migrates one into the run's template
    folder (the other workers wait on its lock), then each worker copies it into its own home.
    """
    template = os.environ.get(_DB_TEMPLATE)
    if not template:
        _migrate(airflow_home)
        return airflow_home
    folder = Path(template)
    with (folder / "migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "airflow.db").exists():
            _migrate(folder)
    shutil.copyfile(folder / "airflow.db", airflow_home / "airflow.db")
    return airflow_home


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out
