"""
Claims (reuse/claims.py) on Azure Blob and Google Cloud Storage: one payment at a time rests on each
store's conditional create (reuse/claim_files.py ``create_exclusive``, ``pipe_file(mode="create")``).

* Azure: ``If-None-Match: *``, which Azurite honours: racers on Azurite (tests/support/store_servers.py).
* GCS: ``ifGenerationMatch=0``, which gcp-storage-emulator ignores (it overwrites). The one-winner
  race runs against a scripted GCS upload endpoint on loopback that keeps objects and answers 412
  as GCS documents it (https://cloud.google.com/storage/docs/request-preconditions), judging
  whether the precondition is sent at all.

The oracle is the test's own count of winners and payments, never the module's view.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airflow_provider_onemin.reuse.claim_files import create_exclusive
from airflow_provider_onemin.storage.results import as_storage_path
from tests.reuse.test_reuse_claims import race_threads
from tests.support.store_servers import AZURE_CONN_ID, GCS_PROJECT

RACERS = 8


def _race_to_create(base: Any) -> tuple[list[bool], Any]:
    path = base / "000001.claim.json"
    barrier = threading.Barrier(RACERS)

    def create(index: int) -> bool:
        barrier.wait(timeout=30)
        return create_exclusive(path, f"writer {index}".encode())

    with ThreadPoolExecutor(RACERS) as pool:
        won = list(pool.map(create, range(RACERS)))
    return won, path


def test_azure_conditional_create_has_one_winner_and_never_replaces(azure_server) -> None:
    container = azure_server.new_container()
    won, path = _race_to_create(as_storage_path(f"abfs://{AZURE_CONN_ID}@{container}/claims"))
    assert won.count(True) == 1
    assert path.read_bytes() == f"writer {won.index(True)}".encode()  # whole, and the winner's


def test_threads_racing_on_azure_pay_once_and_all_get_the_image(azure_server) -> None:
    container = azure_server.new_container()
    payments, images = race_threads(f"abfs://{AZURE_CONN_ID}@{container}/out", racers=4)
    assert len(payments) == 1
    payer = payments[0]
    assert set(images) == {b"\x89PNG\r\n\x1a\n" + f"paid by {payer.run_id} {payer.map_index}".encode()}


class ScriptedGcsUploads:
    """GCS's multipart upload, with the precondition as GCS documents it: 412 when ifGenerationMatch=0
    and the object exists. Everything kept in memory; the only answer a test needs from it."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> Any:
        from werkzeug import Response

        head, _, rest = request.get_data().partition(b"\n--==0==")
        metadata = json.loads(head.split(b"\n\n", 1)[1])
        data = rest.split(b"\n\n", 1)[1].rsplit(b"\n--==0==--", 1)[0]
        name = metadata["name"]
        with self.lock:
            if request.args.get("ifGenerationMatch") == "0" and name in self.objects:
                error = {
                    "error": {
                        "code": 412,
                        "message": "At least one of the pre-conditions you specified did not hold.",
                    }
                }
                return Response(json.dumps(error), status=412, content_type="application/json")
            self.objects[name] = data
        bucket = request.path.split("/b/", 1)[1].split("/", 1)[0]
        resource = {
            "kind": "storage#object",
            "bucket": bucket,
            "name": name,
            "size": str(len(data)),
            "generation": "1",
        }
        return Response(json.dumps(resource), content_type="application/json")


def test_gcs_conditional_create_has_one_winner_and_never_replaces(httpserver, monkeypatch) -> None:
    pytest.importorskip("gcsfs", reason="GCS tests need the gcs extra")
    pytest.importorskip("airflow.providers.google", reason="GCS tests need the gcs extra")
    import re

    uploads = ScriptedGcsUploads()
    httpserver.expect_request(
        re.compile(r"/upload/storage/v1/b/[^/]+/o"), method="POST"
    ).respond_with_handler(uploads)
    extra = {"is_anonymous": True, "project": GCS_PROJECT, "gcs.endpoint": httpserver.url_for("").rstrip("/")}
    monkeypatch.setenv(
        "AIRFLOW_CONN_ONEMIN_GCS_SCRIPTED", json.dumps({"conn_type": "google_cloud_platform", "extra": extra})
    )
    won, _ = _race_to_create(as_storage_path("gs://onemin_gcs_scripted@claims-bucket/claims"))
    assert won.count(True) == 1, won
    assert uploads.objects == {"claims/000001.claim.json": f"writer {won.index(True)}".encode()}
