"""
At most one payment per distinct request at a time: claims kept next to the reuse index.

With ``reuse=True``, a task instance that misses the index (:mod:`.reuse_index`) claims its request
before paying: it creates ``<output_path>/.onemin-reuse/claims/<key>/<n>.claim.json`` with the
store's *conditional create*, which only one writer can win. Identical requests running at the same
time (mapped lines that render the same, two runs at once, two DAGs sharing an output folder) find
the claim and wait for the claimant's result, then copy it through the usual reuse path. The claim
lives in the output storage, so every worker, executor and triggerer sees the same one.

**Conditional create.** Local folders: the complete file is written under a temporary name and
hard-linked to its name (``os.link`` fails when the name exists, like ``O_EXCL``). S3: one
``PutObject`` with ``If-None-Match: *`` (s3fs ``pipe_file(mode="create")``). Other filesystems get
what their ``pipe_file(mode="create")`` does; fsspec's default checks and then writes, which two
workers can both pass in the same instant (a weaker scheme: use local or S3 storage to be sure).

**A claim's life.** Nothing is ever overwritten or deleted while it counts; every step is one more
file created the same conditional way, so two writers cannot both win it:

* ``<n>.claim.json``: the owner (dag, run, task, map index, try) and an expiry (:data:`CLAIM_TTL`);
* ``<n>.paying.json``: written by the owner just before the paid request is sent (:meth:`Claim.paying`).
  From then on the claim never expires: its generation may be running or charged, so a waiter
  never pays because of it (fail closed); it waits, then fails with advice (:class:`ClaimWaitError`);
* ``<n>.generation.json``: the uuid 1min.ai accepted (for the waiters' messages);
* ``<n>.released.json``: the owner stored and indexed the result, or its request was not charged,
  or its generation failed. The next claimant takes number ``n + 1``.

A claim that expired before its owner wrote ``paying`` (the owner crashed, or is stuck before
paying) is taken over: a waiter creates ``<n>.paying.json`` saying ``takeover``, which the owner can
then never create, so at most one of them pays; the claim is then dead and the next is ``n + 1``.
A retry of the owner's own task instance (same dag, run, task and map index) adopts its claim: the
submission ledger decides whether that task instance resumes or pays.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.exceptions import OneMinClaimLostError, OneMinReuseWaitError
from airflow_provider_onemin.reuse.claim_files import (
    ClaimState,
    claims_folder,
    create_json,
    current_claim,
    index_changed,
    read_json,
)

if TYPE_CHECKING:
    import logging

    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.reuse.key import RequestKey
    from airflow_provider_onemin.reuse.policy import Reused

CLAIM_FORMAT = "onemin-claim/1"
#: Seconds a claim lasts before its owner says it is paying (reading and uploading the images).
CLAIM_TTL = 600.0


@dataclass(frozen=True)
class Owner:
    """The task instance (and try) that holds a claim."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int | None

    @classmethod
    def of(cls, ti: Any) -> Owner:
        map_index = getattr(ti, "map_index", None)
        try_number = getattr(ti, "try_number", None)
        return cls(
            ti.dag_id,
            ti.run_id,
            ti.task_id,
            map_index if isinstance(map_index, int) else -1,
            try_number if isinstance(try_number, int) else None,
        )

    def same_task_instance(self, other: Any) -> bool:
        return isinstance(other, dict) and all(
            other.get(name) == getattr(self, name) for name in ("dag_id", "run_id", "task_id", "map_index")
        )


def describe(owner: Any) -> str:
    """``dag / run / task [map k] try t`` of a recorded owner, for messages."""
    if not isinstance(owner, dict):
        return "an unknown task instance"
    where = f"{owner.get('dag_id')} / {owner.get('run_id')} / {owner.get('task_id')}"
    if owner.get("map_index", -1) != -1:
        where += f" [map {owner.get('map_index')}]"
    return where + f" try {owner.get('try_number')}"


# --- a held claim ----------------------------------------------------------------------------------


