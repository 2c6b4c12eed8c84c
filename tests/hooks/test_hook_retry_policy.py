"""
The hook's retry policy and error classification, against precisely scripted answers.

pytest-httpserver scripts ordinary HTTP answers; a tiny raw socket server sends what no
well-behaved HTTP server would (a body that breaks off before its Content-Length). The pure
functions (Retry-After parsing, the backoff schedule, body summaries) are tested directly.
"""

from __future__ import annotations

import json
import pickle
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from types import SimpleNamespace

import pytest
from werkzeug import Response

from airflow_provider_onemin.exceptions import (
    OneMinAuthenticationError,
    OneMinMalformedSubmissionError,
    OneMinOutOfCreditsError,
    OneMinRateLimitError,
    OneMinRequestRejectedError,
    OneMinServerError,
    OneMinUnknownOutcomeError,
)
from airflow_provider_onemin.hooks.answers import classify_answer, parse_retry_after, summarize_body
from airflow_provider_onemin.hooks.client_settings import OneMinClientSettings
from airflow_provider_onemin.hooks.onemin import OneMinHook
from airflow_provider_onemin.hooks.retry_policy import retry_delay

KEY = "policy-test-key-91ab"
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "max_retry_wait": 2, "poll_interval": 0.02}
BODY = {
    "type": "BACKGROUND_REPLACER",
    "model": "ideogram-3",
    "async": True,
    "promptObject": {"prompt": "a beach", "imageUrl": "development/images/mug.png", "num_images": 1},
}
UUID = "0b7c6a52-5f7e-4f0e-9d38-2d8f5c3f0a11"


def _hook(monkeypatch, url: str, **extra) -> OneMinHook:
    conn = {"conn_type": "onemin", "host": url, "password": KEY, "extra": {**FAST, **extra}}
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    return OneMinHook()


def _answer(status: int, body: str = "", headers: dict | None = None):
    return SimpleNamespace(status_code=status, text=body, headers=headers or {})


# --- Retry-After and the backoff schedule ----------------------------------------------------


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 4, 15, 10, 30, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0
    in_90_s = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(in_90_s, now=now.timestamp()) == pytest.approx(90)
    assert parse_retry_after("Wed, 15 Apr 2026 10:00:00 GMT", now=now.timestamp()) == 0  # past
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None


SETTINGS = OneMinClientSettings(backoff_initial=1, backoff_max=8, max_attempts=6, max_retry_wait=20)


def test_backoff_doubles_with_jitter_and_is_capped():
    for attempt, full in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 8)):
        delays = [retry_delay(SETTINGS, attempt, None, 0)[0] for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays), attempt
        assert max(delays) - min(delays) > full / 10, "jitter spreads the retries"


def test_max_attempts_stops():
    assert retry_delay(SETTINGS, 6, None, 0) == (0.0, "max_attempts=6 reached")


def test_retry_after_is_obeyed_beyond_backoff_max_while_it_fits():
    delay, reason = retry_delay(SETTINGS, 1, 15, slept=0)
    assert (delay, reason) == (15, None)


def test_retry_after_beyond_the_remaining_wait_gives_up_and_says_why():
    delay, reason = retry_delay(SETTINGS, 2, 15, slept=10)
    assert delay == 0
    assert (
        reason == "1min.ai asked to wait 15 s (Retry-After), more than the 10 s left of max_retry_wait=20 s"
    )


def test_plain_backoff_is_shortened_to_fit_the_remaining_wait():
    delay, reason = retry_delay(replace(SETTINGS, backoff_initial=8), 1, None, slept=19.5)
    assert reason is None and delay == 0.5
    assert retry_delay(SETTINGS, 1, None, slept=20)[1] == "max_retry_wait=20 s of waiting spent"


