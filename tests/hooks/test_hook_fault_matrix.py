"""
The fault matrix at hook level: every emulator fault ends in success or in its named error, with
the emulator's charge counter showing what was paid.

Each row queues faults on the emulator (real HTTP over loopback), then submits one generation the
way the operator does (async POST, then polls) and checks the outcome and the charges. The
expected charges come from each row's scenario, not from the emulator's billing model: every
``status`` fault on the paid endpoint says itself whether the server charged before answering
(``charged=``), so a row reads "the server charged at the 503, then the re-send charged: 2".
Charges are counted once the emulator has finished every request (a delayed one had its chance
to charge). Backoffs are tiny (connection extra), so the whole matrix runs in a few seconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from airflow_provider_onemin.emulator.state import BAD_REQUEST_CODES
from airflow_provider_onemin.exceptions import (
    OneMinAuthenticationError,
    OneMinError,
    OneMinFinalError,
    OneMinGenerationFailedError,
    OneMinMalformedResponseError,
    OneMinMalformedSubmissionError,
    OneMinOutOfCreditsError,
    OneMinRateLimitError,
    OneMinRequestRejectedError,
    OneMinServerError,
    OneMinTransportError,
    OneMinUnknownOutcomeError,
    OneMinUnsafeContentError,
)
from airflow_provider_onemin.hooks.onemin import OneMinHook

FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "max_retry_wait": 2, "poll_interval": 0.02}
BODY = {
    "type": "BACKGROUND_REPLACER",
    "model": "ideogram-3",
    "async": True,
    "promptObject": {"prompt": "a sunlit beach", "imageUrl": "development/images/mug.png", "num_images": 1},
}


def _http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now), usegmt=True)


@dataclass
class Row:
    """One row: faults to queue, connection extra, and the expected outcome and charges."""

    name: str
    faults: list[dict[str, Any]]
    error: type[OneMinError] | None
    charges: int
    extra: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    def __str__(self) -> str:
        return self.name


def fault(kind: str, count: int = 1, endpoint: str = "features", **params: Any) -> dict[str, Any]:
    return {"kind": kind, "count": count, "endpoint": endpoint, **params}


UNKNOWN = "is unknown. It is NOT sent again"

ROWS = [
    # Rate limiting and "surely not processed" answers: retried, paid once.
    Row("429 without Retry-After, twice", [fault("status", 2, code=429, charged=False)], None, 1),
    Row("429 with Retry-After seconds", [fault("status", code=429, retry_after=0.2, charged=False)], None, 1),
    Row(
        "429 with Retry-After date beyond the wait cap",
        [fault("status", code=429, retry_after=_http_date(3600), charged=False)],
        OneMinRateLimitError,
        0,
        message=r"gave up after 1 attempt .*asked to wait \d+ s \(Retry-After\), more than the 2 s left",
    ),
    Row(
        "429 on every attempt",
        [fault("status", 10, code=429, charged=False)],
        OneMinRateLimitError,
        0,
        extra={"max_attempts": 3},
        message=r"^POST /api/features: gave up after 3 attempts in [\d.]+ s \(max_attempts=3 reached\)\. "
        r"Last error: 1min.ai answered POST /api/features with HTTP 429",
    ),
    Row("503 twice", [fault("status", 2, code=503, charged=False)], None, 1),
    Row("522 twice", [fault("status", 2, code=522, charged=False)], None, 1),
    Row(
        "503 on every attempt",
        [fault("status", 10, code=503, charged=False)],
        OneMinServerError,
        0,
        extra={"max_attempts": 2},
        message="gave up after 2 attempts",
    ),
    # Answers after which the POST may have been processed: unknown outcome, never re-sent.
    *[
        Row(
            f"{code} with an HTML page",
            [fault("status", code=code, charged=False)],
            OneMinUnknownOutcomeError,
            0,
            message=rf"answered HTTP {code} \(an HTML page titled 'api.1min.ai \| {code}: [^']+'\).*{UNKNOWN}",
        )
        for code in (500, 502, 504, 524)
    ],
    Row(
        "502, retry_unknown_outcome opted in",
        [fault("status", code=502, charged=False)],
        None,
        1,
        extra={"retry_unknown_outcome": True},
    ),
    Row(
        "reset before the charge",
        [fault("reset_before_charge")],
        OneMinUnknownOutcomeError,
        0,
        message=rf"lost the connection after sending.*{UNKNOWN}",
    ),
    Row(
        "reset after the charge",
        [fault("reset_after_charge")],
        OneMinUnknownOutcomeError,
        1,
        message=rf"lost the connection after sending.*{UNKNOWN}",
    ),
    Row(
        "reset after the charge, retry_unknown_outcome opted in (pays twice, as documented)",
        [fault("reset_after_charge")],
        None,
        2,
        extra={"retry_unknown_outcome": True},
    ),
    Row(
        "read timeout before the charge",
        [fault("delay", seconds=0.6)],
        OneMinUnknownOutcomeError,
        0,
        extra={"read_timeout": 0.2},
        message=rf"timed out waiting for the answer \(ReadTimeout.*{UNKNOWN}",
    ),
    Row(
        "read timeout while the server charged (it finishes after the client gave up)",
        [fault("delay", seconds=0.6, charge_first=True)],
        OneMinUnknownOutcomeError,
        1,
        extra={"read_timeout": 0.2},
        message=UNKNOWN,
    ),
    # The server charged before answering a status that means "not processed" (against the
    # contract): the provider cannot tell, re-sends as the contract allows, and pays twice.
    Row(
        "503, but the server had charged; the re-send succeeds",
        [fault("status", code=503, charged=True)],
        None,
        2,
    ),
    Row(
        "429, but the server had charged; the re-send succeeds",
        [fault("status", code=429, charged=True)],
        None,
        2,
    ),
    Row(
        "502, the server had charged, retry_unknown_outcome opted in (pays twice, as documented)",
        [fault("status", code=502, charged=True)],
        None,
        2,
        extra={"retry_unknown_outcome": True},
    ),
    Row(
        "503 twice, the server charged both times; the third send succeeds",
        [fault("status", 2, code=503, charged=True)],
        None,
        3,
    ),
    # After a status that may follow processing, nothing is re-sent: what the server did is what is paid.
    *[
        Row(
            f"{code}, and the server had charged",
            [fault("status", code=code, charged=True)],
            OneMinUnknownOutcomeError,
            1,
            message=UNKNOWN,
        )
        for code in (500, 502, 504, 524)
    ],
    Row(
        "read timeout after the charge",
        [fault("delay", seconds=0.6, charge_first=True)],
        OneMinUnknownOutcomeError,
        1,
        extra={"read_timeout": 0.2},
        message=UNKNOWN,
    ),
    Row("truncated JSON that still names the uuid: polled, not re-sent", [fault("truncated_json")], None, 1),
    Row(
        "aiRecord null on submit",
        [fault("null_record")],
        OneMinMalformedSubmissionError,
        0,
        message=rf"unexpected shape \(aiRecord: None is not of type 'object'\).*{UNKNOWN}",
    ),
    # Final answers: no retry, nothing charged.
    Row(
        "FAILURE on submit",
        [fault("failure")],
        OneMinGenerationFailedError,
        0,
        message=r"ended with status 'FAILURE'.*Check the prompt and source image",
    ),
    Row("FAILURE while polling", [fault("failure", endpoint="results")], OneMinGenerationFailedError, 0),
    *[
        Row(
            f"400 {code}",
            [fault("bad_request", error_code=code)],
            OneMinRequestRejectedError,
            0,
            message=rf"HTTP 400: {code}: .*Fix the request",
        )
        for code in BAD_REQUEST_CODES
    ],
    Row("422 unsafe", [fault("unsafe")], OneMinUnsafeContentError, 0, message="CONTENT_POLICY_VIOLATION"),
    *[
        Row(
            f"out of credits as HTTP {status}",
            [fault("out_of_credits", status=status)],
            OneMinOutOfCreditsError,
            0,
            message=rf"HTTP {status}: INSUFFICIENT_CREDITS: Not enough credits\. Top up",
        )
        for status in (429, 402, 400, 503)
    ],
    # Polling is free: every transient failure of a GET is retried.
    Row(
        "503 then 500 while polling",
        [fault("status", code=503, endpoint="results"), fault("status", code=500, endpoint="results")],
        None,
        1,
    ),
    Row("429 while polling", [fault("status", 2, code=429, endpoint="results")], None, 1),
    Row("reset while polling", [fault("reset_after_charge", endpoint="results")], None, 1),
    Row("truncated JSON while polling", [fault("truncated_json", endpoint="results")], None, 1),
    Row("aiRecord null once while polling", [fault("null_record", endpoint="results")], None, 1),
    Row(
        "read timeout while polling",
        [fault("delay", endpoint="results", seconds=0.5)],
        None,
        1,
        extra={"read_timeout": 0.2},
    ),
]


def _use_connection(monkeypatch: pytest.MonkeyPatch, url: str, password: str, **extra: Any) -> OneMinHook:
    conn = {"conn_type": "onemin", "host": url, "password": password, "extra": {**FAST, **extra}}
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    return OneMinHook()


def generate(hook: OneMinHook) -> dict[str, Any]:
    """What the operator does: submit once in async mode, then poll until the generation ends."""
    record = hook.run_feature(dict(BODY))
    if not hook.check_status(record):
        record = hook.wait_for_result(record["uuid"])
    return record


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_fault_matrix_row(row: Row, onemin_emulator, monkeypatch):
    hook = _use_connection(monkeypatch, onemin_emulator.url, onemin_emulator.api_key, **row.extra)
    for item in row.faults:
        onemin_emulator.add_fault(**item)
    started = time.monotonic()
    if row.error is None:
        record = generate(hook)
        assert record["status"] == "SUCCESS"
        assert record["aiRecordDetail"]["resultObject"]
    else:
        with pytest.raises(row.error, match=row.message) as caught:
            generate(hook)
        error = caught.value
        # Final means: Airflow fails the task at once, no Airflow retry.
        expect_final = not isinstance(error, (OneMinRateLimitError, OneMinServerError, OneMinTransportError))
        assert isinstance(error, OneMinFinalError) is expect_final
        assert onemin_emulator.api_key not in str(error)
        assert "<html" not in str(error).lower()
    onemin_emulator.wait_idle()
    assert onemin_emulator.charges() == row.charges, row.name
    if "Retry-After seconds" in row.name:
        assert time.monotonic() - started >= 0.2, "Retry-After must be waited for"


def test_unknown_outcome_keeps_what_is_known(onemin_emulator, monkeypatch):
    hook = _use_connection(monkeypatch, onemin_emulator.url, onemin_emulator.api_key)
    onemin_emulator.add_fault("status", code=504, charged=False)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    with pytest.raises(OneMinUnknownOutcomeError) as caught:
        hook.run_feature(dict(BODY))
    error = caught.value
    assert error.status_code == 504
    assert datetime.fromisoformat(error.sent_at) >= before
    assert error.sent_at in str(error)
    assert onemin_emulator.charges() == 0
    assert onemin_emulator.faults == [], "the POST must have been sent exactly once"


def test_malformed_submission_is_both_unknown_and_malformed(onemin_emulator, monkeypatch):
    hook = _use_connection(monkeypatch, onemin_emulator.url, onemin_emulator.api_key)
    onemin_emulator.add_fault("null_record")
    with pytest.raises(OneMinMalformedSubmissionError) as caught:
        hook.run_feature(dict(BODY))
    assert isinstance(caught.value, OneMinUnknownOutcomeError)
    assert isinstance(caught.value, OneMinMalformedResponseError)


def test_401_is_final_and_never_shows_the_key(onemin_emulator, monkeypatch):
    wrong_key = "sk-wrong-key-for-401-row-5d1c"
    hook = _use_connection(monkeypatch, onemin_emulator.url, wrong_key)
    with pytest.raises(
        OneMinAuthenticationError, match=r"HTTP 401: UNAUTHORIZED: Invalid API key .*Check the API key"
    ) as caught:
        generate(hook)
    assert isinstance(caught.value, OneMinFinalError)
    assert wrong_key not in str(caught.value)
    assert onemin_emulator.charges() == 0


def test_connection_refused_is_retried_then_named(monkeypatch, caplog):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again at once: nothing listens there
    hook = _use_connection(monkeypatch, f"http://127.0.0.1:{port}", "k-refused-12345", max_attempts=3)
    with pytest.raises(OneMinTransportError, match=r"gave up after 3 attempts.*nothing was sent"):
        hook.run_feature(dict(BODY))


def test_free_upload_is_retried_on_any_transient_failure(onemin_emulator, monkeypatch):
    hook = _use_connection(monkeypatch, onemin_emulator.url, onemin_emulator.api_key)
    onemin_emulator.add_fault("status", code=500, endpoint="assets")
    onemin_emulator.add_fault("reset_after_charge", endpoint="assets")
    onemin_emulator.add_fault("truncated_json", endpoint="assets")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    path = hook.upload_asset(png, "mug.png")
    assert path.startswith("development/images/")
    assert onemin_emulator.faults == []
