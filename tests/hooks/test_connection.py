"""
The connection form and the connection test, as Airflow itself sees them.

The form: Airflow's ProvidersManager reads the declarative ``ui-field-behaviour`` and
``conn-fields`` of the installed provider (the same data the Airflow 3 UI renders). The test:
``OneMinHook.test_connection`` and ``airflow connections test`` against the emulator, with a good
and a bad key; both are authenticated calls that spend nothing.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_onemin.emulator.pytest_plugin import CONN_ENV_VAR, FAST_TEST_EXTRA, TEST_API_KEY
from airflow_provider_onemin.hooks.onemin import OneMinHook
from tests.support.airflow_helpers import airflow_cli, airflow_version

#: Tests marked compat also run on every older Airflow minor (.ci/airflow-matrix.sh).

BAD_KEY = "wrong-key-5a1d9c7e3b"


def _conn_json(url: str, key: str) -> str:
    return json.dumps({"conn_type": "onemin", "host": url, "password": key, "extra": FAST_TEST_EXTRA})


@pytest.mark.skipif(
    airflow_version() < (3, 2),
    reason="conn-fields are read from Airflow 3.2 on; test_connection_form.py covers the older form",
)
def test_form_shows_api_key_and_base_url() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    behaviour = manager.field_behaviours["onemin"]
    assert behaviour["relabeling"] == {"password": "API Key", "host": "Base URL"}
    assert set(behaviour["hidden_fields"]) == {"port", "login", "schema"}
    assert behaviour["placeholders"]["host"] == "https://api.1min.ai"

    widgets = {k: v for k, v in manager.connection_form_widgets.items() if k.startswith("extra__onemin__")}
    assert {w.field_name for w in widgets.values()} >= {
        "read_timeout",
        "connect_timeout",
        "max_attempts",
        "max_retry_wait",
        "retry_unknown_outcome",
        "poll_interval",
        "proxy",
        "ca_bundle",
    }
    assert all(
        w.hook_class_name == "airflow_provider_onemin.hooks.onemin.OneMinHook" for w in widgets.values()
    )
    sensitive = {w.field_name for w in widgets.values() if w.is_sensitive}
    assert sensitive == {"proxy"}, (
        "secret extras are masked (format: password); the key is the password field"
    )
    read_timeout = widgets["extra__onemin__read_timeout"].field
    assert read_timeout["schema"]["title"] == "Read timeout (s)" and read_timeout["value"] == 300

    legacy = OneMinHook.get_ui_field_behaviour()
    assert legacy["relabeling"] == behaviour["relabeling"], "the legacy hook method says the same"


@pytest.mark.compat
def test_hook_test_connection_good_and_bad_key_spends_nothing(onemin_emulator, monkeypatch) -> None:
    monkeypatch.setenv(CONN_ENV_VAR, _conn_json(onemin_emulator.url, TEST_API_KEY))
    ok, message = OneMinHook(onemin_conn_id="onemin_default").test_connection()
    assert ok is True and onemin_emulator.url in message

    monkeypatch.setenv(CONN_ENV_VAR, _conn_json(onemin_emulator.url, BAD_KEY))
    ok, reason = OneMinHook(onemin_conn_id="onemin_default").test_connection()
    assert ok is False
    assert "401" in reason and BAD_KEY not in reason

    snapshot = onemin_emulator.snapshot()
    assert (snapshot["charges"]["total"], snapshot["records"], snapshot["assets"]) == (0, 0, 0)


@pytest.mark.parametrize(("key", "succeeds"), [(TEST_API_KEY, True), (BAD_KEY, False)], ids=["good", "bad"])
def test_cli_connections_test(airflow_db, onemin_emulator, key: str, succeeds: bool) -> None:
    done = airflow_cli(
        "connections",
        "test",
        "onemin_default",
        env={CONN_ENV_VAR: _conn_json(onemin_emulator.url, key), "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"},
        timeout=120,
    )
    output = done.stdout + done.stderr
    if succeeds:
        assert done.returncode == 0, output
        assert "Connection success!" in output
    else:
        if airflow_version() >= (3, 3):  # 3.0 to 3.2 exit 0 after "Connection failed!"
            assert done.returncode == 1, output
        assert "Connection failed!" in output and "401" in output
    assert key not in output, "the key is never printed"
    assert onemin_emulator.charges() == 0
