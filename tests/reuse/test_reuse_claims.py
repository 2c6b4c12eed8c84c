"""
Claims (reuse/claims.py): identical requests racing for the same new image pay once.

Threads and processes race on a local folder and on S3 (moto's server, where the conditional
create is ``If-None-Match: *``). Each racer does what the operator does: look the request up,
claim it or wait, and, when it holds the claim, "pay" (counted here, by the test), store and
index a file, and release. The oracle is the test's own count of payments and the bytes each racer
ends with, never the module's view. Waiting is on events (a log line each waiter writes, a
barrier), never a fixed sleep.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_onemin.exceptions import OneMinClaimLostError, OneMinReuseWaitError
from airflow_provider_onemin.reuse.claim_files import claims_folder, create_exclusive, current_claim
from airflow_provider_onemin.reuse.claims import (
    Claim,
    Owner,
    claim_or_reuse,
    release_unpaid,
)
from airflow_provider_onemin.reuse.index import TaskNames, record_generation
from airflow_provider_onemin.reuse.key import RequestKey
from airflow_provider_onemin.storage.results import as_storage_path, plain_uri, result_stem

WAITING = "is being paid for by"


def make_key(name: str = "mug on a beach") -> RequestKey:
    request = {"key_version": 1, "type": "BACKGROUND_REPLACER", "promptObject": {"prompt": name}}
    return RequestKey(hashlib.sha256(name.encode()).hexdigest(), request)


def make_ti(index: int, run: str = "run-a", try_number: int = 1) -> SimpleNamespace:
    return SimpleNamespace(
        dag_id="shop", run_id=run, task_id="replace", map_index=index, try_number=try_number
    )


class Counter(logging.Handler):
    """Counts the log lines that contain ``needle``; :meth:`wait_for` blocks until there are ``n``."""

    def __init__(self, needle: str) -> None:
        super().__init__()
        self.needle = needle
        self.count = 0
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            with self.changed:
                self.count += 1
                self.changed.notify_all()

    def wait_for(self, n: int, timeout: float = 60) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= n, timeout)


def pay_and_store(output_path: str, key: RequestKey, ti: Any, claim: Claim, log: logging.Logger) -> list[str]:
    """What the operator does when it holds the claim: (pay), store, index, release."""
    base = as_storage_path(output_path)
    stem = result_stem(
        dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index, index=0
    )
    target = base / f"{stem}.png"
    if target.protocol in ("file", "local", ""):
        target.parent.mkdir(parents=True, exist_ok=True)
    # Bytes that name the payer: a waiter that ends with them copied the payer's result.
    target.write_bytes(b"\x89PNG\r\n\x1a\n" + f"paid by {ti.run_id} {ti.map_index}".encode())
    record = {
        "uuid": f"gen-{ti.run_id}-{ti.map_index}",
        "status": "SUCCESS",
        "aiRecordDetail": {"resultObject": ["r0.png"], "responseObject": {"data": [{"url": "u", "seed": 1}]}},
    }
    stored = [plain_uri(target)]
    record_generation(
        output_path, key, record, stored, TaskNames(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    )
    claim.release("stored and indexed", log)
    return stored


def run_task(
    output_path: str,
    key: RequestKey,
    ti: Any,
    log: logging.Logger,
    paid: Callable[[Any], None],
    before_paying: Callable[[], None] = lambda: None,
    at_claim: Callable[[], Any] = lambda: None,
) -> bytes:
    """One racer, as the operator runs: index lookup, claim or wait, pay when holding the claim."""
    at_claim()
    reused, claim = claim_or_reuse(output_path, key, ti, log, wait=lambda: {"timeout": 60, "interval": 0.02})
    if reused is None:
        assert claim is not None
        claim.paying()
        paid(ti)
        before_paying()
        stored = pay_and_store(output_path, key, ti, claim, log)
        return read_stored(output_path, stored[0])
    return read_stored(output_path, reused.stored_paths[0])


def read_stored(output_path: str, uri: str) -> bytes:
    """A stored file's bytes, read through the output folder (its connection): plain URIs have none."""
    return (as_storage_path(output_path) / uri.split("/out/", 1)[1]).read_bytes()


