"""The emulator's API over real HTTP on loopback: shapes, auth, async flow, downloads, charges."""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests
from emulator_helpers import decode, encode, feature_body, product_on_white, product_with_alpha

from airflow_provider_onemin.emulator.images import BACKGROUND_DISTANCE
from airflow_provider_onemin.emulator.state import key_fingerprint
from airflow_provider_onemin.schemas.validation import answer_violations

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_onemin.emulator.server import EmulatorServer

NIL_UUID = "00000000-0000-0000-0000-000000000000"


def _generate(emu: EmulatorServer, api: requests.Session, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post(f"{emu.url}/api/features", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer_violations(answer.json()) == []
    return answer.json()["aiRecord"]


def _download(url: str) -> bytes:
    answer = requests.get(url, timeout=10)  # no API key: like the public asset host
    assert answer.status_code == 200, answer.text
    return answer.content


def test_upload_download_round_trip(emu: EmulatorServer, api: requests.Session) -> None:
    data = encode(product_on_white())
    answer = api.post(
        f"{emu.url}/api/assets", files={"asset": ("../My photo (1).png", data, "image/png")}, timeout=10
    )
    assert answer.status_code == 200
    payload = answer.json()
    key = payload["asset"]["key"]
    assert payload["fileContent"]["path"] == key
    assert key.startswith("development/images/") and key.endswith("_My_photo_1_.png")
    assert payload["fileContent"]["size"] == len(data)
    downloaded = requests.get(f"{emu.url}/asset/{key}", timeout=10)
    assert downloaded.content == data
    assert downloaded.headers["content-type"] == "image/png"
    assert emu.snapshot()["assets"] == 1
    assert emu.charges() == 0


def test_upload_without_asset_field(emu: EmulatorServer, api: requests.Session) -> None:
    answer = api.post(f"{emu.url}/api/assets", files={"file": ("a.png", b"x", "image/png")}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "MISSING_REQUIRED_FIELDS"


@pytest.mark.parametrize("key", [None, "wrong-key"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/features"), ("POST", "/api/assets"), ("GET", f"/api/results/{NIL_UUID}")],
)
def test_api_needs_the_key(emu: EmulatorServer, key: str | None, method: str, path: str) -> None:
    headers = {} if key is None else {"API-KEY": key}
    kwargs: dict[str, Any] = {"json": feature_body()} if path == "/api/features" else {}
    if path == "/api/assets":
        kwargs = {"files": {"asset": ("a.png", b"x", "image/png")}}
    answer = requests.request(method, f"{emu.url}{path}", headers=headers, timeout=10, **kwargs)
    assert answer.status_code == 401
    body = answer.json()
    assert body["errorCode"] == "UNAUTHORIZED" and body["message"]
    assert emu.charges() == 0 and emu.records == []


def test_connection_probe(emu: EmulatorServer, api: requests.Session) -> None:
    assert api.get(f"{emu.url}/api/results/{NIL_UUID}", timeout=10).json() == {"aiRecord": None}
    assert requests.get(f"{emu.url}/api/results/{NIL_UUID}", timeout=10).status_code == 401


def test_sync_generation_has_the_seed_shape(
    emu: EmulatorServer, api: requests.Session, upload: Callable[..., str]
) -> None:
    source = product_on_white((300, 200))
    key = upload(encode(source))
    body = feature_body("a man in a coffee shop", key, num_images=2, seed=12345, style_type="REALISTIC")
    record = _generate(emu, api, body)
    assert record["status"] == "SUCCESS"
    assert record["model"] == "ideogram-3" and record["type"] == "BACKGROUND_REPLACER"
    detail = record["aiRecordDetail"]
    assert detail["promptObject"] == body["promptObject"]
    results = detail["resultObject"]
    assert len(results) == 2 and len(set(results)) == 2
    data = detail["responseObject"]["data"]
    assert detail["responseObject"]["created"].endswith("Z")
    assert [item["seed"] for item in data] == [12345, 12345]
    assert {item["resolution"] for item in data} == {"300x200"}
    assert {item["style_type"] for item in data} == {"REALISTIC"}
    assert all(item["prompt"] == "a man in a coffee shop" and item["is_image_safe"] is True for item in data)
    # temporaryUrl points at the first result only; every key and upstream URL downloads.
    assert record["temporaryUrl"].startswith(f"{emu.url}/asset/{results[0]}?token=")
    first = _download(record["temporaryUrl"])
    assert first == _download(f"{emu.url}/asset/{results[0]}") == _download(data[0]["url"])
    second = _download(f"{emu.url}/asset/{results[1]}")
    assert second == _download(data[1]["url"]) and second != first
    assert decode(first).size == (300, 200)
    assert emu.charges() == 1 and emu.charges(emu.api_key) == 1


def test_same_request_same_bytes_over_http(
    emu: EmulatorServer, api: requests.Session, upload: Callable[..., str]
) -> None:
    key = upload(encode(product_on_white()))

    def result_bytes(**fields: Any) -> tuple[bytes, int]:
        record = _generate(emu, api, feature_body(image_url=key, **fields))
        return _download(record["temporaryUrl"]), record["aiRecordDetail"]["responseObject"]["data"][0][
            "seed"
        ]

    first, derived_seed = result_bytes(prompt="a lake")
    again, seed_again = result_bytes(prompt="a lake")
    assert again == first and seed_again == derived_seed  # a missing seed is derived from the request
    assert 0 <= derived_seed <= 2147483647
    assert result_bytes(prompt="a lake", seed=derived_seed)[0] == first
    assert result_bytes(prompt="a desert")[0] != first
    assert result_bytes(prompt="a lake", seed=derived_seed + 1)[0] != first
    assert emu.charges() == 5


@pytest.mark.parametrize("make", [product_on_white, product_with_alpha])
def test_foreground_preserved_over_http(
    emu: EmulatorServer, api: requests.Session, upload: Callable[..., str], make: Callable[[], Any]
) -> None:
    source = make()
    record = _generate(emu, api, feature_body("a garden", upload(encode(source)), seed=1))
    result = decode(_download(record["temporaryUrl"]))
    assert result.size == source.size
    pixels = list(zip(source.getdata(), result.getdata(), strict=True))
    if source.mode == "RGBA":
        kept = [(before[:3], after) for before, after in pixels if before[3] == 255]
    else:
        kept = [
            (before, after)
            for before, after in pixels
            if math.dist(before, (255, 255, 255)) > BACKGROUND_DISTANCE
        ]
    assert kept and all(before == after for before, after in kept)
    assert result.getpixel((0, 0)) != source.convert("RGB").getpixel((0, 0))


def test_docs_example_path_uses_a_synthetic_photo(emu: EmulatorServer, api: requests.Session) -> None:
    body = feature_body(
        "A man standing in a busy coffee shop",
        "development/images/portrait.png",
        rendering_speed="DEFAULT",
        magic_prompt="AUTO",
        style_type="AUTO",
    )
    record = _generate(emu, api, body)
    assert record["aiRecordDetail"]["responseObject"]["data"][0]["resolution"] == "512x512"


def test_sources_by_url_on_the_emulator(
    emu: EmulatorServer, api: requests.Session, upload: Callable[..., str]
) -> None:
    key = upload(encode(product_on_white((200, 160))))
    record = _generate(emu, api, feature_body(image_url=f"{emu.url}/asset/{key}"))
    assert record["aiRecordDetail"]["responseObject"]["data"][0]["resolution"] == "200x160"
    chained = _generate(emu, api, feature_body("a second scene", record["temporaryUrl"]))
    assert chained["aiRecordDetail"]["responseObject"]["data"][0]["resolution"] == "200x160"
    gone = api.post(
        f"{emu.url}/api/features", json=feature_body(image_url=f"{emu.url}/asset/nope.png"), timeout=10
    )
    assert gone.status_code == 400 and gone.json()["errorCode"] == "EXTERNAL_API_RESPONSE_WITH_ERROR"


def test_unreadable_upload_is_refused_without_charge(
    emu: EmulatorServer, api: requests.Session, upload: Callable[..., str]
) -> None:
    key = upload(b"GIF89a not really", "a.gif", "image/gif")
    answer = api.post(f"{emu.url}/api/features", json=feature_body(image_url=key), timeout=10)
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "EXTERNAL_API_RESPONSE_WITH_ERROR"
    assert emu.charges() == 0


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = feature_body()
    change(body)
    return body


@pytest.mark.parametrize(
    ("body", "code", "violation"),
    [
        (
            _broken(lambda b: b["promptObject"].pop("prompt")),
            "MISSING_REQUIRED_FIELDS",
            "promptObject.prompt: is required",
        ),
        (
            _broken(lambda b: b["promptObject"].update(num_images=9)),
            "UNKNOWN_ERROR",
            "promptObject.num_images",
        ),
        (
            _broken(
                lambda b: b["promptObject"].update(style_preset="BAUHAUS", style_reference_images=["a.png"])
            ),
            "UNKNOWN_ERROR",
            "must not be given together with style_preset",
        ),
        (_broken(lambda b: b.update(model="ideogram-2")), "UNSUPPORTED_MODEL", None),
        (_broken(lambda b: b.update(type="IMAGE_GENERATOR")), "UNKNOWN_ERROR", None),
        (_broken(lambda b: b.pop("promptObject")), "MISSING_REQUIRED_FIELDS", None),
    ],
)
def test_bad_requests_answer_400(
    emu: EmulatorServer, api: requests.Session, body: dict[str, Any], code: str, violation: str | None
) -> None:
    answer = api.post(f"{emu.url}/api/features", json=body, timeout=10)
    assert answer.status_code == 400
    error = answer.json()
    assert set(error) == {"errorCode", "message", "details", "context"}
    assert error["errorCode"] == code and error["message"]
    details = json.loads(error["details"])
    if violation is not None:
        assert any(violation in line for line in details["violations"])
    assert emu.charges() == 0 and emu.records == []


def test_body_that_is_not_json(emu: EmulatorServer, api: requests.Session) -> None:
    answer = api.post(f"{emu.url}/api/features", data=b"{nope", timeout=10)
    assert answer.status_code == 400 and answer.json()["errorCode"] == "UNKNOWN_ERROR"


def test_async_flow(emu: EmulatorServer, api: requests.Session) -> None:
    emu.set_latency(0.4)
    answer = api.post(f"{emu.url}/api/features", json=feature_body(async_=True), timeout=10)
    record = answer.json()["aiRecord"]
    assert record["status"] == "PROCESSING"
    assert "resultObject" not in record["aiRecordDetail"] and "temporaryUrl" not in record
    assert emu.charges() == 1  # charged when accepted
    polled = api.get(f"{emu.url}/api/results/{record['uuid']}", timeout=10).json()["aiRecord"]
    assert polled["status"] == "PROCESSING"
    # Wait on the condition, not the clock: on a loaded machine the render may end later.
    deadline = time.monotonic() + 30
    while True:
        done = api.get(f"{emu.url}/api/results/{record['uuid']}", timeout=10).json()
        if done["aiRecord"]["status"] != "PROCESSING" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer_violations(done) == []
    done_record = done["aiRecord"]
    assert done_record["status"] == "SUCCESS" and done_record["uuid"] == record["uuid"]
    assert len(done_record["aiRecordDetail"]["resultObject"]) == 1
    assert decode(_download(done_record["temporaryUrl"])).size == (512, 512)
    assert emu.charges() == 1


def test_results_not_downloadable_before_ready(emu: EmulatorServer, api: requests.Session) -> None:
    emu.set_latency(5)
    record = api.post(f"{emu.url}/api/features", json=feature_body(async_=True), timeout=10).json()[
        "aiRecord"
    ]
    assert requests.get(f"{emu.url}/upstream/{record['uuid']}/0.png", timeout=10).status_code == 404
    assert emu.records[0].status == "PROCESSING"


def test_finish_ends_renders_in_progress_now(emu: EmulatorServer, api: requests.Session) -> None:
    # A test holds a generation with a long render time and lets it end when it chooses.
    emu.set_latency(3600)
    held = [
        api.post(f"{emu.url}/api/features", json=feature_body(async_=True), timeout=10).json()["aiRecord"]
        for _ in range(2)
    ]
    poll = f"{emu.url}/api/results/{held[0]['uuid']}"
    assert api.get(poll, timeout=10).json()["aiRecord"]["status"] == "PROCESSING"
    assert requests.post(f"{emu.url}/_emulator/finish", timeout=10).json() == {"finished": 2}
    for record in held:
        done = api.get(f"{emu.url}/api/results/{record['uuid']}", timeout=10).json()
        assert answer_violations(done) == [] and done["aiRecord"]["status"] == "SUCCESS"
        assert decode(_download(done["aiRecord"]["temporaryUrl"])).size == (512, 512)
    # Nothing left rendering; a generation accepted later still takes the configured time.
    assert emu.finish_rendering() == 0
    later = api.post(f"{emu.url}/api/features", json=feature_body(async_=True), timeout=10).json()
    assert later["aiRecord"]["status"] == "PROCESSING"
    assert emu.charges() == 3


def test_sync_answer_waits_for_the_latency(emu: EmulatorServer, api: requests.Session) -> None:
    emu.set_latency(0.3)
    started = time.monotonic()
    record = _generate(emu, api, feature_body())
    assert time.monotonic() - started >= 0.3
    assert record["status"] == "SUCCESS"


def test_links_use_the_url_the_client_called(emu: EmulatorServer, api: requests.Session) -> None:
    answer = api.post(
        f"{emu.url}/api/features", json=feature_body(), headers={"Host": f"localhost:{emu.port}"}, timeout=10
    )
    record = answer.json()["aiRecord"]
    assert record["temporaryUrl"].startswith(f"http://localhost:{emu.port}/asset/")
    assert record["aiRecordDetail"]["responseObject"]["data"][0]["url"].startswith(
        f"http://localhost:{emu.port}/"
    )


def test_charges_are_counted_per_key_fingerprint(emu: EmulatorServer) -> None:
    emu.set_api_key(None)  # accept any key
    for key in ("key-a", "key-a", "key-b"):
        assert requests.post(
            f"{emu.url}/api/features", json=feature_body(), headers={"API-KEY": key}, timeout=10
        ).ok
    assert (emu.charges("key-a"), emu.charges("key-b"), emu.charges()) == (2, 1, 3)
    state = requests.get(f"{emu.url}/_emulator/state", timeout=10)
    assert state.json()["charges"] == {
        "total": 3,
        "by_key": {key_fingerprint("key-a"): 2, key_fingerprint("key-b"): 1},
    }
    assert "key-a" not in state.text


def test_control_endpoints(emu: EmulatorServer, api: requests.Session) -> None:
    config = requests.post(
        f"{emu.url}/_emulator/config", json={"latency": 0.05, "api_key": "other"}, timeout=10
    )
    assert config.json() == {
        "latency": 0.05,
        "api_key_required": True,
        "max_in_flight": None,
        "charged_statuses": [],
        "echo_key": False,
        "report_credit": True,
        "unlisted_models": [],
    }
    assert emu.latency == 0.05 and emu.api_key == "other"
    assert requests.post(f"{emu.url}/_emulator/config", json={"colour": 1}, timeout=10).status_code == 400
    emu.set_api_key(api.headers["API-KEY"])
    added = requests.post(
        f"{emu.url}/_emulator/faults",
        json=[{"kind": "status", "code": 502, "count": 2}, {"kind": "unsafe"}],
        timeout=10,
    )
    assert [f["kind"] for f in added.json()["faults"]] == ["status", "unsafe"]
    bad = requests.post(f"{emu.url}/_emulator/faults", json={"kind": "status", "code": 200}, timeout=10)
    assert bad.status_code == 400 and "400..599" in bad.json()["error"]
    assert api.post(f"{emu.url}/api/features", json=feature_body(), timeout=10).status_code == 502
    state = requests.get(f"{emu.url}/_emulator/state", timeout=10).json()
    assert state["faults"][0]["count"] == 1 and state["records"] == 0
    api.post(f"{emu.url}/api/assets", files={"asset": ("a.png", b"x", "image/png")}, timeout=10)
    reset = requests.post(f"{emu.url}/_emulator/reset", timeout=10).json()
    assert reset["faults"] == [] and reset["assets"] == 0 and reset["charges"]["total"] == 0
    assert reset["config"]["latency"] == 0.05  # only {"config": true} restores the config
    restored = requests.post(f"{emu.url}/_emulator/reset", json={"config": True}, timeout=10).json()
    assert restored["config"]["latency"] == 0.0


def test_onemin_conn_env(onemin_conn_env: str, emu: EmulatorServer) -> None:
    import os

    connection = json.loads(os.environ["AIRFLOW_CONN_ONEMIN_DEFAULT"])
    assert connection["conn_type"] == "onemin"
    assert connection["host"] == onemin_conn_env == emu.url
    assert connection["password"] == emu.api_key == "test-onemin-key-0123456789"
    assert connection["extra"]["poll_interval"] == 0.05


def test_generations_report_says_what_each_generation_was_made_from_and_made(
    emu: EmulatorServer, api: requests.Session
) -> None:
    # The judge of the stateful hunt: the digests are computed here from what was uploaded and
    # downloaded, never taken from the emulator's own code.
    import hashlib

    source = encode(product_on_white((64, 48)))
    key = api.post(
        f"{emu.url}/api/assets", files={"asset": ("p.png", source, "image/png")}, timeout=10
    ).json()["asset"]["key"]
    record = _generate(emu, api, feature_body(image_url=key, num_images=2, seed=5))
    emu.add_fault("failure")
    api.post(f"{emu.url}/api/features", json=feature_body(image_url=key), timeout=10)

    report = requests.get(f"{emu.url}/_emulator/generations", timeout=10).json()["generations"]
    paid, failed = report
    assert (paid["uuid"], paid["status"], paid["charged"], paid["seed"]) == (
        record["uuid"],
        "SUCCESS",
        True,
        5,
    )
    assert paid["source_sha256"] == hashlib.sha256(source).hexdigest()
    keys = record["aiRecordDetail"]["resultObject"]
    assert [r["key"] for r in paid["results"]] == keys
    assert [r["sha256"] for r in paid["results"]] == [
        hashlib.sha256(_download(f"{emu.url}/asset/{k}")).hexdigest() for k in keys
    ]
    assert record["temporaryUrl"].endswith(f"?token={paid['link_token']}")
    assert (failed["status"], failed["charged"], failed["results"]) == ("FAILURE", False, [])
