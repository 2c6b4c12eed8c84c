"""
A real Airflow deployment for tests and benchmarks: api-server, scheduler, dag-processor and
triggerer as separate processes, in a temporary ``AIRFLOW_HOME``, on a free loopback port.

``airflow dags test`` runs everything in one process; what only shows when the worker, the
triggerer and the api-server are separate processes (secrets in the triggerer, a plugin served
by the api-server, the UI in a browser, deferral races) needs this::

    from tests.support.deployment import AirflowDeployment

    with AirflowDeployment(dags_folder=REPO / "dags", connections={"onemin_default": conn}) as airflow:
        token = airflow.login("admin")
        run_id = airflow.trigger("marketing_asset_pipeline", conf={"scenes": ["a beach"]})
        run = airflow.wait_for_run("marketing_asset_pipeline", run_id)
        print(airflow.task_log("marketing_asset_pipeline", run_id, "plan"))

Every component runs in its own process group with its output in ``<home>/<name>.log``; leaving
the ``with`` block (normally, by an exception, or when the interpreter exits) stops each group
and any descendant that escaped it, so no process outlives the test. On Linux the components
also die with the process that started them (``PR_SET_PDEATHSIG``), should it be killed.

The metadata database is SQLite unless ``sql_alchemy_conn`` says otherwise: Airflow 3.3 accepts
it with the LocalExecutor (task processes reach the database only through the api-server).
Waiting is always on a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from tests.support.airflow_api import TERMINAL_RUN_STATES, TERMINAL_TI_STATES, AirflowApi, DeploymentError
from tests.support.airflow_helpers import CLI_BATCH
from tests.support.processes import (
    descendants,
    die_with_parent,
    free_port,
    own_process_group,
    stop_process_tree,
)

__all__ = [
    "COMPONENTS",
    "TERMINAL_RUN_STATES",
    "TERMINAL_TI_STATES",
    "AirflowDeployment",
    "DeploymentError",
    "descendants",
    "free_port",
]

#: The components a deployment starts by default, besides the api-server.
COMPONENTS = ("scheduler", "dag-processor", "triggerer")
#: Users of the simple auth manager (``name: role``); their passwords are generated at start.
DEFAULT_USERS = {"admin": "admin"}


class AirflowDeployment(AirflowApi):
    """
    Airflow's api-server, scheduler, dag-processor and triggerer, started and stopped together.

    :param dags_folder: the DAGs folder the dag-processor parses.
    :param home: the ``AIRFLOW_HOME`` (default: a new temporary folder, removed at stop unless
        something failed, so its logs can be read).
    :param components: what to start besides the api-server (default: scheduler, dag-processor,
        triggerer). Start others later with :meth:`start_component`.
    :param connections: connections written to the metadata database before anything starts,
        ``{conn_id: {"conn_type": ..., "host": ..., "password": ..., "extra": {...}}}``, as a
        deployment keeps them (so the triggerer and the api-server read them as they would).
    :param users: simple auth manager users, ``{name: role}``; the role is ``viewer``, ``user``,
        ``op`` or ``admin``, optionally followed by ``:team1|team2`` in multi-team mode.
    :param teams: teams created before start (multi-team mode, Airflow 3.2+: set
        ``core.multi_team`` and give a DAG bundle its ``team_name`` in ``config``).
    :param config: extra Airflow settings, ``{"section.key": value}``
        (e.g. ``{"core.test_connection": "Enabled"}``).
    :param env: extra environment variables for every component (e.g. ``ONEMIN_OUTPUT_PATH``).
    :param sql_alchemy_conn: the metadata database (default: SQLite in the home).
    :param parallelism: the LocalExecutor's worker slots.
    :param refresh_interval: seconds between the dag-processor's scans of the DAGs folder
        (Airflow's default is 300: new files would take minutes to appear). A new file is parsed
        at the next scan.
    :param reparse_interval: seconds before a file already parsed is parsed again. Parsing the
        folder every few seconds kept the dag-processor busy a tenth of a core while a test waited.
    :param python: the interpreter that runs Airflow (default: this one), for another venv.
    """

    def __init__(
        self,
        dags_folder: str | os.PathLike[str],
        *,
        home: str | os.PathLike[str] | None = None,
        components: Iterable[str] = COMPONENTS,
        connections: Mapping[str, Mapping[str, Any]] | None = None,
        users: Mapping[str, str] | None = None,
        teams: Iterable[str] = (),
        config: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        sql_alchemy_conn: str | None = None,
        parallelism: int = 4,
        refresh_interval: int = 5,
        reparse_interval: int = 120,
        python: str = sys.executable,
    ) -> None:
        self._own_home = home is None
        self.home = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="onemin-deployment-"))
        self.dags_folder = Path(dags_folder)
        self.components = tuple(components)
        self.connections = dict(connections or {})
        self.users = dict(users or DEFAULT_USERS)
        self.teams = tuple(teams)
        self.python = python
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._failed = False
        self._tokens: dict[str, str] = {}
        self.env = self._environment(
            env or {}, config or {}, sql_alchemy_conn, parallelism, (refresh_interval, reparse_interval)
        )
        atexit.register(self.stop)

    # --- set-up -------------------------------------------------------------------------------

    def _environment(
        self,
        extra_env: Mapping[str, str],
        config: Mapping[str, Any],
        sql_alchemy_conn: str | None,
        parallelism: int,
        intervals: tuple[int, int],
    ) -> dict[str, str]:
        # Nothing of the caller's Airflow settings leaks in: this deployment is configured here only.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and k != "AIRFLOW_HOME"
        }
        users = ",".join(f"{name}:{role}" for name, role in self.users.items())
        settings: dict[str, Any] = {
            "core.dags_folder": self.dags_folder,
            "core.executor": "LocalExecutor",
            "core.parallelism": parallelism,
            "core.load_examples": False,
            "core.dags_are_paused_at_creation": False,
            "core.execution_api_server_url": f"{self.url}/execution/",
            "core.simple_auth_manager_users": users,
            "core.allowed_deserialization_classes_regexp": r"(airflow|airflow_provider_onemin)\..*",
            "api.host": "127.0.0.1",
            "api.port": self.port,
            "api.base_url": self.url,
            "api.workers": 1,
            "api.secret_key": secrets.token_hex(16),
            "api_auth.jwt_secret": secrets.token_hex(32),
            # SQLite's lock wait raised from pysqlite's 5 s: a deployment starting beside busy CI legs
            # lost its dag-processor to "database is locked" while another component wrote.
            "database.sql_alchemy_conn": sql_alchemy_conn
            or f"sqlite:///{self.home / 'airflow.db'}?timeout=30",
            "dag_processor.refresh_interval": intervals[0],
            "dag_processor.min_file_process_interval": intervals[1],
            "logging.logging_level": "INFO",
            # The worker's and the triggerer's log servers: fixed ports would clash between deployments.
            "logging.worker_log_server_port": free_port(),
            "logging.trigger_log_server_port": free_port(),
            "scheduler.enable_health_check": False,
            # Only the runs a test triggers: a scheduled DAG would otherwise get a run of its own at
            # once, which a test counting runs or results would not expect.
            "scheduler.use_job_schedule": False,
            # An idle scheduler sleeps up to this long before it hears that a task ended and queues
            # the next ones: with Airflow's default (1 s) a DAG run of many short steps spends a
            # good part of its time waiting for that. A shorter sleep costs an idle scheduler a
            # few % of a core (measured in docs/testing.md).
            "scheduler.scheduler_idle_sleep_time": 0.25,
        }
        settings.update(config)
        for name, value in settings.items():
            section, _, key = name.partition(".")
            env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = str(value)
        env["AIRFLOW_HOME"] = str(self.home)
        env.update(extra_env)
        return env

    def cli(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against this deployment; raise with its stderr when it fails."""
        run = subprocess.run(
            [self.python, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and run.returncode != 0:
            raise DeploymentError(
                f"airflow {' '.join(args)} failed ({run.returncode}):\n{run.stderr[-3000:]}"
            )
        return run

    def cli_batch(self, *commands: Sequence[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """
        Run several ``airflow`` commands one after the other in one process, as ``airflow``'s own
        entry point runs each (its parser, then the command's function): each process start costs
        seconds of CPU importing Airflow. Raise with the output when one fails (the rest do not run).
        """
        run = subprocess.run(
            [self.python, "-c", CLI_BATCH, json.dumps([list(command) for command in commands])],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if run.returncode != 0:
            raise DeploymentError(
                f"airflow {' / '.join(' '.join(c[:2]) for c in commands)} failed ({run.returncode}):\n"
                f"{run.stderr[-3000:]}"
            )
        return run

    def start(self, timeout: float = 300) -> AirflowDeployment:
        """Migrate the database, add the connections, start every component, wait until healthy."""
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self.cli_batch(
                ["db", "migrate"],
                *(["teams", "create", team] for team in self.teams),
                *(
                    ["connections", "add", conn_id, "--conn-json", json.dumps(dict(conn))]
                    for conn_id, conn in self.connections.items()
                ),
            )
            self.start_component("api-server", "api-server", "--port", str(self.port))
            for component in self.components:
                self.start_component(component)
            self.wait_until("the deployment to be healthy", self._healthy, timeout=timeout)
        except BaseException:
            self._failed = True
            self.stop()
            raise
        return self

    def start_component(
        self, name: str, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """
        Start ``airflow <args>`` (default: ``airflow <name>``) as component ``name``.

        :param name: the component's name, also its log file ``<home>/<name>.log``.
        :param args: the CLI arguments; default ``[name]``.
        :param env: variables added to (or, with an empty value, removed from) this component's
            environment only, e.g. a triggerer that must not see a secret the others see.
        """
        if name in self.processes and self.processes[name].poll() is None:
            raise DeploymentError(f"component {name} is already running")
        component_env = dict(self.env)
        for key, value in (env or {}).items():
            if value == "":
                component_env.pop(key, None)
            else:
                component_env[key] = value
        with (self.home / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(
                [self.python, "-m", "airflow", *(args or (name,))],
                env=component_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **own_process_group(die_with_parent if sys.platform.startswith("linux") else None),
            )
        self.processes[name] = process
        return process

    def stop_component(self, name: str, timeout: float = 30) -> None:
        """Stop one component (and everything it started); its log stays."""
        process = self.processes.get(name)
        if process is not None:
            stop_process_tree([process], timeout)

    def stop(self) -> None:
        """Stop every component and whatever they started; remove the home unless something failed."""
        atexit.unregister(self.stop)
        stop_process_tree(list(self.processes.values()), timeout=30)
        if self._own_home and not self._failed:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> AirflowDeployment:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._failed = True
            print(f"Airflow deployment at {self.home} (kept for its logs)", file=sys.stderr)
        self.stop()

    # --- health and waiting -------------------------------------------------------------------

    def check_alive(self) -> None:
        """Raise when a component exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise DeploymentError(f"airflow {name} exited ({process.returncode}):\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        """The last ``lines`` lines of a component's output."""
        path = self.home / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def logs(self) -> str:
        """The tail of every component's output, for an error message."""
        return "\n".join(f"--- {name} ---\n{self.tail(name)}" for name in self.processes)

    def grep(self, needle: str, lines: int = 60) -> str:
        """The last ``lines`` lines of each component's output that mention ``needle``."""
        found = []
        for name in self.processes:
            path = self.home / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            hits = [line for line in text.splitlines() if needle in line][-lines:]
            found.append(f"--- {name}: lines with {needle!r} ---\n" + "\n".join(hits))
        return "\n".join(found)

    def server_error_report(self, answer_text: str) -> str:
        """
        The api-server's log from the error id a 500 answer names ("look for ID ..."): Airflow hides
        a database error's statement and cause from the answer. The home is kept for its logs.
        """
        self._failed = True
        match = re.search(r"look for ID (\w+)", answer_text)
        path = self.home / "api-server.log"
        if match is None or not path.exists():
            return f"\n--- api-server ---\n{self.tail('api-server')}"
        lines = path.read_text(errors="replace").splitlines()
        first = next((i for i, line in enumerate(lines) if match.group(1) in line), max(len(lines) - 40, 0))
        return f"\n--- api-server, from error {match.group(1)} ---\n" + "\n".join(lines[first : first + 60])

    def wait_for_executor_report(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, timeout: float = 120
    ) -> None:
        """
        Wait until the scheduler has processed the executor's report of a try that deferred or
        paused for input (its process ended). A trigger event or a human answer that resumes the
        task before that report is processed makes the scheduler fail the task ("the task instance's
        state attribute is queued": Airflow's stale-deferral race, apache/airflow#71580). A person
        answers minutes later; a test must wait for this, not for a fixed time.
        """
        marks = (
            "Received executor event",
            f"task_id='{task_id}'",
            f"run_id='{run_id}'",
            f"try_number={try_number}",
        )

        def reported() -> bool:
            path = self.home / "scheduler.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            return any(all(mark in line for mark in marks) for line in text.splitlines())

        self.wait_until(f"the executor's report of {task_id} try {try_number}", reported, timeout=timeout)

    def wait_until(
        self, what: str, condition: Callable[[], Any], *, timeout: float = 300, interval: float = 0.5
    ) -> Any:
        """
        Call ``condition`` until it returns something true, and return that.

        Connection errors count as "not yet". Raises :class:`DeploymentError` with the logs when a
        component dies or ``timeout`` seconds pass.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(requests.RequestException, OSError):
                result = condition()
                if result:
                    return result
            if time.monotonic() > deadline:
                self._failed = True
                raise DeploymentError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")
            time.sleep(interval)

    def _healthy(self) -> bool:
        answer = requests.get(f"{self.url}/api/v2/monitor/health", timeout=10)
        if answer.status_code != 200:
            return False
        health = answer.json()
        wanted = {"scheduler": "scheduler", "triggerer": "triggerer", "dag-processor": "dag_processor"}
        return health.get("metadatabase", {}).get("status") == "healthy" and all(
            (health.get(wanted[c]) or {}).get("status") == "healthy" for c in self.components if c in wanted
        )