def race_threads(output_path: str, racers: int) -> tuple[list[Any], list[bytes]]:
    """``racers`` task instances (two runs, mapped) ask for one new request at once."""
    key = make_key()
    log = logging.getLogger(f"onemin.test.claims.{os.urandom(4).hex()}")
    log.setLevel(logging.INFO)
    waiting = Counter(WAITING)
    log.addHandler(waiting)
    payments: list[Any] = []
    lock = threading.Lock()

    def paid(ti: Any) -> None:
        with lock:
            payments.append(ti)

    def everyone_else_waits() -> None:
        # The payer stores its result only once every other racer is waiting for it: the race is
        # real (without claims they would all have missed the index and paid).
        assert waiting.wait_for(racers - 1), f"only {waiting.count} of {racers - 1} racers waited"

    tis = [make_ti(i % 3, run=f"run-{i // 3}") for i in range(racers)]
    # All look and claim at the same instant: only the conditional create tells them apart.
    at_claim = threading.Barrier(racers).wait
    with ThreadPoolExecutor(racers) as pool:
        futures = [
            pool.submit(run_task, output_path, key, ti, log, paid, everyone_else_waits, at_claim)
            for ti in tis
        ]
        images = [future.result(timeout=120) for future in futures]
    return payments, images


def test_threads_racing_on_a_local_folder_pay_once_and_all_get_the_image(tmp_path: Path) -> None:
    payments, images = race_threads(str(tmp_path / "out"), racers=6)
    assert len(payments) == 1
    payer = payments[0]
    assert set(images) == {b"\x89PNG\r\n\x1a\n" + f"paid by {payer.run_id} {payer.map_index}".encode()}


def test_threads_racing_on_s3_pay_once_and_all_get_the_image(s3_server, s3_bucket) -> None:
    payments, images = race_threads(f"s3://onemin_s3_admin@{s3_bucket}/out", racers=4)
    assert len(payments) == 1
    payer = payments[0]
    assert set(images) == {b"\x89PNG\r\n\x1a\n" + f"paid by {payer.run_id} {payer.map_index}".encode()}


@pytest.mark.parametrize("where", ["local", "s3"])
def test_conditional_create_has_one_winner_and_never_replaces(where, tmp_path, request) -> None:
    if where == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = server.new_bucket()
        base = as_storage_path(f"s3://onemin_s3_admin@{bucket}/claims")
    else:
        base = as_storage_path(str(tmp_path / "claims"))
    path = base / "000001.claim.json"
    barrier = threading.Barrier(8)

    def create(index: int) -> bool:
        barrier.wait(timeout=30)
        return create_exclusive(path, f"writer {index}".encode())

    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(create, range(8)))
    assert won.count(True) == 1
    assert path.read_bytes() == f"writer {won.index(True)}".encode()  # whole, and the winner's


def _process_racer(output_path: str, index: int, barrier: Any, payments: Any, waiting: Any) -> None:
    """A task instance in a process of its own (fork): claim or wait, pay when holding the claim."""
    key = make_key("process race")
    log = logging.getLogger(f"onemin.test.claims.process{index}")
    log.setLevel(logging.INFO)

    class Waiting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if WAITING in record.getMessage():
                with waiting.get_lock():
                    waiting.value += 1

    log.addHandler(Waiting())

    def paid(ti: Any) -> None:
        payments.put(index)

    def everyone_else_waits() -> None:
        import time

        deadline = time.monotonic() + 60
        while waiting.value < 3 and time.monotonic() < deadline:  # a shared counter: polled
            time.sleep(0.01)

    barrier.wait(timeout=60)
    image = run_task(output_path, key, make_ti(index, run=f"run-{index % 2}"), log, paid, everyone_else_waits)
    Path(output_path, f"image-{index}").write_bytes(image)


