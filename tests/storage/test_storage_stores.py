"""
The write check before paying and the error causes on Google Cloud Storage and Azure Blob, against
their local servers (tests/support/store_servers.py): what the DAG runs of
test_storage_gcs_dags.py and test_storage_azure_dags.py rely on, with the messages a user reads.
"""

from __future__ import annotations

import pytest

from airflow_provider_onemin.exceptions import OneMinOutputLocationError
from airflow_provider_onemin.storage.location import check_output_writable
from tests.support.store_dags import MISSING_BUCKET
from tests.support.store_servers import AZURE_BAD_KEY_CONN_ID, AZURE_CONN_ID, GCS_CONN_ID


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
