"""
The files of a claim (see :mod:`.claims`): where they live, creating one only if it is absent, in
one step, and reading the newest claim of a request as it is now (never from a listing cache).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid as uuid_module
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.reuse.key import RequestKey

#: Folder, under the reuse index's folder, holding one folder of claims per request key.
CLAIMS_FOLDER = "claims"
_LOCAL_PROTOCOLS = frozenset({"file", "local", ""})
STEPS = ("claim", "paying", "generation", "released")


def claims_folder(output_path: Any, key: RequestKey | str) -> ObjectStoragePath:
    """Where the claims of ``key`` live under ``output_path``."""
    from airflow_provider_onemin.reuse.index import INDEX_FOLDER
    from airflow_provider_onemin.storage.location import as_storage_path

    digest = key if isinstance(key, str) else key.digest
    return as_storage_path(output_path) / INDEX_FOLDER / CLAIMS_FOLDER / digest


def create_exclusive(path: ObjectStoragePath, data: bytes) -> bool:
    """Create ``path`` with ``data`` if nothing is there, in one step; False when it exists."""
    if path.protocol in _LOCAL_PROTOCOLS:
        folder = os.path.dirname(path.path)
        os.makedirs(folder, exist_ok=True)
        spool = os.path.join(folder, f".{os.path.basename(path.path)}.{uuid_module.uuid4().hex}.part")
        try:
            with open(spool, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(spool, path.path)  # whole, and only if the name is free
        except FileExistsError:
            return False
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool)
        return True
    try:
        path.fs.pipe_file(path.path, data, mode="create")  # S3: PutObject with If-None-Match: *
    except FileExistsError:
        return False
    return True


def create_json(path: ObjectStoragePath, entry: dict[str, Any]) -> bool:
    return create_exclusive(path, json.dumps(entry, indent=1, sort_keys=True).encode("utf-8"))


def read_json(path: ObjectStoragePath) -> dict[str, Any]:
    try:
        value = json.loads(path.fs.cat_file(path.path))
    except (ValueError, FileNotFoundError):
        return {"unreadable": True}
    return value if isinstance(value, dict) else {"unreadable": True}


@dataclass(frozen=True)
class ClaimState:
    """The newest claim of a request and the steps its owner (or a taker) has written."""

    folder: ObjectStoragePath
    number: int
    steps: dict[str, dict[str, Any]]

    @property
    def claim(self) -> dict[str, Any]:
        return self.steps.get("claim") or {"unreadable": True}

    @property
    def path(self) -> ObjectStoragePath:
        return self.folder / f"{self.number:06d}.claim.json"

    @property
    def closed(self) -> bool:
        """Released, or taken over: nobody pays under it any more."""
        return "released" in self.steps or (self.steps.get("paying") or {}).get("by") == "takeover"

    @property
    def paying(self) -> bool:
        """Its owner may have sent the paid request (or the claim cannot be read: fail closed)."""
        return "paying" in self.steps or self.claim.get("unreadable", False)

    @property
    def uuid(self) -> str | None:
        return (self.steps.get("generation") or {}).get("uuid")

    def expired(self, now: datetime) -> bool:
        try:
            return now >= datetime.fromisoformat(self.claim["expires_at"])
        except (KeyError, TypeError, ValueError):
            return False


def current_claim(folder: ObjectStoragePath) -> ClaimState | None:
    """The newest claim in ``folder`` (a fresh listing, never a cached one), or None."""
    fs = folder.fs
    with contextlib.suppress(AttributeError):
        fs.invalidate_cache(folder.path)
    try:
        names = [os.path.basename(str(name).rstrip("/")) for name in fs.ls(folder.path, detail=False)]
    except FileNotFoundError:
        return None
    numbered: dict[int, set[str]] = {}
    for name in names:
        number, _, rest = name.partition(".")
        step = rest.removesuffix(".json")
        if number.isdigit() and step in STEPS and rest.endswith(".json"):
            numbered.setdefault(int(number), set()).add(step)
    if not numbered:
        return None
    number = max(numbered)
    steps = {step: read_json(folder / f"{number:06d}.{step}.json") for step in numbered[number]}
    return ClaimState(folder, number, steps)


def index_changed(output_path: Any, key: RequestKey, seen: Any) -> tuple[Any, bool]:
    """A cheap look at the index record (its listing entry): ``(what it is now, changed since seen)``."""
    from airflow_provider_onemin.reuse.index import index_path

    path = index_path(output_path, key)
    with contextlib.suppress(AttributeError):
        path.fs.invalidate_cache(path.parent.path)
    try:
        info = path.fs.info(path.path)
    except FileNotFoundError:
        return None, False
    now = (info.get("size"), info.get("mtime") or info.get("LastModified") or info.get("ETag"))
    return now, now != seen
