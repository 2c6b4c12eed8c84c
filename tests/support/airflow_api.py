"""
The REST API of a deployment started by tests/support/deployment.py, as the tests use it: log in with the
simple auth manager's generated passwords, trigger runs, wait on conditions, read logs and XComs.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
TERMINAL_TI_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
#: Tries of a call the api-server answers with its "Database error" (500), and the pause before
#: each new one. The test deployments keep their metadata in SQLite, which under a loaded CI
#: machine refuses a write outright when another component holds the write lock ("database is
#: locked", whatever the lock timeout, for a transaction that read first); Airflow rolled the
#: request's transaction back, so the call can be made again. A lasting error still fails the test.
DATABASE_ERROR_PAUSES = (0.5, 2.0)


def _rolled_back(answer: requests.Response) -> bool:
    """Whether ``answer`` is Airflow's answer to a database error (its transaction rolled back)."""
    if answer.status_code != 500:
        return False
    try:
        detail = answer.json().get("detail")
    except ValueError:
        return False
    return isinstance(detail, dict) and detail.get("reason") == "Database error"


class DeploymentError(RuntimeError):
    """A component died or a condition was not met in time; the message carries the logs' tails."""


class AirflowApi:
    """REST helpers mixed into :class:`tests.support.deployment.AirflowDeployment`."""

    url: str
    home: Path
    _tokens: dict[str, str]

    def wait_until(
        self, what: str, condition: Callable[[], Any], *, timeout: float = 300, interval: float = 0.5
    ) -> Any:
        raise NotImplementedError

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
        for pause in DATABASE_ERROR_PAUSES:
            if not _rolled_back(answer) or expect == answer.status_code:
                break
            # Said in the run's warnings summary: how often it happens stays on record.
            warnings.warn(
                f"{method} {path}: the api-server answered a database error, trying again", stacklevel=2
            )
            time.sleep(pause)  # a lock another process holds: there is no event to wait for
            answer = requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)
        if expect is not None and answer.status_code != expect:
            raise DeploymentError(
                f"{method} {path} answered {answer.status_code}, expected {expect}: {answer.text[:2000]}"
                + (self.server_error_report(answer.text) if answer.status_code >= 500 else "")
            )
        return answer

    def server_error_report(self, answer_text: str) -> str:
        """What the server logged about a 5xx answer (its text hides the cause), for an error message."""
        return ""

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

    def run_report(self, dag_id: str, run_id: str) -> str:
        """Each task instance's state, and the log of each one that did not succeed (for failures)."""
        lines, logs = [], []
        for ti in self.task_instances(dag_id, run_id):
            name = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
            lines.append(f"{name}: {ti['state']} (try {ti.get('try_number')})")
            if ti["state"] not in ("success", "skipped"):
                for try_number in range(1, (ti.get("try_number") or 1) + 1):
                    try:
                        log = self.task_log(
                            dag_id, run_id, ti["task_id"], map_index=ti["map_index"], try_number=try_number
                        )
                    except DeploymentError as error:  # a try Airflow has not started: no log yet
                        log = f"(no log: {error})"
                    logs.append(f"--- {name}, try {try_number} ---\n{log}")
        return "\n".join(lines + logs)

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
