"""
Checks against the real 1min.ai. Skipped unless ``ONEMIN_API_KEY`` is set (CI unsets it).

The connection test spends nothing (an authenticated GET of an all-zero uuid). The generation
test is paid, so it also needs ``ONEMIN_ALLOW_SPEND=1``.
"""

from __future__ import annotations

import json
import os

import pytest

from airflow_provider_onemin.hooks.onemin import OneMinHook

pytestmark = [
    pytest.mark.real_api,
    pytest.mark.skipif(not os.environ.get("ONEMIN_API_KEY"), reason="needs ONEMIN_API_KEY (real 1min.ai)"),
]


@pytest.fixture
def real_conn(monkeypatch):
    conn = {"conn_type": "onemin", "password": os.environ["ONEMIN_API_KEY"]}
    monkeypatch.setenv("AIRFLOW_CONN_ONEMIN_REAL", json.dumps(conn))
    return "onemin_real"


def test_real_key_is_accepted_without_spending(real_conn):
    ok, message = OneMinHook(onemin_conn_id=real_conn).test_connection()
    assert ok, message


@pytest.mark.skipif(os.environ.get("ONEMIN_ALLOW_SPEND") != "1", reason="paid: set ONEMIN_ALLOW_SPEND=1")
def test_real_generation_of_one_image(real_conn, tmp_path):
    from tests.support.airflow_helpers import REPO

    hook = OneMinHook(onemin_conn_id=real_conn)
    asset = hook.upload_asset(str(REPO / "dags" / "sample_photos" / "mug.png"))
    body = {
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "async": True,
        "promptObject": {"prompt": "a wooden table by a window", "imageUrl": asset, "num_images": 1},
    }
    record = hook.run_feature(body)
    if not hook.check_status(record):
        record = hook.wait_for_result(record["uuid"], poll_interval=3, timeout=600)
    assert len(record["aiRecordDetail"]["resultObject"]) == 1
