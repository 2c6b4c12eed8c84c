"""Every fault knob: what a ``requests`` client observes, and what the charge counter says."""

from __future__ import annotations

import email.utils
import json
import time
from typing import TYPE_CHECKING

import pytest
import requests
from emulator_helpers import feature_body

from airflow_provider_onemin.emulator.state import Fault

if TYPE_CHECKING:
    from airflow_provider_onemin.emulator.server import EmulatorServer


def _post(
    emu: EmulatorServer, api: requests.Session, timeout: float = 10, **fields: object
) -> requests.Response:
    return api.post(f"{emu.url}/api/features", json=feature_body(**fields), timeout=timeout)


@pytest.mark.parametrize("code", [500, 502, 503, 504, 522, 524])
def test_5xx_answers_a_proxy_page(emu: EmulatorServer, api: requests.Session, code: int) -> None:
    emu.add_fault("status", code=code)
    answer = _post(emu, api)
    assert answer.status_code == code
    assert answer.headers["content-type"].startswith("text/html")
    assert f"<title>api.1min.ai | {code}: " in answer.text
    assert "retry-after" not in answer.headers
    assert emu.charges() == 0 and emu.records == []
    assert _post(emu, api).status_code == 200  # used up


def test_429_with_retry_after_seconds_and_date(emu: EmulatorServer, api: requests.Session) -> None:
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    emu.add_fault("status", code=429, retry_after=2)
    emu.add_fault("status", code=429, retry_after=date)
    first, second = _post(emu, api), _post(emu, api)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert (second.status_code, second.headers["Retry-After"]) == (429, date)
    assert first.json()["errorCode"] == "RATE_LIMIT_EXCEEDED"
    assert emu.charges() == 0


