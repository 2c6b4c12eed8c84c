"""
The emulator's model list and credits: ``GET /models?feature=...`` answers without a key, from the
emulator's own price table, and every success reports what it cost in ``aiRecord.metadata.credit``;
tests can make it leave the credits out or a model out of the list.

Expected figures are written here literally, from the emulator's documented table (emulator/prices.py):
a change of a price is a change of this test too.
"""

from __future__ import annotations

import requests

BODY_TURBO_2 = {
    "type": "BACKGROUND_REPLACER",
    "model": "ideogram-3",
    "promptObject": {
        "prompt": "a marble counter",
        "imageUrl": "development/images/mug.png",
        "num_images": 2,
        "rendering_speed": "TURBO",
    },
}


def test_the_model_list_needs_no_key_and_lists_each_model_with_its_estimate(emu) -> None:
    answer = requests.get(f"{emu.url}/models", params={"feature": "BACKGROUND_REPLACER"}, timeout=10)
    assert answer.status_code == 200, "public: no API-KEY sent, and the emulator requires one on /api/*"
    listing = answer.json()
    ids = [model["modelId"] for model in listing["models"]]
    assert ids == ["ideogram-3", "clipdrop", "gpt-image-1", "gpt-image-1-mini", "gpt-image-2", "recraft"]
    assert listing["total"] == 6
    ideogram = listing["models"][0]
    assert ideogram["status"] == "ACTIVE" and ideogram["features"] == ["BACKGROUND_REPLACER"]
    assert {"options": {"rendering_speed": "TURBO"}, "credit": 3000} in ideogram["creditEstimation"][
        "byOptions"
    ]
    assert ideogram["creditEstimation"]["credit"] == 6000, "the DEFAULT speed's price"
    clipdrop = listing["models"][1]
    assert clipdrop["creditEstimation"]["credit"] == 50000, "the public snapshot's clipdrop figure"

    remover = requests.get(f"{emu.url}/models", params={"feature": "BACKGROUND_REMOVER"}, timeout=10).json()
    assert [m["modelId"] for m in remover["models"]] == ["stable-image", "clipdrop", "recraft"]
    assert requests.get(f"{emu.url}/models", timeout=10).json() == {"models": [], "total": 0}, (
        "without a feature the real list answers an empty list"
    )
    assert emu.model_list_calls() == [
        {"feature": "BACKGROUND_REPLACER", "with_key": False},
        {"feature": "BACKGROUND_REMOVER", "with_key": False},
        {"feature": None, "with_key": False},
    ]


def test_a_success_reports_what_it_cost_on_the_answer_and_on_every_poll(emu, api) -> None:
    record = api.post(f"{emu.url}/api/features", json=BODY_TURBO_2, timeout=10).json()["aiRecord"]
    assert record["metadata"] == {"credit": 6000}, "TURBO: 3,000 credits per image, 2 images"
    polled = api.get(f"{emu.url}/api/results/{record['uuid']}", timeout=10).json()["aiRecord"]
    assert polled["metadata"] == {"credit": 6000}

    gpt = {
        "type": "BACKGROUND_REPLACER",
        "model": "gpt-image-1",
        "promptObject": {
            "prompt": "a beach",
            "imageUrl": "development/images/mug.png",
            "size": "1536x1024",
            "quality": "high",
        },
    }
    answer = api.post(f"{emu.url}/api/features", json=gpt, timeout=10).json()["aiRecord"]
    assert answer["metadata"] == {"credit": 250000}, "gpt-image-1, high, not square: the top of 11k-250k"
    no_quality = {**gpt, "promptObject": {k: v for k, v in gpt["promptObject"].items() if k != "quality"}}
    answer = api.post(f"{emu.url}/api/features", json=no_quality, timeout=10).json()["aiRecord"]
    assert answer["metadata"] == {"credit": 63000}, "quality defaults to medium"


def test_async_generations_report_their_cost_once_they_succeed(emu, api) -> None:
    emu.set_latency(0.2)
    record = api.post(f"{emu.url}/api/features", json={**BODY_TURBO_2, "async": True}, timeout=10).json()
    assert record["aiRecord"]["status"] == "PROCESSING"
    assert "metadata" not in record["aiRecord"], "nothing is said before it ended"
    emu.set_latency(0)
    emu.record(record["aiRecord"]["uuid"]).ready_at = 0  # ended now: no need to wait
    polled = api.get(f"{emu.url}/api/results/{record['aiRecord']['uuid']}", timeout=10).json()["aiRecord"]
    assert (polled["status"], polled["metadata"]) == ("SUCCESS", {"credit": 6000})


def test_tests_can_leave_the_credits_and_a_model_out(emu, api) -> None:
    configured = requests.post(
        f"{emu.url}/_emulator/config",
        json={"report_credit": False, "unlisted_models": ["ideogram-3", "gpt-image-2"]},
        timeout=10,
    ).json()
    assert (configured["report_credit"], configured["unlisted_models"]) == (
        False,
        ["gpt-image-2", "ideogram-3"],
    )
    record = api.post(f"{emu.url}/api/features", json=BODY_TURBO_2, timeout=10).json()["aiRecord"]
    assert record["status"] == "SUCCESS" and "metadata" not in record, "served, but its cost is unknown"
    listing = requests.get(f"{emu.url}/models", params={"feature": "BACKGROUND_REPLACER"}, timeout=10).json()
    assert [m["modelId"] for m in listing["models"]] == [
        "clipdrop",
        "gpt-image-1",
        "gpt-image-1-mini",
        "recraft",
    ]
    assert emu.charges() == 1, "an unlisted model is still served and charged"

    bad = requests.post(f"{emu.url}/_emulator/config", json={"unlisted_models": "ideogram-3"}, timeout=10)
    assert bad.status_code == 400
    emu.reset(config=True)
    assert emu.snapshot()["config"]["report_credit"] is True and emu.model_list_calls() == []
