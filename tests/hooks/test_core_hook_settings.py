"""OneMinHook basics: connection parsing, one session, headers, timeouts, uploads, feature calls."""

from __future__ import annotations

import json

import pytest
from werkzeug import Request, Response

from airflow_provider_onemin import __version__
from airflow_provider_onemin.exceptions import OneMinConfigurationError
from airflow_provider_onemin.hooks.client_settings import (
    DEFAULT_ASSET_BASE_URL,
    DEFAULT_BASE_URL,
    OneMinClientSettings,
    parse_base_url,
)
from airflow_provider_onemin.hooks.onemin import OneMinHook

KEY = "unit-test-key-4242"


def _set_conn(monkeypatch, conn_id: str = "onemin_default", **conn) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "onemin", **conn}))


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080"),
        ("https://proxy.example/onemin/", None, "https://proxy.example/onemin"),
        ("api.example.com", None, "https://api.example.com"),
        ("api.example.com", 8443, "https://api.example.com:8443"),
        ("", None, DEFAULT_BASE_URL),
        (None, None, DEFAULT_BASE_URL),
    ],
)
def test_base_url_forms(host, port, expected):
    assert parse_base_url(host, port, "c") == expected


@pytest.mark.parametrize("host", ["ftp://files.example", "file:///etc/passwd", "http://"])
def test_base_url_must_be_http(host):
    with pytest.raises(OneMinConfigurationError, match="'c'"):
        parse_base_url(host, None, "c")


def test_no_host_means_public_api_and_asset_host(monkeypatch):
    _set_conn(monkeypatch, password=KEY)
    hook = OneMinHook()
    assert hook.base_url == "https://api.1min.ai"
    assert hook.asset_base_url == DEFAULT_ASSET_BASE_URL


def test_missing_api_key_names_the_connection(monkeypatch):
    _set_conn(monkeypatch, "onemin_nokey", host="http://127.0.0.1:1")
    hook = OneMinHook(onemin_conn_id="onemin_nokey")
    with pytest.raises(OneMinConfigurationError, match="onemin_nokey.*password"):
        hook.run_feature({"type": "BACKGROUND_REPLACER"})


def test_settings_defaults_are_sized_for_slow_image_models():
    settings, ignored = OneMinClientSettings.from_extra({}, "c")
    assert settings.read_timeout >= 120
    assert settings.connect_timeout <= 30
    assert settings.retry_unknown_outcome is False
    assert ignored == []


def test_settings_from_extra_and_unknown_extras_ignored(monkeypatch):
    extra = {
        "read_timeout": "90",
        "connect_timeout": 3,
        "proxy": "http://proxy.internal:3128",
        "ca_bundle": "/etc/ssl/certs/ca.pem",
        "max_attempts": 2,
        "retry_unknown_outcome": "true",
        "X-Injected-Header": "evil",
    }
    _set_conn(monkeypatch, host="http://127.0.0.1:9", password=KEY, extra=extra)
    hook = OneMinHook()
    assert hook.timeout == (3.0, 90.0)
    assert hook.settings.retry_unknown_outcome is True
    session = hook.get_conn()
    assert session.proxies == {"http": "http://proxy.internal:3128", "https": "http://proxy.internal:3128"}
    assert session.verify == "/etc/ssl/certs/ca.pem"
    assert "X-Injected-Header" not in session.headers


def test_invalid_extra_value_is_a_clear_error(monkeypatch):
    _set_conn(monkeypatch, host="http://127.0.0.1:9", password=KEY, extra={"read_timeout": "soon"})
    with pytest.raises(OneMinConfigurationError, match="read_timeout"):
        OneMinHook().settings  # noqa: B018


def test_one_session_per_hook_instance(monkeypatch):
    _set_conn(monkeypatch, host="http://127.0.0.1:9", password=KEY)
    hook = OneMinHook()
    assert hook.get_conn() is hook.get_conn() is hook.session
    assert OneMinHook().get_conn() is not hook.get_conn()


@pytest.fixture
def conn_to(httpserver, monkeypatch):
    _set_conn(
        monkeypatch,
        host=httpserver.url_for("/").rstrip("/"),
        password=KEY,
        extra={"backoff_initial": 0.01, "max_retry_wait": 1, "X-Not-A-Header": "1"},
    )
    return httpserver


def test_run_feature_headers_and_body(conn_to):
    seen: list[Request] = []
    record = {"uuid": "u-1", "status": "SUCCESS", "aiRecordDetail": {"resultObject": ["k/r.png"]}}

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(json.dumps({"aiRecord": record}), content_type="application/json")

    conn_to.expect_request("/api/features", method="POST").respond_with_handler(handler)
    body = {"type": "BACKGROUND_REPLACER", "model": "ideogram-3", "promptObject": {"prompt": "p"}}
    assert OneMinHook().run_feature(body) == record
    (request,) = seen
    assert request.headers["API-KEY"] == KEY
    assert request.headers["User-Agent"].startswith(f"airflow-provider-onemin/{__version__}")
    assert request.headers["Content-Type"] == "application/json"
    assert "X-Not-A-Header" not in request.headers
    assert json.loads(request.data) == body


