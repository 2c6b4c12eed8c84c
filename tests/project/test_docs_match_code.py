"""
What the README and docs/ state as facts is checked against the code: the install line names every
hard dependency, the connection page lists the form's fields and every client setting, and the
example file name of docs/storage.md is the one the code computes.
"""

from __future__ import annotations

import re
from dataclasses import fields

import tomllib

from airflow_provider_onemin import CONNECTION_FIELDS
from airflow_provider_onemin.hooks.client_settings import OneMinClientSettings
from airflow_provider_onemin.storage.results import safe_part
from tests.support.airflow_helpers import REPO


def _dependency_names() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0] for spec in project["dependencies"]]


def test_readme_install_line_names_every_hard_dependency():
    line = next(
        line
        for line in (REPO / "README.md").read_text().splitlines()
        if "pip install airflow-provider-onemin " in line
    )
    comment = line.split("#", 1)[1].lower()
    for name in _dependency_names():
        shown = "airflow" if name == "apache-airflow" else name.lower()
        assert shown in comment, f"the README's install line does not name {name}"


def test_connection_page_lists_the_form_fields_and_every_setting():
    text = (REPO / "docs" / "connection.md").read_text()
    listed = re.search(r"<!-- form-fields -->(.*?)<!-- /form-fields -->", text, re.S).group(1)
    assert re.findall(r"`(\w+)`", listed) == list(CONNECTION_FIELDS)
    table = re.findall(r"^\| `([^|]+)` \|", text, re.M)
    documented = {name.strip("` ") for row in table for name in row.split(" / ")}
    assert documented == {f.name for f in fields(OneMinClientSettings)}


def test_storage_page_example_name_is_the_one_the_code_computes():
    text = (REPO / "docs" / "storage.md").read_text()
    original, shown = re.search(r"`(manual__[^`]+)` becomes `([^`]+)`", text).groups()
    assert safe_part(original) == shown
