"""
The harness of the model-based hunt (tests/project/test_stateful_hunt.py): how one try of a task instance
is run cheaply with the real operator, and how crashes and storage hiccups are injected.

One try is ``BackgroundReplacerOperator.execute()`` (and ``execute_complete()`` after a deferral,
the trigger run in this process) with the context surface the operator reads: a task instance
(names, try number, XCom) and Airflow 3.3's ``task_state_store``, which survives retries and
clears. A ``dag.test()`` costs seconds per run on a shared machine; this costs a few HTTP calls to
the emulator. Everything below the context is real: the hook over loopback HTTP, the emulator,
the local output folder, the reuse index.

A *crash* is :class:`WorkerCrash`, a ``BaseException`` raised right after one of the paid path's
steps returned (no ``except Exception`` in the provider catches it): the worker died there. A
*storage hiccup* is the error s3fs raises for S3's ``SlowDown`` (an ``OSError`` chained from a
botocore-like ``ClientError``), raised by the n-th call of the output storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from airflow_provider_onemin.submissions.ledger import STATE_KEY

__all__ = ["STATE_KEY"]


# --- inputs -------------------------------------------------------------------------------------


def photo_variant(index: int) -> bytes:
    """A small product photo: a white studio backdrop and a coloured product, one per ``index``."""
    colours = [(200, 30, 30), (30, 160, 40), (40, 60, 200), (220, 170, 20)]
    image = Image.new("RGB", (40, 40), (255, 255, 255))
    left = 6 + 6 * index
    image.paste(colours[index % len(colours)], (left, 10, left + 14, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the task instance's context ----------------------------------------------------------------


class TaskStateStore:
    """Airflow 3.3's ``task_state_store`` surface: JSON values by key, kept across tries and clears."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self.lock:
            return json.loads(json.dumps(self.data[key])) if key in self.data else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        with self.lock:
            self.data[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        with self.lock:
            self.data.pop(key, None)


@dataclass
class TaskInstance:
    """The runtime task instance surface the operator reads, and the XCom it pushed (per try)."""

    run_id: str
    try_number: int = 0
    dag_id: str = "hunt"
    task_id: str = "replace"
    map_index: int = -1
    xcom: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = json.loads(json.dumps(value))


# --- crashes and hiccups ------------------------------------------------------------------------


class WorkerCrash(BaseException):
    """The worker died right after a step of the paid path (no handler of the provider sees it)."""


#: The paid path's steps a crash may follow: (module, owner attribute or None, function). A step
#: is named ``<owner or module>.<function>`` (:func:`step_name`).
CRASH_POINTS: tuple[tuple[str, str | None, str], ...] = (
    ("airflow_provider_onemin.hooks.onemin", "OneMinHook", "upload_asset"),
    ("airflow_provider_onemin.submissions.ledger", "SubmissionLedger", "record_intent"),
    ("airflow_provider_onemin.hooks.onemin", "OneMinHook", "run_feature"),
    ("airflow_provider_onemin.submissions.ledger", "SubmissionLedger", "record_uuid"),
    ("airflow_provider_onemin.hooks.onemin", "OneMinHook", "wait_for_end"),
    ("airflow_provider_onemin.submissions.ledger", "SubmissionLedger", "record_outcome"),
    ("airflow_provider_onemin.storage.results", None, "store_result"),
    ("airflow_provider_onemin.storage.results", None, "write_file_atomically"),
    ("airflow_provider_onemin.reuse.index", None, "record_generation"),
    ("airflow_provider_onemin.reuse.copies", None, "copy_results"),
    ("airflow_provider_onemin.reuse.index", None, "record_copy"),
)


def step_name(module: str, owner: str | None, function: str) -> str:
    return f"{owner or module.removeprefix('airflow_provider_onemin.')}.{function}"


#: ObjectStoragePath calls a storage hiccup may hit.
STORAGE_CALLS = ("exists", "is_file", "read_text", "read_bytes", "open", "stat")


class _ClientError(Exception):
    """Shaped like botocore's ``ClientError``: storage_errors reads ``response`` and the class name."""

    def __init__(self, code: str) -> None:
        super().__init__(f"An error occurred ({code}) when calling the GetObject operation")
        self.response = {"Error": {"Code": code, "Message": "Please reduce your request rate."}}


def storage_hiccup() -> OSError:
    """What s3fs raises when S3 answers ``SlowDown``: an ``OSError`` chained from the ClientError."""
    error = OSError(5, "Please reduce your request rate.")
    error.__cause__ = _ClientError("SlowDown")
    return error


class Injector:
    """
    Arms one crash (right after the first call of a named paid-path step in a try) and one
    storage hiccup (at the n-th call of the output storage) for the next try; ``installed``
    wraps the steps for the life of one sequence.
    """

    def __init__(self, output_root: Path) -> None:
        self.output_root = str(output_root)
        self.crash_after: str | None = None
        self.hiccup_at: int | None = None
        self.steps: list[str] = []
        self.storage_calls = 0
        self.hiccups = 0
        self.enabled = threading.local()

    @contextlib.contextmanager
    def installed(self) -> Iterator[Injector]:
        import importlib

        from airflow.sdk import ObjectStoragePath

        saved: list[tuple[Any, str, Any, bool]] = []
        try:
            for module_name, owner_name, name in CRASH_POINTS:
                module = importlib.import_module(module_name)
                owner = getattr(module, owner_name) if owner_name else module
                original = getattr(owner, name)
                saved.append((owner, name, original, name in vars(owner)))
                setattr(owner, name, self._after_step(step_name(module_name, owner_name, name), original))
            for name in STORAGE_CALLS:
                original = getattr(ObjectStoragePath, name)
                saved.append((ObjectStoragePath, name, original, name in vars(ObjectStoragePath)))
                setattr(ObjectStoragePath, name, self._storage_call(original))
            yield self
        finally:
            for owner, name, original, own in reversed(saved):
                if own:
                    setattr(owner, name, original)
                else:
                    delattr(owner, name)  # it was inherited

    def arm(self, crash_after: str | None, hiccup_at: int | None) -> None:
        self.crash_after, self.hiccup_at = crash_after, hiccup_at
        self.steps, self.storage_calls = [], 0
        self.enabled.on = True

    def disarm(self) -> None:
        self.crash_after = self.hiccup_at = None
        self.enabled.on = False

    def _on(self) -> bool:
        return getattr(self.enabled, "on", False)

    def _after_step(self, step: str, original: Any) -> Any:
        injector = self

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if injector._on():
                injector.steps.append(step)
                if injector.crash_after == step:
                    injector.crash_after = None
                    raise WorkerCrash(f"worker lost right after {step}")
            return result

        wrapped.__wrapped__ = original  # type: ignore[attr-defined]
        return wrapped

    def _storage_call(self, original: Any) -> Any:
        injector = self

        def wrapped(path: Any, *args: Any, **kwargs: Any) -> Any:
            if injector._on() and str(getattr(path, "path", path)).lstrip("/").startswith(
                injector.output_root.lstrip("/")
            ):
                injector.storage_calls += 1
                if injector.hiccup_at is not None and injector.storage_calls == injector.hiccup_at:
                    injector.hiccup_at = None
                    injector.hiccups += 1
                    raise storage_hiccup()
            return original(path, *args, **kwargs)

        return wrapped


# --- what a try wrote -----------------------------------------------------------------------------


#: Loggers of this process that are not the task's: the emulator serving it.
NOT_THE_TASKS = ("airflow_provider_onemin.emulator", "uvicorn")


class LogCapture(logging.Handler):
    """
    Every log line of the try at INFO and above (Airflow's default task log level), formatted as
    a task log would hold it, tracebacks included. (At DEBUG, urllib3 logs every URL it fetches,
    signed download links included: a deployment that logs tasks at DEBUG keeps them.)
    """

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(NOT_THE_TASKS):
            self.lines.append(self.format(record))


@contextlib.contextmanager
def captured_logs() -> Iterator[LogCapture]:
    handler = LogCapture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) or logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def first_trigger_event(trigger: Any) -> dict[str, Any]:
    """Run a trigger in this process, as the triggerer would, until its first event's payload."""

    async def first() -> Any:
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    event = asyncio.run(first())
    return event.payload
