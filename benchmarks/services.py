"""
Services a benchmark starts and stops itself: Redis (the system's ``redis-server``, in memory
only) as a Celery broker, and a local S3 API (``moto_server`` from ``moto[server]``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import from_tests

# The tests' process helpers: a free loopback port, and stopping a server with its whole group.
free_port = from_tests("processes").free_port
stop_process_tree = from_tests("processes").stop_process_tree
own_process_group = from_tests("processes").own_process_group


@contextmanager
def redis_server() -> Iterator[str]:
    """``redis-server`` on a free loopback port, in memory only; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: apt-get install -y redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **own_process_group(),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop_process_tree([process], timeout=10)


@contextmanager
def s3_server() -> Iterator[str]:
    """``moto_server`` on a free loopback port; yields its endpoint URL."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **own_process_group(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        stop_process_tree([process], timeout=10)


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def count_objects(endpoint: str, bucket: str) -> int:
    client = s3_client(endpoint)
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        count += page.get("KeyCount", 0)
    return count