def test_processes_racing_on_a_local_folder_pay_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier, payments, waiting = context.Barrier(4), context.Queue(), context.Value("i", 0)
    output = str(tmp_path / "out")
    os.makedirs(output)
    processes = [
        context.Process(target=_process_racer, args=(output, i, barrier, payments, waiting)) for i in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    paid = [payments.get(timeout=5) for _ in range(payments.qsize())] if payments.qsize() else []
    assert len(paid) == 1, paid
    expected = b"\x89PNG\r\n\x1a\n" + f"paid by run-{paid[0] % 2} {paid[0]}".encode()
    assert {Path(output, f"image-{i}").read_bytes() for i in range(4)} == {expected}
    assert waiting.value == 3


# --- expiry, fail closed, adoption, release ------------------------------------------------------------


def _claim(output: str, key: RequestKey, ti: Any, **kwargs: Any) -> tuple[Any, Claim | None]:
    log = logging.getLogger("onemin.test.claims")
    wait = {"timeout": kwargs.pop("timeout", 5), "interval": 0.01}
    return claim_or_reuse(output, key, ti, log, wait=lambda: wait, **kwargs)


def test_a_claim_that_expired_before_paying_is_taken_over_once(tmp_path: Path) -> None:
    output, key = str(tmp_path / "out"), make_key()
    _, crashed = _claim(output, key, make_ti(0), ttl=0)  # its owner dies before paying
    assert crashed is not None

    def racer(index: int) -> Claim | None:
        try:
            return _claim(output, key, make_ti(index + 1), ttl=600, timeout=0.5)[1]
        except OneMinReuseWaitError:
            return None  # found the taker's fresh claim and waited for it

    with ThreadPoolExecutor(4) as pool:
        holders = [claim for claim in pool.map(racer, range(4)) if claim is not None]
    assert len(holders) == 1
    # The crashed owner, coming back, cannot pay under its dead claim.
    with pytest.raises(OneMinClaimLostError, match="took it over"):
        crashed.paying()
    holders[0].paying()


def test_a_claim_whose_owner_said_paying_never_expires_and_the_advice_works(tmp_path: Path) -> None:
    output, key = str(tmp_path / "out"), make_key()
    _, owner = _claim(output, key, make_ti(0), ttl=0)
    owner.paying()
    owner.generation("gen-owner")
    with pytest.raises(OneMinReuseWaitError) as raised:
        _claim(output, key, make_ti(1), timeout=0.2)
    message = str(raised.value)
    assert "shop / run-a / replace [map 0] try 1" in message
    assert "gen-owner" in message and "Nothing was uploaded or paid by this task" in message
    assert "clear it" in message
    # The advice "delete the folder ... and clear this task" releases it: the next look claims.
    folder = claims_folder(output, key)
    assert str(folder) in message
    shutil.rmtree(folder.path)
    _, claim = _claim(output, key, make_ti(1))
    assert claim is not None


def test_a_retry_of_the_owner_adopts_its_claim_and_others_keep_waiting(tmp_path: Path) -> None:
    output, key = str(tmp_path / "out"), make_key()
    _, first = _claim(output, key, make_ti(0, try_number=1))
    first.paying()
    _, again = _claim(output, key, make_ti(0, try_number=2))
    assert again is not None and again.number == first.number
    again.paying()  # an earlier try of this task instance said it: no error
    with pytest.raises(OneMinReuseWaitError):
        _claim(output, key, make_ti(0, run="run-b"), timeout=0.1)


def test_released_after_a_failure_the_next_task_claims_and_pays(tmp_path: Path) -> None:
    output, key = str(tmp_path / "out"), make_key()
    log = logging.getLogger("onemin.test.claims")
    _, first = _claim(output, key, make_ti(0))
    first.paying()
    first.release("its generation failed", log)
    _, second = _claim(output, key, make_ti(1))
    assert second is not None and second.number == first.number + 1


def test_a_failure_before_paying_releases_a_failure_after_keeps_the_claim(tmp_path: Path) -> None:
    output, key = str(tmp_path / "out"), make_key()
    log = logging.getLogger("onemin.test.claims")
    _, unpaid = _claim(output, key, make_ti(0))
    release_unpaid(unpaid, ValueError("upload failed"), log)
    assert current_claim(claims_folder(output, key)).closed
    _, paid = _claim(output, key, make_ti(1))
    paid.paying()
    release_unpaid(paid, ConnectionError("reset while polling"), log)
    state = current_claim(claims_folder(output, key))
    assert not state.closed and state.paying
    assert json.loads((state.folder / f"{state.number:06d}.claim.json").read_text())["owner"] == {
        **vars(Owner.of(make_ti(1)))
    }


def test_a_result_indexed_under_a_claim_never_released_is_reused(tmp_path: Path) -> None:
    output, key = str(tmp_path / "out"), make_key()
    log = logging.getLogger("onemin.test.claims")
    owner_ti = make_ti(0)
    _, owner = _claim(output, key, owner_ti)
    owner.paying()
    stored = pay_and_store(output, key, owner_ti, owner, log)
    # The owner died between indexing and releasing: remove its release, as if never written.
    released = claims_folder(output, key) / f"{owner.number:06d}.released.json"
    os.unlink(released.path)
    reused, claim = _claim(output, key, make_ti(1), timeout=5)
    assert claim is None and reused is not None
    assert read_stored(output, reused.stored_paths[0]) == read_stored(output, stored[0])