@dataclass
class Claim:
    """A claim this task instance holds: it pays for the request, then releases the claim."""

    folder: ObjectStoragePath
    number: int
    owner: Owner

    def _path(self, step: str) -> ObjectStoragePath:
        return self.folder / f"{self.number:06d}.{step}.json"

    @property
    def path(self) -> ObjectStoragePath:
        return self._path("claim")

    def paying(self) -> None:
        """
        Say the paid request is about to be sent (before the submission ledger's intent). After
        this the claim never expires; raises :class:`OneMinClaimLostError` when it was taken over.
        """
        entry = {"by": "owner", "owner": asdict(self.owner), "at": _now().isoformat()}
        if create_json(self._path("paying"), entry):
            return
        earlier = read_json(self._path("paying"))
        if earlier.get("by") == "owner" and self.owner.same_task_instance(earlier.get("owner")):
            return  # an earlier try of this task instance said it: the ledger knows the rest
        raise OneMinClaimLostError(
            f"This task's claim {self.path} on its request expired before it paid, and "
            f"{describe(earlier.get('owner'))} took it over. Nothing was sent or paid by this try. "
            "A retry of this task waits for the other task's result and copies it."
        )

    def generation(self, uuid: str) -> None:
        """Note the generation 1min.ai accepted (best effort: only messages read it)."""
        from airflow_provider_onemin.storage.results import write_file_atomically

        with contextlib.suppress(Exception):
            write_file_atomically(self._path("generation"), json.dumps({"uuid": uuid}).encode("utf-8"))

    def release(self, why: str, log: logging.Logger) -> None:
        """
        Let the next identical request go on: the result is indexed, or nothing was charged, or the
        generation failed. Failing to write it is logged, never raised: the result is not at risk,
        and waiters then end with :class:`OneMinReuseWaitError`.
        """
        entry = {"why": why, "owner": asdict(self.owner), "at": _now().isoformat()}
        try:
            create_json(self._path("released"), entry)
        except Exception as exc:
            log.warning("Could not release the claim %s (%s: %s).", self.path, type(exc).__name__, exc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _new_claim(folder: ObjectStoragePath, number: int, owner: Owner, ttl: float) -> Claim | None:
    now = _now()
    entry = {
        "format": CLAIM_FORMAT,
        "number": number,
        "owner": asdict(owner),
        "claimed_at": now.isoformat(),
        "expires_at": (now + timedelta(seconds=ttl)).isoformat(),
    }
    claim = Claim(folder, number, owner)
    return claim if create_json(claim.path, entry) else None


def held_claim(output_path: Any, key: RequestKey, ti: Any) -> Claim | None:
    """The open claim of ``key`` that this task instance holds (after a deferral), or None."""
    owner = Owner.of(ti)
    folder = claims_folder(output_path, key)
    state = current_claim(folder)
    if state is None or state.closed or not owner.same_task_instance(state.claim.get("owner")):
        return None
    return Claim(folder, state.number, owner)


def claim_or_reuse(
    output_path: Any,
    key: RequestKey,
    ti: Any,
    log: logging.Logger,
    *,
    wait: Callable[[], Mapping[str, float]],
    ttl: float = CLAIM_TTL,
) -> tuple[Reused | None, Claim | None]:
    """
    Look the request up in the index; on a miss, claim it (this task pays), or wait for the task
    that claimed it and reuse its result.

    :param output_path: the output folder (index and claims live under it).
    :param key: the request's key, as the operator built it.
    :param ti: the task instance asking.
    :param log: the operator's logger.
    :param wait: ``() -> {"timeout", "interval"}``: the most seconds to wait for another task's
        result and the seconds between two looks (:func:`wait_settings`); called on a miss only, so
        a hit reads no connection.
    :param ttl: seconds a new claim lasts before its owner says it is paying.
    :return: ``(reused, None)`` when another task's result was copied, ``(None, claim)`` when this
        task instance holds the claim and pays.
    :raises OneMinReuseWaitError: when the other task has not stored its result within ``timeout``.
    """
    from airflow_provider_onemin.reuse.index import find_reusable
    from airflow_provider_onemin.reuse.policy import reuse_earlier

    owner = Owner.of(ti)
    folder = claims_folder(output_path, key)
    # The index record as it was just before the first look: a claim closed later is looked up
    # again only if the record changed since (no warning twice about one bad record).
    first_seen, _ = index_changed(output_path, key, None)
    reused = reuse_earlier(output_path, key, ti, log)
    if reused is not None:
        return reused, None
    settings = wait()
    timeout, interval = settings["timeout"], settings["interval"]
    deadline = time.monotonic() + timeout
    waited_for: int | None = None
    seen: Any = None  # the index record as last looked at while waiting
    while True:
        state = current_claim(folder)
        if state is None or state.closed:
            # A closed claim may have left a result: looked up if the record changed since the first
            # look. Numbers only grow, so winning number n + 1 below means that nobody claimed,
            # paid and released since this look.
            changed = state is not None and index_changed(output_path, key, first_seen)[1]
            if changed and find_reusable(output_path, key) is not None:
                reused = reuse_earlier(output_path, key, ti, log)
                if reused is not None:
                    return reused, None
            claim = _new_claim(folder, 1 if state is None else state.number + 1, owner, ttl)
            if claim is None:
                continue  # another task won this number: look again
            if waited_for is not None:
                log.info(
                    "The claim on request %s was released without a result (not charged, or its "
                    "generation failed): this task pays for it.",
                    key.digest[:12],
                )
            return None, claim
        if owner.same_task_instance(state.claim.get("owner")):
            log.info("This task instance already holds the claim %s on its request: going on.", state.path)
            return None, Claim(folder, state.number, owner)
        if not state.paying and state.expired(_now()):
            log.warning(
                "The claim %s of %s expired before it paid: taking it over.",
                state.path,
                describe(state.claim.get("owner")),
            )
            taker = {"by": "takeover", "owner": asdict(owner), "at": _now().isoformat()}
            create_json(folder / f"{state.number:06d}.paying.json", taker)
            continue
        if waited_for != state.number:
            waited_for = state.number
            log.info(
                "Request %s is being paid for by %s (claim %s%s): waiting up to %.0f s for its result "
                "instead of paying again.",
                key.digest[:12],
                describe(state.claim.get("owner")),
                state.path,
                f", generation {state.uuid}" if state.uuid else "",
                max(0.0, deadline - time.monotonic()),
            )
        seen, indexed = index_changed(output_path, key, seen)
        if indexed and find_reusable(output_path, key) is not None:
            # Indexed while the claim is still open (its owner died before releasing it).
            reused = reuse_earlier(output_path, key, ti, log)
            if reused is not None:
                return reused, None
        if time.monotonic() >= deadline:
            raise _wait_error(state, key, timeout)
        time.sleep(interval)


def _wait_error(state: ClaimState, key: RequestKey, timeout: float) -> OneMinReuseWaitError:
    owner = describe(state.claim.get("owner"))
    if state.paying:
        what = (
            f"it may have paid for generation {state.uuid}"
            if state.uuid
            else "it said it was sending the paid request (its generation may have been charged)"
        )
        release = (
            f"If that task failed for good, clear it: it resumes its generation without paying again, "
            f"stores and indexes it, and this task's retry copies it. Only if you know nothing was "
            f"charged, or accept paying again, delete the folder {state.folder} and clear this task."
        )
    else:
        what = f"it has not started paying yet (the claim expires at {state.claim.get('expires_at')})"
        release = "A retry of this task waits again, and takes the claim over once it expires."
    return OneMinReuseWaitError(
        f"Waited {timeout:.0f} s for request {key.digest[:12]}, claimed by {owner} ({state.path}): {what}, "
        f"and no result is indexed yet. Nothing was uploaded or paid by this task. {release}",
        claim=str(state.path),
    )


# --- what the operator calls around paying ---------------------------------------------------------


def wait_settings(operator: Any) -> dict[str, float]:
    """
    How long (``timeout``) and how often (``interval``) an operator waits for another task's result:
    its ``reuse_wait_timeout``, else its poll timeout (the connection's by default) plus
    :data:`CLAIM_TTL` (the claimant's uploads before, and storing after); its poll interval.
    """
    settings = operator.hook.settings
    poll_timeout = settings.poll_timeout if operator.poll_timeout is None else operator.poll_timeout
    interval = settings.poll_interval if operator.poll_interval is None else operator.poll_interval
    timeout = operator.reuse_wait_timeout
    return {"timeout": poll_timeout + CLAIM_TTL if timeout is None else timeout, "interval": interval}


def release(claim: Claim | None, why: str, log: logging.Logger) -> None:
    """:meth:`Claim.release`, when there is a claim."""
    if claim is not None:
        claim.release(why, log)


def release_unpaid(claim: Claim | None, error: BaseException, log: logging.Logger) -> None:
    """
    The task failed: release its claim only if it never said it was paying (no try of this task
    instance did), so a generation that may be running or charged keeps its claim (fail closed).
    """
    if claim is None:
        return
    try:
        paying = claim._path("paying").exists()
    except Exception:
        return  # cannot tell: keep the claim (it expires if nothing was paid)
    if not paying:
        claim.release(f"not paid: {type(error).__name__}", log)
