"""
Paid-call safety at the edges: the key stays out of errors, reprs and redirects; the base URL is
http(s) only; local inputs are size-checked while reading; result keys cannot write outside the
output folder.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import time
import tracemalloc
from pathlib import Path

import pytest
from werkzeug import Request, Response

from airflow_provider_onemin.exceptions import (
    OneMinAuthenticationError,
    OneMinConfigurationError,
    OneMinInputFileError,
)
from airflow_provider_onemin.hooks.client_settings import parse_base_url
from airflow_provider_onemin.hooks.onemin import OneMinHook
from airflow_provider_onemin.inputs.images import MAX_IMAGE_BYTES, read_image
from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator
from airflow_provider_onemin.storage.results import store_results

KEY = "sk-SEC-7d4e1f0a9b2c3d4e5f60718293a4b5c6"
BODY = {
    "type": "BACKGROUND_REPLACER",
    "model": "ideogram-3",
    "async": True,
    "promptObject": {"prompt": "a beach", "imageUrl": "development/images/mug.png", "num_images": 1},
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 256


@pytest.fixture
def scripted(httpserver, monkeypatch):
    conn = {
        "conn_type": "onemin",
        "host": httpserver.url_for("").rstrip("/"),
        "password": KEY,
        "extra": {"backoff_initial": 0.01, "max_retry_wait": 1},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    return httpserver


# --- the key -----------------------------------------------------------------------------------


def test_answer_echoing_the_key_is_redacted_from_the_error(scripted):
    """Some APIs echo the key they refused; the error (message, attributes, pickle) must not."""
    scripted.expect_request("/api/features").respond_with_json(
        {
            "errorCode": "UNAUTHORIZED",
            "message": f"Invalid API key {KEY}",
            "details": json.dumps({"key": KEY}),
        },
        status=401,
    )
    with pytest.raises(OneMinAuthenticationError) as caught:
        OneMinHook().run_feature(dict(BODY))
    error = caught.value
    assert "Invalid API key ***" in str(error)
    for text in (str(error), repr(error), repr(vars(error)), pickle.dumps(error).decode("latin-1")):
        assert KEY not in text


def test_key_is_masked_in_airflow_logs_once_used(scripted):
    from airflow.sdk.log import redact

    scripted.expect_request("/api/results/x").respond_with_json({"aiRecord": None})
    hook = OneMinHook()
    hook.get_result("x")
    assert KEY not in str(redact(f"some text with {KEY} in it"))


def test_key_is_in_no_repr_vars_or_session_header(scripted):
    scripted.expect_request("/api/results/x").respond_with_json({"aiRecord": None})
    hook = OneMinHook()
    hook.get_result("x")
    assert scripted.log[0][0].headers["API-KEY"] == KEY, "the key travels in the header of each call"
    for text in (repr(hook), repr(vars(hook)), repr(hook.session.headers), repr(hook.settings)):
        assert KEY not in text
    op = BackgroundReplacerOperator(task_id="t", prompt="a beach", image_url="development/images/mug.png")
    op.hook.get_result("x")
    assert KEY not in repr(op) and KEY not in repr(vars(op))
    assert all(KEY not in repr(getattr(op, name)) for name in op.template_fields)


def test_connection_test_does_not_follow_redirects_with_the_key(scripted):
    from pytest_httpserver import HTTPServer

    with HTTPServer(host="127.0.0.1") as elsewhere:
        scripted.expect_request("/api/results/00000000-0000-0000-0000-000000000000").respond_with_response(
            Response(status=302, headers={"Location": elsewhere.url_for("/steal")})
        )
        ok, message = OneMinHook().test_connection()
    assert not ok and "redirect" in message
    assert len(elsewhere.log) == 0


@pytest.mark.parametrize(
    "host",
    ["ftp://api.example", "file:///etc/passwd", "javascript:alert(1)", "gopher://x", "ws://api.example"],
)
def test_base_url_must_be_http_or_https(host):
    with pytest.raises(OneMinConfigurationError, match="must be an http"):
        parse_base_url(host, None, "c")


def test_base_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(OneMinConfigurationError) as caught:
        parse_base_url(f"https://user:{KEY}@api.1min.ai", None, "c")
    assert KEY not in str(caught.value)
    assert "password field" in str(caught.value)


# --- local inputs ------------------------------------------------------------------------------


def test_2_gb_sparse_file_is_refused_without_being_read(tmp_path, scripted):
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as handle:
        handle.write(PNG)
    os.truncate(huge, 2 * 1024**3)  # like `truncate -s 2G`: sparse, no disk used
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(OneMinInputFileError, match=r"is 2147483648 bytes, over the limit of 10485760"):
            read_image(str(huge), "promptObject.imageUrl")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, f"read {peak} bytes into memory"
    assert time.monotonic() - started < 2

    op = BackgroundReplacerOperator(task_id="t", prompt="a beach", image_url=str(huge))
    with pytest.raises(OneMinInputFileError, match="huge.png is 2147483648 bytes"):
        op._with_uploaded_images(op.validate_request())
    assert len(scripted.log) == 0, "nothing may be uploaded"


def test_size_is_checked_while_reading_when_the_reported_size_is_wrong(tmp_path, monkeypatch):
    """
    The filesystem says 1 KiB, the file holds 12 MiB: only the count while reading can stop it.

    A size that lies (a file growing while read, some object stores and /proc files) cannot be
    staged deterministically with a real file, so ``stat`` is the one thing replaced here.
    """
    from types import SimpleNamespace

    from airflow.sdk import ObjectStoragePath

    big = tmp_path / "grows.png"
    big.write_bytes(PNG + b"\0" * (12 * 1024 * 1024))
    monkeypatch.setattr(ObjectStoragePath, "stat", lambda self, **kw: SimpleNamespace(st_size=1024))
    tracemalloc.start()
    try:
        with pytest.raises(
            OneMinInputFileError, match=f"grows.png is over the limit of {MAX_IMAGE_BYTES} bytes"
        ):
            read_image(str(big), "promptObject.imageUrl")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_IMAGE_BYTES + 4 * 1024 * 1024, "reading stops right after the limit"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_unreadable_special_file_is_a_classified_input_error():
    with pytest.raises(OneMinInputFileError, match="/proc/self/status cannot be read"):
        read_image("/proc/self/status", "promptObject.imageUrl")


# --- result keys cannot escape the output folder ------------------------------------------------


MALICIOUS_KEYS = [
    "../../../../escape.png",
    "/etc/cron.d/evil.png",
    "..\\..\\windows.png",
    "development/../../../up.png",
    "%2e%2e/%2e%2e/encoded.png",
]


def test_malicious_result_keys_cannot_write_outside_the_output_folder(scripted, tmp_path):
    def any_png(request: Request) -> Response:
        return Response(PNG, content_type="image/png")

    scripted.expect_request(re.compile(".*")).respond_with_handler(any_png)
    hook = OneMinHook()
    record = {
        "uuid": "u",
        "status": "SUCCESS",
        "aiRecordDetail": {
            "resultObject": MALICIOUS_KEYS,
            "responseObject": {"data": [{"url": f"../../{i}.png"} for i in range(len(MALICIOUS_KEYS))]},
        },
    }
    out = tmp_path / "nested" / "out"
    out.mkdir(parents=True)
    stored = store_results(
        hook,
        hook.result_download_urls(record),
        str(out),
        dag_id="../../dag",
        run_id="../run/..",
        task_id="..",
        map_index=-1,
    )
    assert len(stored) == len(MALICIOUS_KEYS)
    root = out.resolve()
    for uri in stored:
        path = Path(uri.removeprefix("file://")).resolve()
        assert path.is_relative_to(root), uri
        assert path.read_bytes() == PNG
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == len(MALICIOUS_KEYS)
    assert all(p.resolve().is_relative_to(root) for p in written)
    assert {p.name for p in written} == {f"result-{i}.png" for i in range(len(MALICIOUS_KEYS))}
