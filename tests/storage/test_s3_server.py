"""
The S3 server the tests use keeps S3's promise for conditional writes: of writers racing to create
one key with ``If-None-Match: *``, exactly one wins. The reuse claims rely on it; moto's own
server lets two win when the second passes the check before the first has written.
"""

from __future__ import annotations

import threading

import pytest

from tests.support.s3_server import REGION, _start

#: Runs on every older Airflow minor in the CI matrix (.ci/airflow-matrix.sh).
pytestmark = pytest.mark.compat

WRITERS = 4


def _race(extra_env: dict[str, str]) -> list[int]:
    """``WRITERS`` threads create one key at once; the writers that were told they created it."""
    import boto3
    from botocore.config import Config

    # Unset, moto checks no credentials; the session server sets it to check them.
    process, url = _start(
        {"ONEMIN_MOTO_WRITE_DELAY": "0.3", "INITIAL_NO_AUTH_ACTION_COUNT": "1000000", **extra_env}
    )
    try:
        client = boto3.client(
            "s3",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="racer",
            aws_secret_access_key="racer",
            config=Config(max_pool_connections=WRITERS, retries={"max_attempts": 1}),
        )
        client.create_bucket(Bucket="race")
        start, winners = threading.Barrier(WRITERS), []

        def create(writer: int) -> None:
            start.wait()
            try:
                client.put_object(Bucket="race", Key="claim.json", Body=b"%d" % writer, IfNoneMatch="*")
            except client.exceptions.ClientError as exc:
                assert exc.response["Error"]["Code"] == "PreconditionFailed", exc.response
                return
            winners.append(writer)

        threads = [threading.Thread(target=create, args=(writer,)) for writer in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = client.get_object(Bucket="race", Key="claim.json")["Body"].read()
        assert stored in {b"%d" % writer for writer in winners}, "the object is a winner's"
        return winners
    finally:
        process.terminate()
        process.wait()


def test_of_writers_creating_one_key_at_once_exactly_one_wins() -> None:
    assert len(_race({})) == 1


def test_moto_as_shipped_lets_more_than_one_win() -> None:
    """Why the lock is there: without it, every writer that passed the check first wins."""
    assert len(_race({"ONEMIN_MOTO_AS_SHIPPED": "1"})) > 1
