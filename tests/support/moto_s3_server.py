"""
moto's S3 server with S3's promise for conditional writes: one writer wins.

Run as a script, with ``moto_server``'s arguments (``-H 127.0.0.1 -p 0``). Real S3 decides a
``PutObject`` or ``CompleteMultipartUpload`` with ``If-None-Match: *`` (the reuse claims'
conditional create) atomically. moto's threaded server checks that the key is free, then writes
it, and a second request can pass the check in between: under load two claimants of one
request both won, which real S3 never lets happen. Here each write request runs whole under
one lock, so its check and its write are one step, as on S3.

``ONEMIN_MOTO_WRITE_DELAY`` (seconds) holds every write between its check and its write, so a
test can prove that two writers at once cannot both win (tests/storage/test_s3_server.py).
"""

from __future__ import annotations

import functools
import os
import threading
import time

from moto.s3 import models, responses
from moto.server import main

_WRITES = threading.Lock()
_DELAY = float(os.environ.get("ONEMIN_MOTO_WRITE_DELAY", "0") or 0)


def _one_at_a_time(method):
    @functools.wraps(method)
    def write(*args, **kwargs):
        with _WRITES:
            return method(*args, **kwargs)

    return write


def _delayed(method):
    @functools.wraps(method)
    def write(*args, **kwargs):
        time.sleep(_DELAY)
        return method(*args, **kwargs)

    return write


if _DELAY:  # after the response layer's check, before the key is stored
    models.S3Backend.put_object = _delayed(models.S3Backend.put_object)
    models.S3Backend.complete_multipart_upload = _delayed(models.S3Backend.complete_multipart_upload)
if os.environ.get("ONEMIN_MOTO_AS_SHIPPED") != "1":
    responses.S3Response.put_object = _one_at_a_time(responses.S3Response.put_object)
    responses.S3Response._key_response_post = _one_at_a_time(responses.S3Response._key_response_post)

if __name__ == "__main__":
    main()
