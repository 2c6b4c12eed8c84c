"""Apache Airflow provider for the 1min.ai Background Replacer."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

INTEGRATION_NAME = "1min.ai"

#: How the connection form shows the standard fields (Airflow 3.2+ reads it from the provider info).
CONNECTION_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["port", "login", "schema"],
    "relabeling": {"password": "API Key", "host": "Base URL"},
    "placeholders": {
        "host": "https://api.1min.ai",
        "password": "your 1min.ai API key",
        "extra": '{"read_timeout": 300, "max_attempts": 5}',
    },
}

#: Extra fields of the connection form, stored in the connection's extra JSON.
CONNECTION_FIELDS: dict[str, Any] = {
    "read_timeout": {
        "label": "Read timeout (s)",
        "description": "Seconds to wait for an answer. Image models are slow: keep minutes, not seconds.",
        "schema": {"type": ["number", "null"], "minimum": 1, "default": 300},
    },
    "connect_timeout": {
        "label": "Connect timeout (s)",
        "description": "Seconds to open a connection.",
        "schema": {"type": ["number", "null"], "minimum": 1, "default": 10},
    },
    "max_attempts": {
        "label": "Max attempts",
        "description": "Attempts per request, the first included. Paid requests are re-sent only when "
        "they surely were not processed.",
        "schema": {"type": ["integer", "null"], "minimum": 1, "default": 5},
    },
    "max_retry_wait": {
        "label": "Max total retry wait (s)",
        "description": "Cap on the total seconds slept between the attempts of one request.",
        "schema": {"type": ["number", "null"], "minimum": 0, "default": 300},
    },
    "retry_unknown_outcome": {
        "label": "Re-send a paid request whose outcome is unknown",
        "description": "After a 500/502/504, a read timeout or a reset, the generation may have been "
        "charged. Off: the task fails and says so. On: it is re-sent and may be charged twice.",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "poll_interval": {
        "label": "Poll interval (s)",
        "description": "Seconds between polls of a running generation.",
        "schema": {"type": ["number", "null"], "minimum": 0, "default": 5},
    },
    "proxy": {
        "label": "Proxy URL",
        "description": "http(s) proxy for every call; may carry credentials, so it is masked.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "ca_bundle": {
        "label": "CA bundle path",
        "description": "Path of a CA bundle to verify TLS with (for a re-signing proxy).",
        "schema": {"type": ["string", "null"]},
    },
}


#: Where the results viewer may read when ``[onemin] viewer_locations`` is unset: the folder the
#: example DAGs store into when ``ONEMIN_OUTPUT_PATH`` is unset; local only, no connection.
DEFAULT_VIEWER_LOCATIONS = "/tmp/onemin-out"

#: The provider's Airflow settings (``[onemin]``, or ``AIRFLOW__ONEMIN__<OPTION>``).
CONFIG: dict[str, Any] = {
    "onemin": {
        "description": "Settings of the 1min.ai provider.",
        "options": {
            "viewer_locations": {
                "description": "The folders the results viewer (in the api-server) may read stored "
                "images from, comma-separated: absolute local paths or file:// URIs, and object "
                "store folders as <scheme>://[<conn_id>@]<bucket>/<prefix> (the api-server reads "
                "them with that connection). A stored path outside them is refused, whatever a "
                "task's XCom says. In multi-team mode a team's DAGs read the team's own setting "
                "(AIRFLOW__<TEAM>___ONEMIN__VIEWER_LOCATIONS). See docs/viewer.md.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "/data/out, s3://aws_marketing@marketing-assets/backgrounds/",
                "default": DEFAULT_VIEWER_LOCATIONS,
            }
        },
    }
}


def get_provider_info() -> dict[str, Any]:
    """Describe this provider to Airflow (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-onemin",
        "name": "1min.ai",
        "description": "Call the 1min.ai Background Replacer (ideogram-3) from Airflow: keep the product "
        "in a photo, regenerate the scene behind it from a text prompt.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION_NAME,
                "external-doc-url": "https://docs.1min.ai",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION_NAME,
                "python-modules": [
                    "airflow_provider_onemin.operators.background_replacer",
                    "airflow_provider_onemin.operators.renditions",
                ],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION_NAME,
                "python-modules": ["airflow_provider_onemin.hooks.onemin"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION_NAME,
                "python-modules": ["airflow_provider_onemin.triggers.background_replacer"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "onemin",
                "hook-class-name": "airflow_provider_onemin.hooks.onemin.OneMinHook",
                "hook-name": "1min.ai",
                "ui-field-behaviour": CONNECTION_UI_FIELD_BEHAVIOUR,
                "conn-fields": CONNECTION_FIELDS,
            }
        ],
        "extra-links": ["airflow_provider_onemin.links.results.OneMinResultLink"],
        # az:// (adlfs's name for Azure Blob), which the microsoft-azure provider leaves unregistered.
        "filesystems": ["airflow_provider_onemin.storage.azure_fs"],
        "config": CONFIG,
    }
