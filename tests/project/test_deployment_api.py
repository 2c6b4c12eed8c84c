"""
The test deployments' REST helper (tests/support/airflow_api.py) against a stand-in api-server
(pytest-httpserver): nothing else can make a real api-server answer a database error on demand.

A call Airflow answers with its "Database error" (500: the request's transaction was rolled back,
as when SQLite refuses a write under load) is made again, a few times; a lasting one fails with
what the api-server logged under the error's id; any other error is never made again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug import Response

from tests.support.airflow_api import DATABASE_ERROR_PAUSES, AirflowApi, DeploymentError

pytestmark = pytest.mark.usefixtures("no_pauses")

DATABASE_ERROR = {
    "detail": {
        "reason": "Database error",
        "statement": "hidden",
        "orig_error": "hidden",
        "message": "Serious error when handling your request. Check logs for more details - "
        "you will find it in api server when you look for ID AbC123xy",
    }
}


class StandIn(AirflowApi):
    """The helper's REST calls, aimed at ``url``; its server log is one line per 500 it reports."""

    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home, self._tokens = url, home, {}
        self.reported: list[str] = []

    def server_error_report(self, answer_text: str) -> str:
        self.reported.append(answer_text)
        return "\n--- api-server, from error AbC123xy ---\nsqlite3.OperationalError: database is locked"


@pytest.fixture
def no_pauses(monkeypatch):
    monkeypatch.setattr("tests.support.airflow_api.time.sleep", lambda seconds: None)


def _answers(httpserver, *answers: Response) -> None:
    for answer in answers:
        httpserver.expect_ordered_request("/api/v2/dags/d/dagRuns", method="POST").respond_with_response(
            answer
        )


def _database_error() -> Response:
    return Response(json.dumps(DATABASE_ERROR), status=500, content_type="application/json")


def test_a_rolled_back_database_error_is_tried_again(httpserver, tmp_path):
    _answers(httpserver, _database_error(), Response('{"dag_run_id": "r1"}', status=200))
    api = StandIn(httpserver.url_for("/").rstrip("/"), tmp_path)
    with pytest.warns(UserWarning, match="answered a database error, trying again"):
        answer = api.api("POST", "/api/v2/dags/d/dagRuns", user=None, json={"conf": {}})
    assert answer.json() == {"dag_run_id": "r1"}
    assert len(httpserver.log) == 2 and api.reported == []


def test_a_lasting_database_error_fails_with_what_the_server_logged(httpserver, tmp_path):
    tries = len(DATABASE_ERROR_PAUSES) + 1
    _answers(httpserver, *(_database_error() for _ in range(tries)))
    api = StandIn(httpserver.url_for("/").rstrip("/"), tmp_path)
    with pytest.raises(DeploymentError, match="answered 500") as failure, pytest.warns(UserWarning):
        api.api("POST", "/api/v2/dags/d/dagRuns", user=None, json={"conf": {}})
    assert "database is locked" in str(failure.value), "the server's log of the error is in the message"
    assert len(httpserver.log) == tries, "tried a bounded number of times"


@pytest.mark.parametrize(
    "answer",
    [
        Response('{"detail": "Internal Server Error"}', status=500, content_type="application/json"),
        Response("upstream down", status=502),
        Response('{"detail": {"reason": "Unique constraint violation"}}', status=409),
    ],
    ids=["500-not-a-database-error", "502", "409"],
)
def test_other_errors_are_not_tried_again(httpserver, tmp_path, answer):
    _answers(httpserver, answer)
    api = StandIn(httpserver.url_for("/").rstrip("/"), tmp_path)
    with pytest.raises(DeploymentError):
        api.api("POST", "/api/v2/dags/d/dagRuns", user=None, json={"conf": {}})
    assert len(httpserver.log) == 1