def test_count_and_endpoint_scope(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("status", count=2, endpoint="results", code=503)
    assert _post(emu, api).status_code == 200  # features untouched
    results = f"{emu.url}/api/results/{emu.records[0].uuid}"
    assert [api.get(results, timeout=10).status_code for _ in range(3)] == [503, 503, 200]
    assert emu.faults == []


def test_any_endpoint_applies_to_downloads(emu: EmulatorServer, api: requests.Session) -> None:
    url = _post(emu, api).json()["aiRecord"]["temporaryUrl"]
    emu.add_fault("status", endpoint="any", code=502)
    assert requests.get(url, timeout=10).status_code == 502
    emu.add_fault("status", endpoint="download", code=504)
    assert api.get(f"{emu.url}/api/results/x", timeout=10).status_code == 200  # not a download
    assert requests.get(url, timeout=10).status_code == 504
    assert requests.get(url, timeout=10).status_code == 200


def test_reset_before_charge(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("reset_before_charge")
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        _post(emu, api)
    assert getattr(caught.value, "response", None) is None
    assert emu.charges() == 0 and emu.records == []
    assert _post(emu, api).status_code == 200  # the same session recovers


@pytest.mark.parametrize("is_async", [False, True])
def test_reset_after_charge(emu: EmulatorServer, api: requests.Session, is_async: bool) -> None:
    emu.add_fault("reset_after_charge")
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        _post(emu, api, async_=is_async)
    assert getattr(caught.value, "response", None) is None
    assert emu.charges() == 1
    (record,) = emu.records
    assert record.charged and record.status == "SUCCESS"  # the generation went on


def test_reset_on_upload_and_download(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("reset_after_charge", endpoint="assets")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(f"{emu.url}/api/assets", files={"asset": ("a.png", b"x", "image/png")}, timeout=10)
    assert emu.snapshot()["assets"] == 1
    url = _post(emu, api).json()["aiRecord"]["temporaryUrl"]
    emu.add_fault("reset_before_charge", endpoint="download")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=10)


def test_truncated_json(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("truncated_json")
    answer = _post(emu, api)
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)
    assert answer.text.startswith('{"aiRecord":')
    assert emu.charges() == 1
    emu.add_fault("truncated_json", endpoint="results")
    polled = api.get(f"{emu.url}/api/results/{emu.records[0].uuid}", timeout=10)
    assert polled.status_code == 200 and polled.text.startswith('{"aiRecord":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(polled.text)


def test_truncated_download(emu: EmulatorServer, api: requests.Session) -> None:
    url = _post(emu, api).json()["aiRecord"]["temporaryUrl"]
    whole = requests.get(url, timeout=10).content
    emu.add_fault("truncated_json", endpoint="download")
    cut = requests.get(url, timeout=10)
    assert cut.status_code == 200 and cut.content == whole[: len(whole) // 2]


def test_failure_sync_is_not_charged(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("failure", message="model crashed")
    answer = _post(emu, api)
    assert answer.status_code == 200
    record = answer.json()["aiRecord"]
    assert record["status"] == "FAILURE"
    assert record["aiRecordDetail"]["resultObject"] == []
    assert record["aiRecordDetail"]["responseObject"]["error"] == "model crashed"
    assert "temporaryUrl" not in record
    assert emu.charges() == 0


def test_failure_async_shows_after_the_latency(emu: EmulatorServer, api: requests.Session) -> None:
    emu.set_latency(0.2)
    emu.add_fault("failure")
    record = _post(emu, api, async_=True).json()["aiRecord"]
    assert record["status"] == "PROCESSING"
    url = f"{emu.url}/api/results/{record['uuid']}"
    assert api.get(url, timeout=10).json()["aiRecord"]["status"] == "PROCESSING"
    time.sleep(0.25)
    assert api.get(url, timeout=10).json()["aiRecord"]["status"] == "FAILURE"
    assert emu.charges() == 0


def test_failure_on_results_fails_and_refunds_the_generation(
    emu: EmulatorServer, api: requests.Session
) -> None:
    emu.set_latency(5)
    record = _post(emu, api, async_=True).json()["aiRecord"]
    assert emu.charges() == 1
    emu.add_fault("failure", endpoint="results")
    polled = api.get(f"{emu.url}/api/results/{record['uuid']}", timeout=10).json()["aiRecord"]
    assert polled["status"] == "FAILURE"
    assert emu.charges() == 0


def test_unsafe(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("unsafe")
    answer = _post(emu, api)
    assert answer.status_code == 422
    assert answer.json()["errorCode"] == "CONTENT_POLICY_VIOLATION"
    assert "safety" in answer.json()["message"]
    assert emu.charges() == 0


@pytest.mark.parametrize(("params", "status"), [({}, 429), ({"status": 402}, 402)])
def test_out_of_credits(
    emu: EmulatorServer, api: requests.Session, params: dict[str, int], status: int
) -> None:
    emu.add_fault("out_of_credits", **params)
    answer = _post(emu, api)
    assert answer.status_code == status
    assert answer.json() == {
        "success": False,
        "error": {"code": "INSUFFICIENT_CREDITS", "message": "Not enough credits"},
    }
    assert emu.charges() == 0


@pytest.mark.parametrize(
    "code",
    ["UNSUPPORTED_MODEL", "MISSING_REQUIRED_FIELDS", "EXTERNAL_API_RESPONSE_WITH_ERROR", "UNKNOWN_ERROR"],
)
def test_bad_request(emu: EmulatorServer, api: requests.Session, code: str) -> None:
    emu.add_fault("bad_request", error_code=code)
    answer = _post(emu, api)
    assert answer.status_code == 400
    body = answer.json()
    assert body["errorCode"] == code and body["message"]
    assert isinstance(json.loads(body["details"]), dict)
    assert body["context"]["feature"] == "BACKGROUND_REPLACER"
    assert emu.charges() == 0


def test_null_record(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("null_record")
    answer = _post(emu, api)
    assert (answer.status_code, answer.json()) == (200, {"aiRecord": None})
    assert emu.charges() == 0
    record_uuid = _post(emu, api).json()["aiRecord"]["uuid"]
    emu.add_fault("null_record", endpoint="results")
    assert api.get(f"{emu.url}/api/results/{record_uuid}", timeout=10).json() == {"aiRecord": None}
    assert (
        api.get(f"{emu.url}/api/results/{record_uuid}", timeout=10).json()["aiRecord"]["uuid"] == record_uuid
    )


def test_delay_answers_late(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("delay", seconds=0.3)
    started = time.monotonic()
    assert _post(emu, api).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert emu.charges() == 1


def test_delay_read_timeout_before_acceptance_is_not_charged(
    emu: EmulatorServer, api: requests.Session
) -> None:
    emu.add_fault("delay", seconds=0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _post(emu, api, timeout=0.1)
    time.sleep(0.4)
    assert emu.charges() == 0 and emu.records == []


def test_delay_charge_first_read_timeout_is_charged(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("delay", seconds=0.5, charge_first=True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _post(emu, api, timeout=0.15)
    assert emu.charges() == 1
    assert emu.records[0].status == "SUCCESS"


def test_delay_on_results(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("delay", endpoint="results", seconds=0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(f"{emu.url}/api/results/x", timeout=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"kind": "status", "endpoint": "nowhere"}, "unknown fault endpoint"),
        ({"kind": "failure", "endpoint": "assets"}, "cannot apply"),
        ({"kind": "status", "count": 0}, "positive integer"),
        ({"kind": "status", "params": {"code": 302}}, "400..599"),
        ({"kind": "bad_request", "params": {"error_code": "NOPE"}}, "error_code"),
        ({"kind": "delay", "params": {"seconds": -1}}, "seconds"),
        ({"kind": "unsafe", "params": {"code": 1}}, "takes no parameter"),
    ],
)
def test_invalid_faults_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fault(**kwargs)  # type: ignore[arg-type]


def test_faults_apply_in_order(emu: EmulatorServer, api: requests.Session) -> None:
    emu.add_fault("status", code=500)
    emu.add_fault("unsafe", endpoint="any")
    emu.add_fault("status", code=503)
    assert [_post(emu, api).status_code for _ in range(4)] == [500, 422, 503, 200]


def test_billing_model_decides_whether_a_status_answer_was_charged(emu, api):
    """Explicit per fault, else the configurable set of statuses that charge before answering."""
    body = {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "async": True,
        "promptObject": {"prompt": "a beach", "imageUrl": "development/images/mug.png", "num_images": 1},
    }
    emu.add_fault("status", code=503)
    assert api.post(f"{emu.url}/api/features", json=body).status_code == 503
    assert emu.charges() == 0, "by default a status answer means nothing was started"
    emu.add_fault("status", code=503, charged=True)
    assert api.post(f"{emu.url}/api/features", json=body).status_code == 503
    assert emu.charges() == 1
    emu.set_charged_statuses([500])
    emu.add_fault("status", code=500)
    emu.add_fault("status", code=500, charged=False)
    assert api.post(f"{emu.url}/api/features", json=body).status_code == 500
    assert api.post(f"{emu.url}/api/features", json=body).status_code == 500
    assert emu.charges() == 2
    assert emu.state.snapshot()["config"]["charged_statuses"] == [500]


def test_echo_key_repeats_the_sent_key_in_errors_and_records(emu, api):
    emu.set_echo_key(True)
    sent = api.headers["API-KEY"]
    emu.add_fault("bad_request", endpoint="results")
    assert sent in api.get(f"{emu.url}/api/results/x").json()["message"]
    assert api.get(f"{emu.url}/api/results/00000000-0000-0000-0000-000000000000").json() == {"aiRecord": None}


def test_expired_link_kills_the_signed_link_until_the_next_poll(
    emu: EmulatorServer, api: requests.Session
) -> None:
    record = _post(emu, api).json()["aiRecord"]
    stale = record["temporaryUrl"]
    emu.add_fault("expired_link", endpoint="download")
    first = requests.get(stale, timeout=10)
    assert first.status_code == 403 and "expired" in first.text
    assert requests.get(stale, timeout=10).status_code == 403, "the old link stays dead"
    plain = stale.split("?", 1)[0]  # an unsigned asset URL is not a signed link: unaffected
    assert requests.get(plain, timeout=10).status_code == 200
    fresh = api.get(f"{emu.url}/api/results/{record['uuid']}", timeout=10).json()["aiRecord"]["temporaryUrl"]
    assert fresh != stale
    assert requests.get(fresh, timeout=10).status_code == 200
    assert emu.faults == [] and emu.charges() == 1


def test_link_secret_marks_every_signature_and_upstream_links_are_signed_too(
    emu: EmulatorServer, api: requests.Session
) -> None:
    """What the signed-link scans rely on: every signature the emulator hands out starts with it."""
    emu.set_link_secret("sig-MARK-")
    record = _post(emu, api, num_images=2).json()["aiRecord"]
    upstream = [item["url"] for item in record["aiRecordDetail"]["responseObject"]["data"]]
    assert "?token=sig-MARK-" in record["temporaryUrl"]
    assert all("?sig=sig-MARK-" in url for url in upstream)
    assert all(requests.get(url, timeout=10).status_code == 200 for url in upstream)
    forged = upstream[0].split("?", 1)[0] + "?sig=sig-MARK-0000"
    assert requests.get(forged, timeout=10).status_code == 403, "a signature not the generation's own"
    emu.add_fault("expired_link", endpoint="download")
    assert requests.get(record["temporaryUrl"], timeout=10).status_code == 403
    fresh = api.get(f"{emu.url}/api/results/{record['uuid']}", timeout=10).json()["aiRecord"]
    assert "?token=sig-MARK-" in fresh["temporaryUrl"] and fresh["temporaryUrl"] != record["temporaryUrl"]
    assert requests.get(upstream[0], timeout=10).status_code == 403, "the old upstream link expired with it"
    with pytest.raises(ValueError, match="link_secret"):
        emu.set_link_secret("has space")


@pytest.mark.parametrize(("keep", "endpoint"), [(0, "features"), (1, "results")])
def test_withheld_images_leave_a_charged_success_with_fewer_results(
    emu: EmulatorServer, api: requests.Session, keep: int, endpoint: str
) -> None:
    if endpoint == "features":
        emu.add_fault("withheld", endpoint="features", keep=keep)
    uuid = _post(emu, api, timeout=60, num_images=2, async_=True).json()["aiRecord"]["uuid"]
    if endpoint == "results":
        emu.add_fault("withheld", endpoint="results", keep=keep)
    for _ in range(2):  # for good: a later poll shows the same
        record = api.get(f"{emu.url}/api/results/{uuid}", timeout=10).json()["aiRecord"]
        detail = record["aiRecordDetail"]
        assert record["status"] == "SUCCESS"
        assert len(detail["resultObject"]) == keep and len(detail["responseObject"]["data"]) == keep
        assert ("temporaryUrl" in record) is (keep > 0)
    assert emu.charges() == 1 and emu.faults == []