def test_total_wait_is_capped(httpserver, monkeypatch):
    """429 forever with Retry-After 0.15 s and a 0.4 s cap: two waits fit, the third does not."""
    httpserver.expect_request("/api/features").respond_with_json(
        {"errorCode": "RATE_LIMIT_EXCEEDED"}, status=429, headers={"Retry-After": "0.15"}
    )
    hook = _hook(monkeypatch, httpserver.url_for("").rstrip("/"), max_retry_wait=0.4, max_attempts=50)
    started = time.monotonic()
    with pytest.raises(OneMinRateLimitError) as caught:
        hook.run_feature(dict(BODY))
    assert 0.3 <= time.monotonic() - started < 1.5
    assert len(httpserver.log) == 3
    assert str(caught.value).startswith("POST /api/features: gave up after 3 attempts in ")
    assert "asked to wait 0.15 s (Retry-After), more than the 0.1 s left of max_retry_wait=0.4 s" in str(
        caught.value
    )
    assert caught.value.attempts == 3
    copy = pickle.loads(pickle.dumps(caught.value))  # Airflow serialises raised errors
    assert (type(copy), str(copy), copy.attempts) == (OneMinRateLimitError, str(caught.value), 3)


# --- error bodies --------------------------------------------------------------------------


def test_error_code_shape_with_details_as_json_string():
    body = json.dumps(
        {
            "errorCode": "MISSING_REQUIRED_FIELDS",
            "message": "Missing required fields.",
            "details": json.dumps({"missing": ["promptObject.prompt"]}),
            "context": {"feature": "BACKGROUND_REPLACER"},
        }
    )
    error = classify_answer(_answer(400, body), "POST", "/api/features")
    assert isinstance(error, OneMinRequestRejectedError)
    assert error.error_code == "MISSING_REQUIRED_FIELDS"
    assert error.details == {"missing": ["promptObject.prompt"]}
    assert str(error) == (
        "1min.ai answered POST /api/features with HTTP 400: MISSING_REQUIRED_FIELDS: Missing required "
        'fields. (details: {"missing": ["promptObject.prompt"]}). Fix the request (the errorCode and '
        "message above say what is wrong) and run again."
    )


def test_success_false_shape():
    body = json.dumps({"success": False, "error": {"code": "UNSUPPORTED_MODEL", "message": "No such model"}})
    error = classify_answer(_answer(400, body), "POST", "/api/features")
    assert (error.error_code, error.api_message) == ("UNSUPPORTED_MODEL", "No such model")
    assert "HTTP 400: UNSUPPORTED_MODEL: No such model." in str(error)


def test_html_page_is_summarised_by_status_and_title_only():
    page = "<!DOCTYPE html><html><head><title>\n  502 Bad   Gateway\n</title></head><body>" + "x" * 50_000
    error = classify_answer(_answer(502, page + "</body></html>"), "GET", "/api/results/x")
    assert isinstance(error, OneMinServerError)
    assert str(error).startswith(
        "1min.ai answered GET /api/results/x with HTTP 502: an HTML page titled '502 Bad Gateway'."
    )
    assert len(str(error)) < 300


def test_plain_text_body_is_cut_short():
    summary, _ = summarize_body(_answer(500, "oops " * 1000))
    assert len(summary) <= 200


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            429,
            {"errorCode": "INSUFFICIENT_CREDITS", "message": "Not enough credits"},
            OneMinOutOfCreditsError,
        ),
        (503, {"success": False, "error": {"code": "INSUFFICIENT_CREDITS"}}, OneMinOutOfCreditsError),
        (400, {"errorCode": "OUT_OF_CREDITS"}, OneMinOutOfCreditsError),
        (402, {}, OneMinOutOfCreditsError),
        # Words are not codes: these were "out of credits" (final, record cleared) before.
        (
            403,
            {"success": False, "error": {"code": "FORBIDDEN", "message": "Your balance is 0"}},
            OneMinAuthenticationError,
        ),
        (429, {"message": "monthly credit quota exhausted, top up billing"}, OneMinRateLimitError),
        (500, {"message": "monthly quota exhausted"}, OneMinServerError),
        # Status first: a 500, 502, 504 or 524 may follow a started generation, whatever it says.
        (500, {"errorCode": "INSUFFICIENT_CREDITS", "message": "Not enough credits"}, OneMinServerError),
        (502, {"message": "billing service unavailable"}, OneMinServerError),
        (429, {"message": "quota of 60 requests per minute exceeded"}, OneMinRateLimitError),
        (429, {"errorCode": "RATE_LIMIT_EXCEEDED", "message": "Too many requests"}, OneMinRateLimitError),
        (502, {"message": "load balancer error"}, OneMinServerError),
    ],
)
def test_out_of_credits_from_402_or_an_explicit_code_never_from_words(status, body, expected):
    assert type(classify_answer(_answer(status, json.dumps(body)), "POST", "/api/features")) is expected


