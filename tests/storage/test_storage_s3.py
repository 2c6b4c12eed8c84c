"""
Object storage against a real S3 API (moto's server on loopback, credentials and IAM policies
checked): the write check before paying, the cause of each failure for inputs and outputs,
content types, plain URIs, and nothing partial or temporary left in the bucket.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from werkzeug import Response

from airflow_provider_onemin.compat import storage_path_conn_id
from airflow_provider_onemin.exceptions import (
    OneMinConfigurationError,
    OneMinError,
    OneMinInputFileError,
    OneMinOutputLocationError,
    OneMinResultStorageError,
    OneMinStorageError,
)
from airflow_provider_onemin.hooks.onemin import OneMinHook
from airflow_provider_onemin.inputs.images import read_image
from airflow_provider_onemin.storage.results import (
    as_storage_path,
    check_output_writable,
    storage_conn_id,
    store_results,
    write_file_atomically,
)

PHOTOS = Path(__file__).resolve().parents[2] / "dags" / "sample_photos"
IDS = {"dag_id": "shop", "run_id": "manual__2026-04-15", "task_id": "replace"}


def _uri(user: str, bucket: str, key: str = "") -> str:
    return f"s3://onemin_s3_{user}@{bucket}/{key}"


@pytest.fixture
def hook(onemin_conn_env: str):
    hook = OneMinHook(onemin_conn_id="onemin_default")
    yield hook
    hook.close()


# --- the write check before paying ---------------------------------------------------------------


def test_write_check_passes_and_leaves_nothing_behind(s3_server, s3_bucket) -> None:
    base = check_output_writable(_uri("admin", s3_bucket, "out/today"))
    assert storage_path_conn_id(base) == "onemin_s3_admin"
    assert s3_server.keys(s3_bucket) == [], "the probe never becomes an object"
    assert s3_server.pending_uploads(s3_bucket) == [], "the probe's multipart upload was aborted"


@pytest.mark.parametrize(
    ("user", "bucket", "cause"),
    [
        ("admin", "onemin-no-such-bucket", "the bucket does not exist.*NoSuchBucket.*Create the bucket"),
        ("reader", None, "access denied.*AccessDenied.*'onemin_s3_reader'"),
        ("bad_key", None, "credentials were refused.*InvalidAccessKeyId.*Fix the credentials"),
    ],
)
def test_unwritable_output_is_refused_with_its_cause(s3_server, s3_bucket, user, bucket, cause) -> None:
    with pytest.raises(OneMinOutputLocationError, match=cause) as caught:
        check_output_writable(_uri(user, bucket or s3_bucket, "out"))
    assert caught.value.final, "no retry creates a bucket or grants a permission"
    assert "Nothing was uploaded or paid" in str(caught.value)
    assert caught.value.uri == f"s3://{bucket or s3_bucket}/out", "the plain URI, no connection id"
    assert s3_server.keys(s3_bucket) == [] and s3_server.pending_uploads(s3_bucket) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_store_is_retryable(monkeypatch) -> None:
    import json

    conn = {
        "conn_type": "aws",
        "login": "k",
        "password": "s",
        "extra": {
            "endpoint_url": f"http://127.0.0.1:{_closed_port()}",
            "region_name": "us-east-1",
            "config_kwargs": {"retries": {"max_attempts": 1}},
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_S3_UNREACHABLE", json.dumps(conn))
    with pytest.raises(OneMinStorageError, match="could not be reached") as caught:
        check_output_writable("s3://onemin_s3_unreachable@bucket/out")
    assert not caught.value.final, "a network error passes: Airflow's retries are worth it"
    with pytest.raises(OneMinStorageError, match="could not be reached") as caught:
        read_image("s3://onemin_s3_unreachable@bucket/mug.png", "promptObject.imageUrl")
    assert not caught.value.final and not isinstance(caught.value, OneMinInputFileError)


# --- what an S3-compatible store answers that moto cannot: throttling and 5xx --------------------


@pytest.fixture
def scripted_s3(httpserver, monkeypatch):
    """An S3 endpoint whose answers the test scripts (a real HTTP server on loopback)."""
    import json

    conn = {
        "conn_type": "aws",
        "login": "k",
        "password": "s",
        "extra": {
            "endpoint_url": httpserver.url_for("").rstrip("/"),
            "region_name": "us-east-1",
            "config_kwargs": {"retries": {"max_attempts": 1}},
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_S3_SCRIPTED", json.dumps(conn))
    return httpserver


def _s3_error(code: str, status: int) -> Response:
    body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{code} said</Message></Error>"
    return Response(body, status=status, content_type="application/xml")


@pytest.mark.parametrize(
    ("code", "status", "cause"), [("SlowDown", 503, "throttling"), ("InternalError", 500, "5xx")]
)
def test_throttled_or_failing_store_is_retryable(scripted_s3, code, status, cause) -> None:
    scripted_s3.expect_request("/bucket/out/mug.png").respond_with_response(_s3_error(code, status))
    scripted_s3.expect_request("/bucket/photos/mug.png").respond_with_response(_s3_error(code, status))
    with pytest.raises(OneMinStorageError, match=f"{cause}.*{code}") as caught:
        read_image("s3://onemin_s3_scripted@bucket/photos/mug.png", "promptObject.imageUrl")
    assert not caught.value.final and "Nothing was uploaded or paid" in str(caught.value)


# --- reading input images --------------------------------------------------------------------------


@pytest.fixture
def photo_bucket(s3_server, s3_bucket) -> str:
    s3_server.client().put_object(
        Bucket=s3_bucket, Key="photos/mug.png", Body=(PHOTOS / "mug.png").read_bytes()
    )
    s3_server.client().put_object(Bucket=s3_bucket, Key="photos/notes.txt", Body=b"not an image")
    return s3_bucket


def test_input_read_from_s3(photo_bucket) -> None:
    image = read_image(_uri("reader", photo_bucket, "photos/mug.png"), "promptObject.imageUrl")
    assert (image.filename, image.mime_type) == ("mug.png", "image/png")
    assert image.data == (PHOTOS / "mug.png").read_bytes()


@pytest.mark.parametrize(
    ("user", "key", "says"),
    [
        ("admin", "photos/missing.png", r"missing\.png does not exist"),
        (
            "lister",
            "photos/mug.png",
            r"mug\.png cannot be read: access denied.*AccessDenied.*onemin_s3_lister",
        ),
        (
            "bad_key",
            "photos/mug.png",
            r"mug\.png cannot be read: the credentials were refused.*InvalidAccessKeyId",
        ),
        ("admin", "photos/notes.txt", "not a JPEG, PNG or WebP image"),
    ],
)
def test_wrong_input_is_final_and_says_why(photo_bucket, user, key, says) -> None:
    with pytest.raises(OneMinInputFileError, match=says) as caught:
        read_image(_uri(user, photo_bucket, key), "promptObject.imageUrl")
    assert caught.value.final
    if user != "admin":
        assert f"{key} does not exist" not in str(caught.value), "a refused read is not a missing file"


def test_input_in_a_missing_bucket(s3_server) -> None:
    with pytest.raises(OneMinInputFileError, match="does not exist"):
        read_image(_uri("admin", "onemin-no-such-bucket", "mug.png"), "promptObject.imageUrl")


# --- storing results -------------------------------------------------------------------------------


def _asset_url(hook: OneMinHook, photo: str) -> str:
    """A real download of ``photo`` from the emulator (its asset URL), as a result would be."""
    data = (PHOTOS / photo).read_bytes()
    return f"{hook.asset_base_url}/{hook.upload_asset(data, photo)}"


def test_results_are_stored_with_their_content_type_and_plain_uris(hook, s3_server, s3_bucket) -> None:
    urls = [_asset_url(hook, photo) for photo in ("mug.png", "sneaker.jpg", "bottle.webp")]
    output = _uri("admin", s3_bucket, "out/")
    stored = store_results(hook, urls, output, **IDS, map_index=-1, uuid="u-1")
    assert stored == [
        f"s3://{s3_bucket}/out/shop/manual__2026-04-15/replace/result-{i}{ext}"
        for i, ext in enumerate((".png", ".jpg", ".webp"))
    ]
    assert [s3_server.content_type(uri) for uri in stored] == ["image/png", "image/jpeg", "image/webp"]
    assert s3_server.read(stored[1]) == (PHOTOS / "sneaker.jpg").read_bytes()
    assert storage_conn_id(output) == "onemin_s3_admin"
    # Downstream: the plain URI and the connection id, joined again.
    assert ObjectStoragePath(stored[0], conn_id=storage_conn_id(output)).read_bytes().startswith(b"\x89PNG")
    assert s3_server.keys(s3_bucket) == sorted(u.split("/", 3)[3] for u in stored), "no temporary object"


def test_manifest_is_text_csv(s3_server, s3_bucket) -> None:
    target = as_storage_path(_uri("admin", s3_bucket, "out")) / "manifest.csv"
    write_file_atomically(target, b"sku,stored_path\n")
    assert s3_server.content_type(f"s3://{s3_bucket}/out/manifest.csv").startswith("text/csv")


def test_refused_store_after_paying_is_retryable_and_leaves_nothing(hook, s3_server, s3_bucket) -> None:
    output = _uri("probe_only", s3_bucket, "out")
    check_output_writable(output)  # the probe keys may be written...
    with pytest.raises(OneMinResultStorageError) as caught:  # ...the results may not
        store_results(hook, [_asset_url(hook, "mug.png")], output, **IDS, map_index=-1, uuid="u-7")
    message = str(caught.value)
    assert "Generation u-7 is paid for" in message and "access denied" in message
    assert "A retry of this task instance resumes that generation" in message
    assert not caught.value.final, "retryable: the retry stores again for free"
    assert s3_server.keys(s3_bucket) == [] and s3_server.pending_uploads(s3_bucket) == []


def test_failed_download_leaves_nothing_in_the_bucket(hook, onemin_emulator, s3_server, s3_bucket) -> None:
    url = _asset_url(hook, "mug.png")
    onemin_emulator.add_fault("status", count=50, endpoint="download", code=503)
    with pytest.raises(OneMinError, match="503"):
        store_results(hook, [url], _uri("admin", s3_bucket, "out"), **IDS, map_index=-1)
    assert s3_server.keys(s3_bucket) == [] and s3_server.pending_uploads(s3_bucket) == []


# --- the s3 stack: "install the extra" only when it is really missing ------------------------------


def _fake_distribution(folder: Path, name: str, version: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_too_old_s3fs_is_named_not_blamed_on_a_missing_extra(tmp_path, monkeypatch) -> None:
    """What pip installs beside a recent botocore without a floor: s3fs 0.4.2 (found first on sys.path)."""
    _fake_distribution(tmp_path, "s3fs", "0.4.2")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        OneMinConfigurationError, match=r"s3fs 0\.4\.2 is installed.*s3fs>=2024\.5\.0"
    ) as caught:
        as_storage_path("s3://bucket/out")
    assert "not installed" not in str(caught.value)


def test_missing_extra_says_to_install_it(monkeypatch) -> None:
    """The test venv has the extra, so its absence is staged at the one lookup that reports it."""
    from airflow_provider_onemin.storage import location as storage_location

    real = storage_location._installed_version
    monkeypatch.setattr(
        storage_location,
        "_installed_version",
        lambda name: None if name == "apache-airflow-providers-amazon" else real(name),
    )
    with pytest.raises(OneMinConfigurationError, match=r"the amazon provider is not installed.*\[s3\]"):
        as_storage_path("s3://bucket/out")


def test_floor_in_code_matches_the_extra() -> None:
    import tomllib

    from airflow_provider_onemin.storage.location import S3FS_FLOOR

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert f"s3fs>={S3FS_FLOOR}" in pyproject["project"]["optional-dependencies"]["s3"]


# --- the reuse index: doubt is not "no earlier generation" -------------------------------------------

_KEY = "ab" * 32


def _index_record() -> str:
    import hashlib
    import json

    data = (PHOTOS / "mug.png").read_bytes()
    return json.dumps(
        {
            "format": "onemin-reuse/1",
            "key": _KEY,
            "request": {"promptObject": {"num_images": 1}},
            "uuid": "u-1",
            "results": ["development/images/r-0.png"],
            "files": [{"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}],
            "copies": [{"paths": ["d/r/t/result-0.png"]}],
        }
    )


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("InternalError", 500)])
@pytest.mark.parametrize("what", ["the record", "a stored file"])
def test_a_store_failing_during_a_reuse_lookup_is_retryable_before_paying(
    scripted_s3, code, status, what
) -> None:
    """
    Failed before the fix: the lookup counted a throttled or failing read as "no earlier
    generation", so the task paid (and the plan's preview said "reused" for the same line).
    """
    from airflow_provider_onemin.reuse.index import find_reusable

    record_path = f"/bucket/out/.onemin-reuse/{_KEY}.json"
    if what == "the record":
        scripted_s3.expect_request(record_path).respond_with_response(_s3_error(code, status))
    else:
        scripted_s3.expect_request(record_path).respond_with_data(_index_record())
        scripted_s3.expect_request("/bucket/out/d/r/t/result-0.png").respond_with_response(
            _s3_error(code, status)
        )
    output = "s3://onemin_s3_scripted@bucket/out"
    with pytest.raises(OneMinStorageError, match="reuse index could not be checked") as caught:
        find_reusable(output, _KEY)
    assert not caught.value.final, "it passes by itself: Airflow's retries try again"
    assert "Nothing was uploaded or paid" in str(caught.value)
    assert code in str(caught.value), "the store's own code, as for an input read"
    assert "onemin_s3_scripted@" not in str(caught.value), "the plain URI, no connection id"


def test_no_record_is_a_new_request(scripted_s3) -> None:
    from airflow_provider_onemin.reuse.index import find_reusable

    scripted_s3.expect_request(f"/bucket/out/.onemin-reuse/{_KEY}.json").respond_with_response(
        _s3_error("NoSuchKey", 404)
    )
    assert find_reusable("s3://onemin_s3_scripted@bucket/out", _KEY) is None


def test_the_preview_fails_as_the_run_would_on_a_throttled_index(scripted_s3) -> None:
    """Failed before the fix: the preview counted the line as new while the store was throttling."""
    import re

    from airflow_provider_onemin.reuse.policy import preview

    scripted_s3.expect_request(re.compile(r"/bucket/out/\.onemin-reuse/.*")).respond_with_response(
        _s3_error("SlowDown", 503)
    )
    request = {"prompt": "a shelf", "image_url": "development/images/mug.png", "num_images": 1}
    with pytest.raises(OneMinStorageError, match="reuse index could not be checked") as caught:
        preview("s3://onemin_s3_scripted@bucket/out", [request])
    assert not caught.value.final


def test_what_the_lookup_error_says_works_a_retry_once_the_store_recovers(scripted_s3) -> None:
    """The error says "Airflow's retries try again": once the store answers, the same lookup goes on."""
    from airflow_provider_onemin.reuse.index import find_reusable

    store = {"throttling": True}

    def answer(request):
        if store["throttling"]:
            return _s3_error("SlowDown", 503)
        return _s3_error("NoSuchKey", 404)

    scripted_s3.expect_request(f"/bucket/out/.onemin-reuse/{_KEY}.json").respond_with_handler(answer)
    with pytest.raises(OneMinStorageError, match="Airflow's retries try again"):
        find_reusable("s3://onemin_s3_scripted@bucket/out", _KEY)
    store["throttling"] = False
    assert find_reusable("s3://onemin_s3_scripted@bucket/out", _KEY) is None, "the retry looks it up"
