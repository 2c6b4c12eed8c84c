"""
The reuse index on S3 (moto's server) while another task instance writes it: the record is
replaced between the moment a reader looked at it and the moment it reads it. s3fs pins each read
to the ETag it saw first, so S3 itself answers 412 PreconditionFailed. The real server gives that
answer; a hook on the filesystem's ``info`` only chooses the moment the other writer replaces the record.
"""

from __future__ import annotations

import logging

from airflow_provider_onemin.reuse.index import find_reusable, record_generation
from airflow_provider_onemin.storage.results import as_storage_path
from tests.reuse.test_reuse import FIRST, ai_record, store
from tests.reuse.test_reuse import key as key  # noqa: F401 - a fixture


def test_a_record_replaced_while_it_is_read_is_read_again(s3_server, s3_bucket, key, monkeypatch, caplog):
    base = as_storage_path(f"s3://onemin_s3_admin@{s3_bucket}/out")
    record_path = record_generation(base, key, ai_record(credit=4), store(base, FIRST), FIRST)
    object_key = record_path.path.split("/", 1)[1]
    client = s3_server.client()
    filesystem = base.fs  # Airflow's filesystem of the connection, cached for the process
    original_info = filesystem.info
    replaced = []

    def info_then_another_writer(path, *args, **kwargs):
        details = original_info(path, *args, **kwargs)
        if path.endswith(record_path.name) and not replaced:
            # Another task instance rewrites the record now (same content, new version and ETag).
            body = client.get_object(Bucket=s3_bucket, Key=object_key)["Body"].read()
            client.put_object(Bucket=s3_bucket, Key=object_key, Body=body + b"\n")
            replaced.append(details["ETag"])
        return details

    monkeypatch.setattr(filesystem, "info", info_then_another_writer)
    with caplog.at_level(logging.INFO, logger="airflow_provider_onemin"):
        hit = find_reusable(base, key)
    assert replaced, "the record was replaced between the look and the read"
    assert client.head_object(Bucket=s3_bucket, Key=object_key)["ETag"] != replaced[0]
    assert hit is not None and hit.uuid == "gen-1", "the new version was read, not an error raised"
    assert any("was replaced while it was read" in r.getMessage() for r in caplog.records)