# --- paid POST: what is retried and what is not -----------------------------------------------


def _record(status: str = "PROCESSING") -> dict:
    return {
        "aiRecord": {"uuid": UUID, "model": "ideogram-3", "type": "BACKGROUND_REPLACER", "status": status}
    }


@pytest.mark.parametrize("status", [408, 429, 503, 522])
def test_paid_post_is_resent_only_when_surely_not_processed(httpserver, monkeypatch, status):
    httpserver.expect_ordered_request("/api/features", method="POST").respond_with_data("", status=status)
    httpserver.expect_ordered_request("/api/features", method="POST").respond_with_json(_record())
    hook = _hook(monkeypatch, httpserver.url_for("").rstrip("/"))
    assert hook.run_feature(dict(BODY))["uuid"] == UUID
    httpserver.check_assertions()


@pytest.mark.parametrize("status", [500, 502, 504, 524])
def test_paid_post_is_not_resent_after_an_answer_that_may_follow_processing(httpserver, monkeypatch, status):
    httpserver.expect_request("/api/features", method="POST").respond_with_data("", status=status)
    hook = _hook(monkeypatch, httpserver.url_for("").rstrip("/"))
    with pytest.raises(OneMinUnknownOutcomeError, match=f"answered HTTP {status} \\(an empty body\\)"):
        hook.run_feature(dict(BODY))
    assert len(httpserver.log) == 1


def test_opted_in_unknown_outcome_retries_say_so_when_they_give_up(httpserver, monkeypatch):
    httpserver.expect_request("/api/features", method="POST").respond_with_data("", status=500)
    hook = _hook(monkeypatch, httpserver.url_for("").rstrip("/"), retry_unknown_outcome=True, max_attempts=2)
    with pytest.raises(OneMinUnknownOutcomeError) as caught:
        hook.run_feature(dict(BODY))
    message = str(caught.value)
    assert message.startswith("POST /api/features: gave up after 2 attempts in ")
    assert "retry_unknown_outcome is set in the connection's extra, so it is sent again" in message
    assert "NOT sent again" not in message
    assert len(httpserver.log) == 2


def test_garbled_answer_with_a_wrong_shape_but_a_uuid_is_polled_not_resent(httpserver, monkeypatch):
    httpserver.expect_ordered_request("/api/features", method="POST").respond_with_json(
        {"aiRecord": {"uuid": UUID, "status": 7}}
    )
    hook = _hook(monkeypatch, httpserver.url_for("").rstrip("/"))
    record = hook.run_feature(dict(BODY))
    assert record == {"uuid": UUID, "status": "PROCESSING"}
    assert len(httpserver.log) == 1


def test_redirect_is_not_followed_with_the_key(httpserver, monkeypatch):
    from pytest_httpserver import HTTPServer

    with HTTPServer(host="127.0.0.1") as elsewhere:
        elsewhere.expect_request("/api/features").respond_with_json(_record())
        httpserver.expect_request("/api/features").respond_with_response(
            Response(status=307, headers={"Location": elsewhere.url_for("/api/features")})
        )
        hook = _hook(monkeypatch, httpserver.url_for("").rstrip("/"))
        with pytest.raises(
            OneMinRequestRejectedError, match=r"redirect \(HTTP 307\) to http://127\.0\.0\.1:\d+"
        ):
            hook.run_feature(dict(BODY))
        assert len(elsewhere.log) == 0, "the key must not follow a redirect to another host"


