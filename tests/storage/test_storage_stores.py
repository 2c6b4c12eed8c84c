"""
The write check before paying and the error causes on Google Cloud Storage and Azure Blob, against
their local servers (tests/support/store_servers.py): what the DAG runs of
test_storage_gcs_dags.py and test_storage_azure_dags.py rely on, with the messages a user reads.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_onemin.exceptions import OneMinOutputLocationError
from airflow_provider_onemin.storage.location import check_output_writable
from tests.support.store_dags import MISSING_BUCKET
from tests.support.store_servers import AZURE_BAD_KEY_CONN_ID, AZURE_CONN_ID, AZURITE_KEY, GCS_CONN_ID


def test_gcs_write_check_passes_and_leaves_no_object(gcs_server) -> None:
    bucket = gcs_server.new_bucket()
    check_output_writable(f"gs://{GCS_CONN_ID}@{bucket}/out")
    assert gcs_server.keys(bucket) == []


def test_gcs_missing_bucket_is_named(gcs_server) -> None:
    with pytest.raises(OneMinOutputLocationError) as caught:
        check_output_writable(f"gs://{GCS_CONN_ID}@{MISSING_BUCKET}/out")
    message = str(caught.value)
    assert f"gs://{MISSING_BUCKET}/out cannot be written: the bucket does not exist" in message
    assert "Nothing was uploaded or paid" in message and "Create the bucket" in message


@pytest.mark.parametrize("scheme", ["abfs", "az"])
def test_azure_write_check_passes_and_leaves_no_blob(azure_server, scheme) -> None:
    container = azure_server.new_container()
    check_output_writable(f"{scheme}://{AZURE_CONN_ID}@{container}/out")
    assert azure_server.keys(container) == [], "nothing a listing shows"


@pytest.mark.parametrize(
    ("conn_id", "container", "says"),
    [
        (AZURE_CONN_ID, MISSING_BUCKET, "the bucket does not exist (ContainerNotFound"),
        (AZURE_BAD_KEY_CONN_ID, None, "the credentials were refused"),
    ],
)
def test_azure_unwritable_output_is_refused_with_its_cause(azure_server, conn_id, container, says) -> None:
    container = container or azure_server.new_container()
    with pytest.raises(OneMinOutputLocationError) as caught:
        check_output_writable(f"abfs://{conn_id}@{container}/out")
    assert says in str(caught.value)
    assert "Nothing was uploaded or paid" in str(caught.value)


# --- answers neither local server gives (no IAM, no throttling): scripted ---------------------------


@pytest.mark.parametrize(
    ("status", "kind", "transient"),
    [
        (429, "throttled", True),
        (503, "server_error", True),
        (401, "bad_credentials", False),
        (403, "access_denied", False),
        (404, "missing", False),
    ],
)
def test_gcs_answers_are_classified(status, kind, transient) -> None:
    """gcsfs's own ``validate_response`` turns GCS's answer into the exception the provider sees."""
    pytest.importorskip("gcsfs", reason="GCS tests need the gcs extra")
    from gcsfs.retry import validate_response

    from airflow_provider_onemin.storage.errors import explain

    body = json.dumps({"error": {"code": status, "message": f"scripted {status}"}}).encode()
    with pytest.raises(Exception) as caught:
        validate_response(status, body, "b/bucket/o/key")
    failure = explain(caught.value)
    assert (failure.kind, failure.transient) == (kind, transient), failure


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (503, "ServerBusy", "throttled"),
        (500, "InternalError", "server_error"),
        (403, "AuthorizationPermissionMismatch", "access_denied"),
        (403, "AuthenticationFailed", "bad_credentials"),
        (404, "ContainerNotFound", "missing_bucket"),
    ],
)
def test_azure_answers_are_classified(httpserver, status, code, kind) -> None:
    """The Azure SDK's own error handling, on Azure's answer from a scripted loopback endpoint."""
    pytest.importorskip("azure.storage.blob", reason="Azure tests need the azure extra")
    from azure.storage.blob import BlobServiceClient

    from airflow_provider_onemin.storage.errors import TRANSIENT_KINDS, explain

    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>scripted</Message></Error>'
    )
    httpserver.expect_request("/devstoreaccount1/c").respond_with_data(
        body, status=status, headers={"x-ms-error-code": code}, content_type="application/xml"
    )
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={httpserver.url_for('/devstoreaccount1')};"
    )
    client = BlobServiceClient.from_connection_string(connection_string, retry_total=0)
    with pytest.raises(Exception) as caught:
        client.get_container_client("c").get_container_properties()
    failure = explain(caught.value)
    assert failure.kind == kind, failure
    assert failure.transient == (kind in TRANSIENT_KINDS)
    assert code in str(failure)