def test_upload_asset_sends_multipart_field_asset(conn_to, tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    source = tmp_path / "mug.png"
    source.write_bytes(png)
    uploads: list[tuple[str, bytes, str]] = []

    def handler(request: Request) -> Response:
        upload = request.files["asset"]
        uploads.append((upload.filename, upload.read(), upload.mimetype))
        key = f"development/images/{upload.filename}"
        return Response(
            json.dumps({"asset": {"key": key}, "fileContent": {"path": key}}), content_type="application/json"
        )

    conn_to.expect_request("/api/assets", method="POST", headers={"API-KEY": KEY}).respond_with_handler(
        handler
    )
    hook = OneMinHook()
    assert hook.upload_asset(str(source)) == "development/images/mug.png"
    assert hook.upload_asset(png, "other.png", content_type="image/png") == "development/images/other.png"
    assert uploads == [("mug.png", png, "image/png"), ("other.png", png, "image/png")]


def test_download_urls_prefer_temporary_url_then_asset_host_then_upstream(conn_to):
    hook = OneMinHook()
    record = {
        "temporaryUrl": "https://signed.example/r0.png?sig=1",
        "aiRecordDetail": {
            "resultObject": ["development/images/r0.png", "development/images/r1.png"],
            "responseObject": {
                "data": [{"url": "https://up/0"}, {"url": "https://up/1"}, {"url": "https://up/2"}]
            },
        },
    }
    assert hook.result_download_urls(record) == [
        "https://signed.example/r0.png?sig=1",
        f"{hook.base_url}/asset/development/images/r1.png",
        "https://up/2",
    ]


def test_api_key_is_not_sent_to_other_hosts(conn_to, tmp_path):
    """A result URL on another host (a signed URL, the asset CDN) never receives the API key."""
    from pytest_httpserver import HTTPServer

    other = HTTPServer(host="127.0.0.1", port=0)
    other.start()
    try:
        got: list[Request] = []

        def handler(request: Request) -> Response:
            got.append(request)
            return Response(b"\x89PNG\r\n\x1a\nDATA", content_type="image/png")

        other.expect_request("/r.png").respond_with_handler(handler)
        with open(tmp_path / "r.png", "wb") as out:
            size = OneMinHook().download(other.url_for("/r.png").replace("localhost", "127.0.0.1"), out)
        assert size == 12
        assert "API-KEY" not in got[0].headers
    finally:
        other.clear()
        other.stop()


def test_repr_has_no_secret(conn_to):
    hook = OneMinHook()
    hook.session  # noqa: B018
    assert KEY not in repr(hook)
    assert KEY not in repr(vars(hook))


def test_gzip_encoded_download_is_not_mistaken_for_a_truncated_one(conn_to, tmp_path):
    """requests decompresses gzip, so the byte count differs from Content-Length; that is fine."""
    import gzip

    payload = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
    compressed = gzip.compress(payload)
    conn_to.expect_request("/asset/r.png").respond_with_response(
        Response(compressed, headers={"Content-Encoding": "gzip", "Content-Type": "image/png"})
    )
    hook = OneMinHook()
    with open(tmp_path / "r.png", "wb") as out:
        size = hook.download(f"{hook.base_url}/asset/r.png", out)
    assert size == len(payload) != len(compressed)
    assert (tmp_path / "r.png").read_bytes() == payload


def test_generation_failure_names_the_reason_from_the_response_object(onemin_conn_env, onemin_emulator):
    """A FAILURE record's reason (the emulator puts it in responseObject.error) reaches the error."""
    from airflow_provider_onemin.exceptions import OneMinGenerationFailedError

    onemin_emulator.add_fault("failure", message="the subject could not be segmented")
    body = {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": {"prompt": "a beach", "imageUrl": "development/images/mug.png", "num_images": 1},
    }
    with pytest.raises(OneMinGenerationFailedError, match="could not be segmented"):
        OneMinHook().run_feature(body)
    assert onemin_emulator.charges() == 0


@pytest.mark.parametrize(
    "answer_links",
    [
        {"record": ["https://signed.example/r0.png?sig=1", "https://signed.example/r1.png?sig=2"]},
        {"top": ["https://signed.example/r0.png?sig=1", "https://signed.example/r1.png?sig=2"]},
        {"top": "https://signed.example/r0.png?sig=1"},
    ],
    ids=["list in aiRecord", "list at the top level", "string at the top level"],
)
def test_temporary_urls_are_read_as_the_answer_schema_allows(httpserver, monkeypatch, answer_links):
    """Failed before: a list was refused by the answer schema, a top-level link was dropped."""
    record = {
        "uuid": "u-links",
        "status": "SUCCESS",
        "aiRecordDetail": {"resultObject": ["development/images/r0.png", "development/images/r1.png"]},
    }
    answer: dict = {"aiRecord": record}
    if "record" in answer_links:
        record["temporaryUrl"] = answer_links["record"]
    else:
        answer["temporaryUrl"] = answer_links["top"]
    httpserver.expect_request("/api/results/u-links").respond_with_json(answer)
    conn = {
        "conn_type": "onemin",
        "host": httpserver.url_for("").rstrip("/"),
        "password": KEY,
        "extra": {"max_attempts": 1},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_DEFAULT", json.dumps(conn))
    hook = OneMinHook()
    urls = hook.result_download_urls(hook.get_result("u-links"))
    assert urls[0] == "https://signed.example/r0.png?sig=1"
    expected_second = (
        "https://signed.example/r1.png?sig=2"
        if isinstance(answer_links.get("record", answer_links.get("top")), list)
        else f"{hook.asset_base_url}/development/images/r1.png"
    )
    assert urls[1] == expected_second