# --- answers that break off: a raw socket server ---------------------------------------------


class RawServer:
    """Accepts connections on loopback and answers each with the next scripted raw bytes."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.requests = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests += 1
                conn.sendall(self.answers.pop(0))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator[type[RawServer]]:
    servers: list[RawServer] = []

    def start(answers: list[bytes]) -> RawServer:
        server = RawServer(answers)
        servers.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def _broken_200(body: bytes, announced: int) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (
            announced,
            body,
        )
    )


def test_answer_breaking_off_after_a_paid_post_is_an_unknown_outcome(raw_server, monkeypatch):
    """A 200 whose body stops before its Content-Length: requests raises ChunkedEncodingError."""
    server = raw_server([_broken_200(b'{"aiRec', 400)])
    hook = _hook(monkeypatch, server.url)
    with pytest.raises(OneMinUnknownOutcomeError, match=r"broke off .*ChunkedEncodingError.*NOT sent again"):
        hook.run_feature(dict(BODY))
    assert server.requests == 1


def test_answer_breaking_off_on_a_free_get_is_retried(raw_server, monkeypatch):
    good = json.dumps(_record("SUCCESS") | {}).encode()
    good_record = json.loads(good)
    good_record["aiRecord"]["aiRecordDetail"] = {"resultObject": ["development/images/r.png"]}
    good = json.dumps(good_record).encode()
    server = raw_server([_broken_200(b'{"aiRecord": {"uu', 300), _broken_200(good, len(good))])
    hook = _hook(monkeypatch, server.url)
    assert hook.get_result(UUID)["status"] == "SUCCESS"
    assert server.requests == 2


def test_truncated_json_naming_no_uuid_is_a_malformed_submission(raw_server, monkeypatch):
    server = raw_server([_broken_200(b'{"aiRec', 7)])
    hook = _hook(monkeypatch, server.url)
    with pytest.raises(OneMinMalformedSubmissionError, match=r"not valid JSON \(7 bytes, maybe truncated\)"):
        hook.run_feature(dict(BODY))
    assert server.requests == 1


# --- TLS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that no CA signed, and its key (PEM files)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


def test_untrusted_certificate_is_a_final_setup_error_and_ca_bundle_fixes_it(self_signed, monkeypatch):
    """The connection's ca_bundle wins even over REQUESTS_CA_BUNDLE (requests' env would override it)."""
    import ssl

    import requests

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())

    from pytest_httpserver import HTTPServer

    from airflow_provider_onemin.exceptions import OneMinConfigurationError

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    with HTTPServer(host="127.0.0.1", ssl_context=context) as tls:
        tls.expect_request("/api/features").respond_with_json(_record())
        url = tls.url_for("").rstrip("/")
        assert url.startswith("https://")
        with pytest.raises(OneMinConfigurationError, match=r"TLS verification failed .*ca_bundle"):
            _hook(monkeypatch, url).run_feature(dict(BODY))
        assert len(tls.log) == 0, "nothing reached the server"
        assert _hook(monkeypatch, url, ca_bundle=self_signed[0]).run_feature(dict(BODY))["uuid"] == UUID


@pytest.mark.parametrize(
    "body",
    [
        {"errorCode": "INSUFFICIENT_CREDITS", "message": "Not enough credits"},
        {"message": "Your credit balance could not be charged: billing error"},
    ],
)
@pytest.mark.parametrize("status", [500, 502, 504, 524])
def test_paid_post_answered_5xx_is_an_unknown_outcome_whatever_its_body_says(
    httpserver, monkeypatch, status, body
):
    """Failed before: a 5xx whose body spoke of credits was a final out-of-credits error, and the
    operator deleted the record, so clearing the task paid again for a generation that may run."""
    httpserver.expect_request("/api/features", method="POST").respond_with_json(body, status=status)
    hook = _hook(monkeypatch, httpserver.url_for("").rstrip("/"))
    with pytest.raises(OneMinUnknownOutcomeError, match=f"answered HTTP {status}"):
        hook.run_feature(dict(BODY))
    assert len(httpserver.log) == 1
