"""Registration with Airflow: the provider info validates, and the airflow CLI lists the provider."""

from __future__ import annotations

import json
from importlib import metadata, resources

import pytest
from jsonschema import Draft7Validator

from airflow_provider_onemin import __version__, get_provider_info
from tests.support.airflow_helpers import airflow_cli_batch

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat


def _airflow_schema(name: str) -> dict:
    return json.loads(resources.files("airflow").joinpath(name).read_text())


def test_entry_point_points_at_get_provider_info():
    entry_points = metadata.entry_points(group="apache_airflow_provider")
    ours = [ep for ep in entry_points if ep.value == "airflow_provider_onemin:get_provider_info"]
    assert len(ours) == 1
    assert ours[0].name == "provider_info"
    assert ours[0].load()() == get_provider_info()


def test_provider_info_validates_against_airflow_core_schema():
    Draft7Validator(_airflow_schema("provider_info.schema.json")).validate(get_provider_info())


def test_connection_types_validate_against_the_stricter_provider_yaml_schema():
    yaml_schema = _airflow_schema("provider.yaml.schema.json")
    connection_types_schema = {**yaml_schema["properties"]["connection-types"]}
    # The provider.yaml schema keeps shared pieces under "definitions"; carry them along.
    connection_types_schema["definitions"] = yaml_schema.get("definitions", {})
    errors = list(
        Draft7Validator(connection_types_schema).iter_errors(get_provider_info()["connection-types"])
    )
    assert errors == []


def test_connection_type_declares_the_form():
    (conn,) = get_provider_info()["connection-types"]
    assert conn["connection-type"] == "onemin"
    assert conn["hook-name"] == "1min.ai"
    assert conn["hook-class-name"] == "airflow_provider_onemin.hooks.onemin.OneMinHook"
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["relabeling"]["password"] == "API Key"
    assert behaviour["placeholders"]["host"] == "https://api.1min.ai"
    assert {"port", "login", "schema"} <= set(behaviour["hidden-fields"])
    # Fields holding secrets are declared as passwords so the form masks them.
    assert conn["conn-fields"]["proxy"]["schema"]["format"] == "password"


def test_declared_modules_and_classes_import():
    import importlib

    info = get_provider_info()
    for section in ("operators", "hooks", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for dotted in [c["hook-class-name"] for c in info["connection-types"]] + info["extra-links"]:
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted
    assert info["versions"] == [__version__] == [metadata.version("airflow-provider-onemin")]


def test_hook_class_matches_the_declared_connection_type():
    from airflow_provider_onemin.hooks.onemin import OneMinHook

    assert OneMinHook.conn_type == "onemin"
    assert OneMinHook.default_conn_name == "onemin_default"
    assert OneMinHook.conn_name_attr == "onemin_conn_id"
    legacy = OneMinHook.get_ui_field_behaviour()
    assert legacy["relabeling"]["password"] == "API Key"


@pytest.fixture(scope="module")
def cli_outputs(airflow_db) -> list[str]:
    """What Airflow's CLI shows of the provider: three commands, one process (each start costs seconds)."""
    return airflow_cli_batch(
        ["providers", "list", "--output", "json"],
        ["providers", "hooks", "--output", "json"],
        ["config", "get-value", "onemin", "viewer_locations"],
        # The default is what is asked for: no setting from the environment.
        env={"AIRFLOW__ONEMIN__VIEWER_LOCATIONS": None},
    )


def _json(output: str):
    # Airflow 3.0 prints the providers manager's INFO lines on stdout before the JSON.
    return json.loads(output[min(i for i in (output.find("["), output.find("{")) if i >= 0) :])


@pytest.mark.e2e
def test_airflow_cli_lists_the_provider_and_its_connection_type(cli_outputs):
    providers, hooks, _ = cli_outputs
    listed = {p["package_name"]: p for p in _json(providers)}
    assert "airflow-provider-onemin" in listed
    assert listed["airflow-provider-onemin"]["version"] == __version__

    by_type = {h["connection_type"]: h for h in _json(hooks)}
    assert by_type["onemin"]["class"] == "airflow_provider_onemin.hooks.onemin.OneMinHook"
    assert by_type["onemin"]["package_name"] == "airflow-provider-onemin"
    assert by_type["onemin"]["hook_name"] == "1min.ai"


def test_airflow_knows_the_viewer_setting_and_its_default(cli_outputs):
    # Registered in the provider info's "config": Airflow's own CLI reads it, default included.
    shown = cli_outputs[2]
    # Airflow 3.0 prints the providers manager's INFO lines on stdout before the value.
    assert shown.strip().splitlines()[-1] == "/tmp/onemin-out", shown
