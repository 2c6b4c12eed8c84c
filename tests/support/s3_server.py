"""
A real S3 API on loopback for the storage tests: moto's server, one per test session.

The server checks credentials and IAM policies (``INITIAL_NO_AUTH_ACTION_COUNT``): its first three
requests, unauthenticated, create an admin user; the admin then creates the users the tests
need. Each user has its own Airflow ``aws`` connection (environment variables, session-wide:
Airflow caches one filesystem per connection id, so a connection id must keep its credentials):

* ``onemin_s3_admin``: may do anything;
* ``onemin_s3_reader``: may list and read, not write;
* ``onemin_s3_lister``: may list, not read or write;
* ``onemin_s3_probe_only``: may list, read and write only the write check's probe keys, so the
  check before paying passes and storing results is refused;
* ``onemin_s3_bad_key``: an access key the server does not know.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import own_process_group

REGION = "us-east-1"
_RUNNING = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")
#: Creating the admin takes three unauthenticated requests: CreateUser, PutUserPolicy, CreateAccessKey.
_UNAUTHENTICATED_SETUP_REQUESTS = 3
_RUNNING_SERVERS: list[str] = []

_POLICIES: dict[str, list[dict[str, Any]]] = {
    "reader": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
    "lister": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads"], "Resource": "*"}
    ],
    "probe_only": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": "arn:aws:s3:::*/.onemin-write-check-*",
        },
    ],
}


@dataclass
class S3Server:
    """A running moto server and the credentials of its users."""

    url: str
    process: subprocess.Popen
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)

    def client(self, user: str = "admin") -> Any:
        import boto3

        key, secret = self.credentials[user]
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    def connection(self, user: str) -> dict[str, Any]:
        """An Airflow ``aws`` connection for ``user`` (one attempt per call: failures show at once)."""
        key, secret = self.credentials[user]
        extra = {
            "endpoint_url": self.url,
            "region_name": REGION,
            "config_kwargs": {"retries": {"max_attempts": 1, "mode": "standard"}},
        }
        return {"conn_type": "aws", "login": key, "password": secret, "extra": extra}

    def new_bucket(self) -> str:
        """A fresh bucket, so tests never see each other's objects."""
        name = f"onemin-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every object key in ``bucket``, sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def pending_uploads(self, bucket: str) -> list[str]:
        """Keys of multipart uploads started and never completed or aborted."""
        return [u["Key"] for u in self.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]

    def content_type(self, uri: str) -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.client().head_object(Bucket=bucket, Key=key)["ContentType"]

    def read(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def _start(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": str(_UNAUTHENTICATED_SETUP_REQUESTS),
        **(extra_env or {}),
    }
    # moto's server, its conditional writes made atomic as on S3 (tests/support/moto_s3_server.py).
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("moto_s3_server.py")), "-H", "127.0.0.1", "-p", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **own_process_group(),
    )
    seen = []
    for line in process.stderr:  # werkzeug says where it listens once it does
        seen.append(line)
        if match := _RUNNING.search(line):
            # Keep reading stderr, or the server blocks once the pipe is full.
            threading.Thread(target=lambda: process.stderr.read(), daemon=True).start()
            return process, f"http://127.0.0.1:{match.group(1)}"
    process.wait()
    raise RuntimeError(f"moto_server exited before listening: {''.join(seen)}")


def _create_user(iam: Any, name: str, statements: list[dict[str, Any]]) -> tuple[str, str]:
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17", "Statement": statements}
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _iam(url: str, key: str, secret: str) -> Any:
    import boto3

    return boto3.client(
        "iam", endpoint_url=url, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret
    )


def _forget_filesystems(conn_ids: set[str]) -> None:
    """
    Drop the filesystems Airflow keeps per connection id (for the whole process) for ``conn_ids``:
    one made before this server's connections existed (a test naming ``s3://onemin_s3_reader@...``
    without this fixture) would otherwise send every later read to amazonaws.com.
    """
    from airflow.sdk.io import store

    for alias, cached in list(store._STORE_CACHE.items()):
        if getattr(cached, "conn_id", None) in conn_ids:
            del store._STORE_CACHE[alias]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 (and IAM) on a free loopback port, credentials checked, with an Airflow connection per user."""
    # Airflow caches one filesystem per connection id for the whole process, so a second server
    # in the same session would be read through the first one's cached filesystem. A module that
    # imports this fixture again (instead of getting it from conftest) would start one.
    if _RUNNING_SERVERS:
        raise RuntimeError("s3_server started twice in one session: take it from conftest, do not import it")
    process, url = _start()
    _RUNNING_SERVERS.append(url)
    server = S3Server(url=url, process=process)
    previous = {}
    try:
        everything = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        server.credentials["admin"] = _create_user(_iam(url, "setup", "setup"), "admin", everything)
        iam = _iam(url, *server.credentials["admin"])
        for name, statements in _POLICIES.items():
            server.credentials[name] = _create_user(iam, name, statements)
        server.credentials["bad_key"] = ("AKIAONEMINTESTUNKNOWN", "not-a-secret")
        for user in server.credentials:
            variable = f"AIRFLOW_CONN_ONEMIN_S3_{user.upper()}"
            previous[variable] = os.environ.get(variable)
            os.environ[variable] = json.dumps(server.connection(user))
        _forget_filesystems({f"onemin_s3_{user}" for user in server.credentials})
        yield server
    finally:
        for variable, value in previous.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        _RUNNING_SERVERS.remove(url)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh bucket on the session's S3 server."""
    return s3_server.new_bucket()
