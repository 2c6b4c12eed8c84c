"""
``OneMinHook.list_models``: 1min.ai's public model list, read without the key, cached per process
for a short time (hits, misses, expiry), advisory (a missing model is reported, never refused),
and the connection test that names the models offered per feature.

The emulator serves the list; pytest-httpserver stands in where the emulator cannot produce the
case (a malformed answer, estimates in other shapes, a list that fails then answers).
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from werkzeug import Request, Response

from airflow_provider_onemin.emulator.pytest_plugin import CONN_ENV_VAR, FAST_TEST_EXTRA, TEST_API_KEY
from airflow_provider_onemin.exceptions import OneMinMalformedResponseError
from airflow_provider_onemin.hooks import model_list
from airflow_provider_onemin.hooks.onemin import OneMinAsyncHook, OneMinHook

REPLACER = "BACKGROUND_REPLACER"


@pytest.fixture(autouse=True)
def fresh_cache():
    model_list.clear_cache()
    yield
    model_list.clear_cache()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(model_list, "_clock", fake)
    return fake


def _point_at(monkeypatch, url: str, key: str = TEST_API_KEY) -> None:
    connection = {"conn_type": "onemin", "host": url, "password": key, "extra": dict(FAST_TEST_EXTRA)}
    monkeypatch.setenv(CONN_ENV_VAR, json.dumps(connection))


# --- against the emulator -------------------------------------------------------------------------


def test_the_list_is_read_without_the_key_and_cached_until_it_is_too_old(
    onemin_conn_env, onemin_emulator, clock
):
    listed = OneMinHook().list_models(REPLACER)
    assert listed.ids == [
        "ideogram-3",
        "clipdrop",
        "gpt-image-1",
        "gpt-image-1-mini",
        "gpt-image-2",
        "recraft",
    ]
    assert onemin_emulator.model_list_calls() == [{"feature": REPLACER, "with_key": False}], (
        "a public endpoint: the key is not sent where it is not needed"
    )

    clock.now += model_list.MODEL_LIST_TTL - 1
    assert OneMinHook().list_models(REPLACER).ids == listed.ids, "another hook of the process: a hit"
    assert len(onemin_emulator.model_list_calls()) == 1

    OneMinHook().list_models("BACKGROUND_REMOVER")
    assert len(onemin_emulator.model_list_calls()) == 2, "each feature is a list of its own: a miss"

    onemin_emulator.set_unlisted_models(["clipdrop"])
    clock.now += 1  # the first list is TTL seconds old now
    assert "clipdrop" not in OneMinHook().list_models(REPLACER).ids, "expired: read anew"
    assert len(onemin_emulator.model_list_calls()) == 3

    onemin_emulator.set_unlisted_models([])
    assert "clipdrop" in OneMinHook().list_models(REPLACER, max_age=0).ids, "max_age=0 always reads"
    assert len(onemin_emulator.model_list_calls()) == 4


def test_the_cache_is_per_base_url(onemin_conn_env, onemin_emulator, httpserver, monkeypatch):
    OneMinHook().list_models(REPLACER)
    httpserver.expect_request("/models", query_string={"feature": REPLACER}).respond_with_json(
        {"models": [{"modelId": "other-model"}], "total": 1}
    )
    _point_at(monkeypatch, httpserver.url_for("/").rstrip("/"))
    assert OneMinHook().list_models(REPLACER).ids == ["other-model"], "another host is another list"


def test_a_model_missing_from_the_list_is_reported_never_refused(
    onemin_conn_env, onemin_emulator, capfd, caplog
):
    onemin_emulator.set_unlisted_models(["ideogram-3"])
    hook = OneMinHook()
    with caplog.at_level(logging.WARNING):
        assert hook.model_listed(REPLACER, "ideogram-3") is False
        assert hook.model_listed(REPLACER, "recraft") is True
    out, err = capfd.readouterr()
    said = [line for line in (out + err + caplog.text).splitlines() if "model list" in line]
    assert len(said) == 1 and "'ideogram-3' is not in 1min.ai's model list" in said[0]
    assert "warning" in said[0].lower() and "used anyway" in said[0]


def test_the_async_hook_reads_the_same_list_into_the_same_cache(onemin_conn_env, onemin_emulator):
    async def read() -> list[str]:
        async with OneMinAsyncHook() as hook:
            return (await hook.list_models(REPLACER)).ids

    assert asyncio.run(read())[0] == "ideogram-3"
    assert onemin_emulator.model_list_calls() == [{"feature": REPLACER, "with_key": False}]
    assert OneMinHook().list_models(REPLACER).ids[0] == "ideogram-3"
    assert len(onemin_emulator.model_list_calls()) == 1, "the sync hook of the process hits it"


def test_the_connection_test_lists_the_models_per_feature_and_spends_nothing(
    onemin_conn_env, onemin_emulator
):
    ok, message = OneMinHook().test_connection()
    assert ok is True
    assert (
        "Models offered: BACKGROUND_REPLACER: ideogram-3, clipdrop, gpt-image-1, gpt-image-1-mini, "
        "gpt-image-2, recraft; BACKGROUND_REMOVER: stable-image, clipdrop, recraft." in message
    )
    assert TEST_API_KEY not in message
    snapshot = onemin_emulator.snapshot()
    assert (snapshot["charges"]["total"], snapshot["records"], snapshot["assets"]) == (0, 0, 0)


def test_a_connection_test_with_an_unreadable_list_still_passes_and_says_so(httpserver, monkeypatch):
    httpserver.expect_request("/api/results/00000000-0000-0000-0000-000000000000").respond_with_json(
        {"aiRecord": None}
    )
    httpserver.expect_request("/models").respond_with_data("<html>bad gateway</html>", status=404)
    _point_at(monkeypatch, httpserver.url_for("/").rstrip("/"))
    ok, message = OneMinHook().test_connection()
    assert ok is True, "the key was accepted: the list is advisory"
    assert "BACKGROUND_REPLACER: model list not readable (OneMinRequestRejectedError)" in message


# --- what the emulator cannot produce -------------------------------------------------------------


def test_a_failing_list_is_retried_like_any_free_call(httpserver, monkeypatch):
    answers = iter(
        [
            Response("<html><title>502 Bad Gateway</title></html>", status=502),
            Response(json.dumps({"models": [{"modelId": "ideogram-3"}]}), content_type="application/json"),
        ]
    )
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return next(answers)

    httpserver.expect_request("/models").respond_with_handler(handler)
    _point_at(monkeypatch, httpserver.url_for("/").rstrip("/"))
    assert OneMinHook().list_models(REPLACER).ids == ["ideogram-3"]
    assert len(seen) == 2
    assert all("API-KEY" not in request.headers for request in seen)
    assert seen[0].args.get("feature") == REPLACER


def test_an_answer_without_a_models_list_is_an_error_and_is_not_cached(httpserver, monkeypatch):
    httpserver.expect_ordered_request("/models").respond_with_json({"data": []})
    httpserver.expect_ordered_request("/models").respond_with_json(
        {"models": [{"modelId": "ideogram-3"}, {"name": "no id"}, "junk"], "total": "many"}
    )
    _point_at(monkeypatch, httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv(
        CONN_ENV_VAR,
        json.dumps(
            {
                "conn_type": "onemin",
                "host": httpserver.url_for("/").rstrip("/"),
                "password": TEST_API_KEY,
                "extra": {**FAST_TEST_EXTRA, "max_attempts": 1},
            }
        ),
    )
    with pytest.raises(OneMinMalformedResponseError, match="without a 'models' list"):
        OneMinHook().list_models(REPLACER)
    listed = OneMinHook().list_models(REPLACER)
    assert (listed.ids, listed.total) == (["ideogram-3"], None), "entries without a modelId are skipped"


@pytest.mark.parametrize(
    ("estimation", "prompt_object", "expected"),
    [
        (40000, {}, (40000.0, False, False)),
        ({"credit": 50000}, {}, (50000.0, False, False)),
        ({"unit": "call", "credit": 20000}, {"n": 4}, (20000.0, True, False)),
        (
            {
                "byOptions": [
                    {"options": {"quality": "low"}, "credit": 5},
                    {"options": {"quality": "high"}, "credit": 9},
                ]
            },
            {"quality": "high"},
            (9.0, False, False),
        ),
        (
            {
                "byOptions": [
                    {"options": {"quality": "low"}, "credit": 5},
                    {"options": {"quality": "high"}, "credit": 9},
                ]
            },
            {"size": "1024x1024"},
            (9.0, False, True),
        ),
        ({"credit": "50000"}, {}, None),
        (True, {}, None),
        (-1, {}, None),
        ({"INPUT": 1.25, "OUTPUT": 10}, {}, None),
        (None, {}, None),
    ],
    ids=[
        "number",
        "credit",
        "per-call",
        "matching-option",
        "no-match-upper-bound",
        "string",
        "bool",
        "negative",
        "chat-shape",
        "absent",
    ],
)
def test_estimates_are_read_only_in_the_documented_shapes(estimation, prompt_object, expected):
    listed = model_list.parse_model_list(
        {"models": [{"modelId": "m", "creditEstimation": estimation}]}, REPLACER
    )
    price = listed.get("m").price(prompt_object)
    if expected is None:
        assert price is None, "an unreadable estimate is no estimate, never a guess"
    else:
        assert (price.credits, price.per_call, price.upper_bound) == expected


def test_a_hanging_list_does_not_hold_the_connection_test(httpserver, monkeypatch):
    import threading

    released = threading.Event()
    calls: list[Request] = []

    def hang(request: Request) -> Response:
        calls.append(request)
        released.wait(10)  # until the test is done: longer than any read timeout below
        return Response(json.dumps({"models": []}), content_type="application/json")

    httpserver.expect_request("/api/results/00000000-0000-0000-0000-000000000000").respond_with_json(
        {"aiRecord": None}
    )
    httpserver.expect_request("/models").respond_with_handler(hang)
    _point_at(monkeypatch, httpserver.url_for("/").rstrip("/"))
    monkeypatch.setattr(model_list, "MODEL_LIST_READ_TIMEOUT", 0.2)
    import time

    started = time.monotonic()
    try:
        ok, message = OneMinHook().test_connection()
    finally:
        released.set()
    took = time.monotonic() - started
    assert ok is True
    assert "BACKGROUND_REPLACER: model list not readable" in message
    assert "BACKGROUND_REMOVER: model list not readable" in message
    assert len(calls) == 1, "no retry: a person is waiting (the single-threaded server held the next)"
    assert took < 5, f"the list's read timeout bounds the wait, not the connection's ({took:.1f} s)"


def test_the_connection_test_says_when_the_default_model_is_not_listed(onemin_conn_env, onemin_emulator):
    onemin_emulator.set_unlisted_models(["ideogram-3", "gpt-image-2"])
    ok, message = OneMinHook().test_connection()
    assert ok is True
    assert "(ideogram-3, the default, is not listed: the list is advisory, it is used anyway)" in message
