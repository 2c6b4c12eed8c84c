"""
A real Airflow deployment for tests and benchmarks: api-server, scheduler, dag-processor and
triggerer as separate processes, in a temporary ``AIRFLOW_HOME``, on a free loopback port.

``airflow dags test`` runs everything in one process; what only shows when the worker, the
triggerer and the api-server are separate processes (secrets in the triggerer, a plugin served
by the api-server, the UI in a browser, deferral races) needs this::

    from tests.deployment import AirflowDeployment

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
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

#: The components a deployment starts by default, besides the api-server.
COMPONENTS = ("scheduler", "dag-processor", "triggerer")
#: Users of the simple auth manager (``name: role``); their passwords are generated at start.
DEFAULT_USERS = {"admin": "admin"}
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
TERMINAL_TI_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})

_PR_SET_PDEATHSIG = 1


class DeploymentError(RuntimeError):
    """A component died or a condition was not met in time; the message carries the logs' tails."""


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: receive SIGTERM when the process that started it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    if not Path("/proc").is_dir():
        return []
    children = _children_by_parent()
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


class AirflowDeployment:
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
        (Airflow's default is 300: new files would take minutes to appear).
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
        self.env = self._environment(env or {}, config or {}, sql_alchemy_conn, parallelism, refresh_interval)
        atexit.register(self.stop)

    # --- set-up -------------------------------------------------------------------------------

    def _environment(
        self,
        extra_env: Mapping[str, str],
        config: Mapping[str, Any],
        sql_alchemy_conn: str | None,
        parallelism: int,
        refresh_interval: int,
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
            "database.sql_alchemy_conn": sql_alchemy_conn or f"sqlite:///{self.home / 'airflow.db'}",
            "dag_processor.refresh_interval": refresh_interval,
            "dag_processor.min_file_process_interval": refresh_interval,
            "logging.logging_level": "INFO",
            # The worker's and the triggerer's log servers: fixed ports would clash between deployments.
            "logging.worker_log_server_port": free_port(),
            "logging.trigger_log_server_port": free_port(),
            "scheduler.enable_health_check": False,
            # Only the runs a test triggers: a scheduled DAG would otherwise get a run of its own at
            # once, and with max_active_runs=1 the triggered one would wait behind it.
            "scheduler.use_job_schedule": False,
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

    def start(self, timeout: float = 300) -> AirflowDeployment:
        """Migrate the database, add the connections, start every component, wait until healthy."""
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self.cli("db", "migrate")
            for team in self.teams:
                self.cli("teams", "create", team)
            for conn_id, conn in self.connections.items():
                self.cli("connections", "add", conn_id, "--conn-json", json.dumps(dict(conn)))
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
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        self.processes[name] = process
        return process

    def stop_component(self, name: str, timeout: float = 30) -> None:
        """Stop one component (and everything it started); its log stays."""
        process = self.processes.get(name)
        if process is not None:
            _stop_process_tree([process], timeout)

    def stop(self) -> None:
        """Stop every component and whatever they started; remove the home unless something failed."""
        atexit.unregister(self.stop)
        _stop_process_tree(list(self.processes.values()), timeout=30)
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

    # --- the REST API -------------------------------------------------------------------------

    def password(self, username: str) -> str:
        """The password the simple auth manager generated for ``username``."""
        path = self.home / "simple_auth_manager_passwords.json.generated"
        passwords = self.wait_until(
            "the simple auth manager's passwords",
            lambda: json.loads(path.read_text()) if path.exists() and path.stat().st_size else None,
            timeout=60,
        )
        return passwords[username]

    def login(self, username: str = "admin") -> str:
        """A JWT for ``username`` (``POST /auth/token``), cached per user."""
        if username not in self._tokens:
            answer = requests.post(
                f"{self.url}/auth/token",
                json={"username": username, "password": self.password(username)},
                timeout=30,
            )
            answer.raise_for_status()
            self._tokens[username] = answer.json()["access_token"]
        return self._tokens[username]

    def api(
        self, method: str, path: str, *, user: str | None = "admin", expect: int | None = 200, **kwargs: Any
    ) -> requests.Response:
        """
        Call the api-server as ``user`` (``None``: anonymous).

        :param path: from the root, e.g. ``/api/v2/dags``.
        :param expect: the status code required (``None``: any).
        """
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers["Authorization"] = f"Bearer {self.login(user)}"
        answer = requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)
        if expect is not None and answer.status_code != expect:
            raise DeploymentError(
                f"{method} {path} answered {answer.status_code}, expected {expect}: {answer.text[:2000]}"
            )
        return answer

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; return the DAG's API record."""

        def parsed() -> dict[str, Any] | None:
            answer = self.api("GET", f"/api/v2/dags/{quote(dag_id, safe='')}", expect=None)
            return answer.json() if answer.status_code == 200 else None

        return self.wait_until(f"DAG {dag_id} to be parsed", parsed, timeout=timeout)

    def import_errors(self) -> list[dict[str, Any]]:
        """The DAG import errors Airflow recorded."""
        return self.api("GET", "/api/v2/importErrors").json()["import_errors"]

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, run_id: str | None = None) -> str:
        """Trigger a run of ``dag_id`` (once it is parsed); return its run id."""
        self.wait_for_dag(dag_id)
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        answer = self.api("POST", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns", json=body)
        return answer.json()["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.api(
            "GET", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
        ).json()

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        condition: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 600,
    ) -> dict[str, Any]:
        """
        Wait until the run satisfies ``condition`` (default: it ended); return its API record.

        :param condition: called with the run's record (``state``, ``end_date``...).
        """
        condition = condition or (lambda run: run["state"] in TERMINAL_RUN_STATES)

        def met() -> dict[str, Any] | None:
            run = self.dag_run(dag_id, run_id)
            return run if condition(run) else None

        return self.wait_until(f"run {run_id} of {dag_id}", met, timeout=timeout)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones included)."""
        path = f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return self.api("GET", path, params={"limit": 1000}).json()["task_instances"]

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        condition: Callable[[dict[str, Any]], bool] | None = None,
        map_index: int = -1,
        timeout: float = 600,
    ) -> dict[str, Any]:
        """Wait until a task instance satisfies ``condition`` (default: it ended); return it."""
        condition = condition or (lambda ti: ti["state"] in TERMINAL_TI_STATES)

        def met() -> dict[str, Any] | None:
            for ti in self.task_instances(dag_id, run_id):
                if ti["task_id"] == task_id and ti["map_index"] == map_index and condition(ti):
                    return ti
            return None

        return self.wait_until(f"task {task_id}[{map_index}] of {run_id}", met, timeout=timeout)

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1, try_number: int = 1
    ) -> str:
        """A task instance's log as text (one line per event, its message and fields)."""
        path = (
            f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{quote(task_id, safe='')}/logs/{try_number}"
        )
        answer = self.api(
            "GET",
            path,
            params={"map_index": map_index, "full_content": "true"},
            headers={"Accept": "application/json"},
        )
        lines = []
        for entry in answer.json().get("content") or []:
            if isinstance(entry, dict):
                event = entry.get("event", "")
                fields = {
                    k: v for k, v in entry.items() if k not in ("event", "timestamp", "level", "logger")
                }
                lines.append(f"{entry.get('level', '')} {event} {fields if fields else ''}".strip())
            else:
                lines.append(str(entry))
        return "\n".join(lines)

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        """An XCom value (deserialized by the api-server), or ``None`` when there is none."""
        path = (
            f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{quote(task_id, safe='')}/xcomEntries/{quote(key, safe='')}"
        )
        answer = self.api("GET", path, params={"map_index": map_index, "deserialize": "true"}, expect=None)
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise DeploymentError(f"XCom {key} of {task_id}: {answer.status_code} {answer.text[:500]}")
        return answer.json()["value"]


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _stop_process_tree(processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM each process group (and descendants that left it), then SIGKILL what remains."""
    running = [p for p in processes if p.poll() is None]
    # Collected before signalling: once a parent dies its children are re-parented and lost.
    strays = {pid for p in running for pid in descendants(p.pid)}
    for process in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
    _signal_all(strays, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    while strays and time.monotonic() < deadline:
        strays = {pid for pid in strays if Path(f"/proc/{pid}").exists() and not _is_zombie(pid)}
        if strays:
            time.sleep(0.1)
    _signal_all(strays, signal.SIGKILL)
    for process in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # anything left in the group


def _is_zombie(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) == "Z"
    except OSError:
        return True
