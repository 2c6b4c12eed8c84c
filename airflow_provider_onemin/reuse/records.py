"""
The reuse index's record itself: its shape, how it is checked when read and how it is written as
JSON. Nothing here touches a store: :mod:`.index` reads and writes records in the output storage.

One record per request (schema: ``schemas/reuse_record.json``) names the generation (model, uuid,
result paths, seeds, credits when 1min.ai reported them), the SHA-256 and size of each file, and
where complete copies of the files are, newest first, relative to ``output_path``
(:data:`MAX_COPIES` of them). A record read back is trusted only when it is valid JSON, matches its
schema and its key, and lists as many files as its request asked for (:func:`decode_record`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_onemin.exceptions import OneMinReuseIndexError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.reuse.key import RequestKey

__all__ = [
    "MAX_COPIES",
    "RECORD_FORMAT",
    "Reusable",
    "TaskNames",
    "UntrustedRecord",
    "copy_entry",
    "decode_record",
    "encode_record",
    "name_under",
    "record_fields",
    "with_copy",
    "without_signed_links",
]

#: Format tag of a record; a record of another format is ignored.
RECORD_FORMAT = "onemin-reuse/1"
#: How many complete copies of a request's files a record remembers (newest first).
MAX_COPIES = 5


@dataclass(frozen=True)
class TaskNames:
    """What names a task instance's results (see ``storage.result_stem``)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    @classmethod
    def of(cls, ti: Any) -> TaskNames:
        """The names of a (runtime) task instance."""
        map_index = getattr(ti, "map_index", None)
        return cls(ti.dag_id, ti.run_id, ti.task_id, map_index if isinstance(map_index, int) else -1)


@dataclass(frozen=True)
class Reusable:
    """
    An earlier stored generation of the same request, checked file by file.

    :param key: the request key (hex).
    :param record: the index record, as read.
    :param copy: the record's entry of the copy found (``paths``, ``dag_id``, ``run_id``...).
    :param sources: its files, verified, in result order.
    """

    key: str
    record: dict[str, Any]
    copy: dict[str, Any]
    sources: list[ObjectStoragePath]

    @property
    def uuid(self) -> str:
        return self.record["uuid"]

    @property
    def results(self) -> list[str]:
        return list(self.record["results"])

    @property
    def result_urls(self) -> list[Any]:
        return list(self.record.get("result_urls") or [])

    @property
    def seeds(self) -> list[Any]:
        return list(self.record.get("seeds") or [])

    @property
    def credit(self) -> float | None:
        return self.record.get("credit")

    @property
    def stored_paths(self) -> list[str]:
        from airflow_provider_onemin.storage.results import plain_uri

        return [plain_uri(path) for path in self.sources]  # plain: no connection id inside


# --- reading a record ---------------------------------------------------------------------------


class UntrustedRecord(ValueError):
    """A record that cannot be trusted; the message says why (the lookup ignores the record)."""


def decode_record(data: bytes, digest: str) -> dict[str, Any]:
    """
    The record in ``data`` when it is valid and about ``digest``.

    :param data: the record's bytes, as read from the store.
    :param digest: the key (hex) the record was looked up under.
    :raises UntrustedRecord: when it cannot be trusted, saying why.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UntrustedRecord(f"it is not UTF-8 text ({exc})") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise UntrustedRecord(f"it is not valid JSON ({exc})") from None
    errors = sorted(_record_validator().iter_errors(record), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(record)"
        raise UntrustedRecord(f"it does not match the record schema ({where}: {errors[0].message})")
    if record["key"] != digest:
        raise UntrustedRecord(f"it records key {record['key'][:12]}..., not {digest[:12]}...")
    if any(len(copy["paths"]) != len(record["files"]) for copy in record["copies"]):
        raise UntrustedRecord("a copy does not list one file per result")
    asked = (record["request"].get("promptObject") or {}).get("num_images")
    if isinstance(asked, int) and len(record["files"]) != asked:
        # Written for a partial answer (by a version that indexed those): not the request's answer.
        raise UntrustedRecord(f"it holds {len(record['files'])} image(s) and the request asked for {asked}")
    return record


@lru_cache(maxsize=1)
def _record_validator() -> Any:
    from importlib import resources

    from jsonschema import Draft202012Validator

    text = resources.files("airflow_provider_onemin.schemas").joinpath("reuse_record.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


# --- writing a record ---------------------------------------------------------------------------


def record_fields(key: RequestKey, record: Mapping[str, Any]) -> dict[str, Any]:
    """
    What a new record says of the generation, without its files and copies.

    :param key: the request's key.
    :param record: the 1min.ai record (``aiRecord``) of the generation.
    """
    detail = record.get("aiRecordDetail") or {}
    data = [d for d in ((detail.get("responseObject") or {}).get("data") or []) if isinstance(d, dict)]
    credit = (record.get("metadata") or {}).get("credit")
    return {
        "format": RECORD_FORMAT,
        "key": key.digest,
        "request": key.request,
        # Whose price ``credit`` is (the request names it too; kept plain for people and tools).
        "model": key.request.get("model") or record.get("model"),
        "uuid": record.get("uuid"),
        "results": list(detail.get("resultObject") or []),
        "result_urls": [d.get("url") for d in data],
        "seeds": [d.get("seed") for d in data],
        "credit": credit if isinstance(credit, (int, float)) and not isinstance(credit, bool) else None,
    }


def copy_entry(paths: list[str], names: TaskNames) -> dict[str, Any]:
    """
    A record's entry for one complete copy of the files.

    :param paths: the copy's files, relative to ``output_path`` (:func:`name_under`), in result order.
    :param names: the task instance that stored them.
    """
    return {
        "paths": paths,
        "dag_id": names.dag_id,
        "run_id": names.run_id,
        "task_id": names.task_id,
        "map_index": names.map_index,
        "stored_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def with_copy(record: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``record`` with the copy ``new`` first (an older entry of the same files dropped), capped."""
    older = [c for c in record["copies"] if c["paths"] != new["paths"]]
    return {**record, "copies": [new, *older][:MAX_COPIES]}


def without_signed_links(entry: Mapping[str, Any]) -> dict[str, Any]:
    """
    ``entry`` fit to be written: its links lose their signature (signed links are credentials, never
    kept; a record of an older version that kept them is cleaned when it is rewritten).
    """
    from airflow_provider_onemin.hooks.signatures import without_signatures

    return {
        **entry,
        **{field: without_signatures(entry.get(field) or []) for field in ("results", "result_urls")},
    }


def encode_record(entry: Mapping[str, Any]) -> bytes:
    """The record's bytes as written (give it :func:`without_signed_links`'s entry)."""
    return json.dumps(entry, indent=1, sort_keys=True).encode("utf-8")


def name_under(base: ObjectStoragePath, uri: str) -> str:
    """
    ``uri`` relative to ``base``; raises when it is not under it.

    Stored URIs may or may not carry the connection id (``s3://conn@bucket/key``), and fsspec
    spells local and memory paths with or without their leading slash: both sides are compared
    without those.

    :raises OneMinReuseIndexError: when ``uri`` is not under ``base``.
    """
    parts = urlsplit(uri)
    full = (parts.netloc.rsplit("@", 1)[-1] + parts.path) if parts.scheme else uri
    full, root = full.lstrip("/"), base.path.strip("/")
    prefix = f"{root}/" if root else ""
    if not full.startswith(prefix) or full == prefix:
        raise OneMinReuseIndexError(f"{uri} is not under the output folder {base}: it cannot be indexed.")
    return full[len(prefix) :]
