"""
The connection form as the Airflow UI receives it, on whichever minor this venv has: the API
server's ``HookMetaService`` builds it from ``conn-fields`` (3.2+) or from the hook's class
methods (3.0 and 3.1, which need wtforms: 3.1's API server stands in for it, 3.0 does not).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from tests.support.airflow_helpers import airflow_version

pytestmark = pytest.mark.compat

#: Written out here, not read from the package: the form a user must see.
EXTRA_FIELDS = {
    "read_timeout",
    "connect_timeout",
    "max_attempts",
    "max_retry_wait",
    "retry_unknown_outcome",
    "poll_interval",
    "proxy",
    "ca_bundle",
}
HAS_WTFORMS = importlib.util.find_spec("wtforms") is not None
#: Airflow 3.0's API server needs the real wtforms (the FAB provider brings it) for a hook's form.
FORM_NEEDS_WTFORMS = airflow_version()[:2] == (3, 0)


def _onemin_form() -> dict[str, Any]:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "onemin"]
    return meta.model_dump()


@pytest.mark.skipif(
    FORM_NEEDS_WTFORMS and not HAS_WTFORMS,
    reason="Airflow 3.0 builds a hook's form only with wtforms installed (the FAB provider brings it)",
)
def test_the_form_relabels_the_key_and_shows_every_extra_field():
    form = _onemin_form()
    assert form["hook_name"] == "1min.ai"
    standard = form["standard_fields"]
    assert (standard["password"]["title"], standard["password"]["hidden"]) == ("API Key", False)
    assert (standard["host"]["title"], standard["host"]["placeholder"]) == ("Base URL", "https://api.1min.ai")
    assert all(standard[name]["hidden"] for name in ("port", "login", "url_schema"))

    extra = form["extra_fields"]
    assert set(extra) == EXTRA_FIELDS
    assert extra["read_timeout"]["schema"]["title"] == "Read timeout (s)"
    assert extra["read_timeout"]["value"] == 300
    assert extra["retry_unknown_outcome"]["value"] is False
    assert extra["proxy"]["schema"].get("format") == "password", "a proxy URL may carry credentials"
    assert {name for name, field in extra.items() if field["schema"].get("format") == "password"} == {"proxy"}


@pytest.mark.skipif(
    not FORM_NEEDS_WTFORMS or HAS_WTFORMS,
    reason="only Airflow 3.0 without wtforms (no FAB provider) falls back to the standard form",
)
def test_without_wtforms_airflow_3_0_lists_the_type_with_the_standard_form():
    form = _onemin_form()
    assert form["hook_name"] == "1min.ai", "the connection type is still offered"
    assert form["standard_fields"] is None, "no relabelling: the key goes in the plain Password field"
    assert not form["extra_fields"], "settings go in the Extra JSON field"
