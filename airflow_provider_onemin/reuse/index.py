"""
The reuse index, kept with the results in the output storage (see :mod:`.policy` for how the key is built).

It lives in the output storage itself, so it works across workers, executors and
metadata-database resets: one small JSON record per request at
``<output_path>/.onemin-reuse/<key>.json``, written atomically after the request's files are
stored (:func:`record_generation`). What a record holds, and when one read back is trusted, is
:mod:`.records`; this module reads and writes records and checks their files in the store.

**A lookup** (:func:`find_reusable`) trusts nothing it cannot check: a record that is not valid
JSON, does not match its schema or its key, lists fewer files than its request asked for, or whose
files are all missing or differ from what it records, is ignored with a warning, and the request
counts as new (it is paid for again). Only that, or no record at all, ends in paying: a store
that fails while the record or its files are read (throttling, 5xx, reset, timeout, refused
access) raises before anything is paid, classified as input reads are
(:func:`~airflow_provider_onemin.storage.errors.explain`): retryable when it passes by itself, final otherwise.

**A hit** is copied into the task instance's own names (:func:`~airflow_provider_onemin.reuse.copies.copy_results`),
so every run's folder is complete on its own; the copy is then added to the
record (:func:`record_copy`), so deleting old runs' folders does not make the index forget a
request.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import open_storage_path, read_storage_path
from airflow_provider_onemin.exceptions import (
    OneMinOutputLocationError,
    OneMinReuseIndexError,
    OneMinStorageError,
)

# The record's shape lives in .records; its names stay importable from here, where they were first.
from airflow_provider_onemin.reuse.records import (
    MAX_COPIES,
    RECORD_FORMAT,
    Reusable,
    TaskNames,
    UntrustedRecord,
    copy_entry,
    decode_record,
    encode_record,
    name_under,
    record_fields,
    with_copy,
    without_signed_links,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_onemin.reuse.key import RequestKey
    from airflow_provider_onemin.storage.errors import StorageFailure

__all__ = [
    "INDEX_FOLDER",
    "MAX_COPIES",
    "RECORD_FORMAT",
    "Reusable",
    "TaskNames",
    "find_reusable",
    "index_path",
    "record_copy",
    "record_generation",
]

log = logging.getLogger(__name__)

#: Folder under ``output_path`` that holds the index records.
INDEX_FOLDER = ".onemin-reuse"
_CHUNK = 1024 * 1024


# --- the index ----------------------------------------------------------------------------------


def index_path(output_path: Any, key: RequestKey | str) -> ObjectStoragePath:
    """Where the record of ``key`` lives under ``output_path``."""
    from airflow_provider_onemin.storage.results import as_storage_path

    return _record_path(as_storage_path(output_path), _digest(key))


def _record_path(base: ObjectStoragePath, digest: str) -> ObjectStoragePath:
    return base / INDEX_FOLDER / f"{digest}.json"


def _digest(key: RequestKey | str) -> str:
    return key if isinstance(key, str) else key.digest


def find_reusable(output_path: Any, key: RequestKey | str) -> Reusable | None:
    """
    The earlier stored generation of ``key`` under ``output_path``, or ``None``.

    Every file of the copy returned exists with the size and SHA-256 the record gives. A record
    that cannot be trusted is ignored with a warning that names it and says why.
    """
    from airflow_provider_onemin.storage.results import as_storage_path

    base = as_storage_path(output_path)
    digest = _digest(key)
    path = _record_path(base, digest)
    data = _read_record(path)
    if data is None:
        return None  # no record: a new request
    try:
        record = decode_record(data, digest)
    except UntrustedRecord as why:
        _ignore(path, str(why))
        return None
    problems = []
    for copy in record["copies"]:
        sources = [base / name for name in copy["paths"]]
        problem = _check_files(sources, record["files"])
        if problem is None:
            if problems:
                log.info("Reuse index %s: using an older copy (%s).", path, "; ".join(problems))
            return Reusable(key=digest, record=record, copy=copy, sources=sources)
        problems.append(problem)
    _ignore(path, "; ".join(problems))
    return None


#: A store's answer when the object was replaced between the look that started a read and the
#: read itself (s3fs pins a read to the ETag it saw first): S3's 412 ``PreconditionFailed``, Azure's
#: ``ConditionNotMet``. A bare 412 (no code) counts too, by its detail; gcsfs's 412 is not
#: recognised as one (storage/errors.py leaves an HttpError without a known code unclassified).
_CHANGED_WHILE_READ = frozenset({"PreconditionFailed", "ConditionNotMet"})
#: How often a record replaced while it was read is read again: each time means another task
#: instance wrote it meanwhile, and records are small and rewritten rarely.
_REREADS = 3


def _read_record(path: ObjectStoragePath) -> bytes | None:
    """
    The record's bytes, or ``None`` when there is none. A record another task instance replaced
    while this one read it (the store refuses the pinned read) is read again: the new version is
    as good as the old one, and failing would stop a task on a write that went well.
    """
    attempt = 0
    while True:
        try:
            return read_storage_path(path)
        except Exception as exc:
            failure = _failure(path, exc)
            if failure.kind == "missing":
                return None
            changed = failure.code in _CHANGED_WHILE_READ or failure.detail.startswith("HTTP 412")
            if not changed or attempt == _REREADS:
                raise _lookup_error(path, failure) from None
            log.info("Reuse index record %s was replaced while it was read; reading it again.", path)
            attempt += 1


def _check_files(sources: list[ObjectStoragePath], expected: list[dict[str, Any]]) -> str | None:
    """
    ``None`` when every file is there with its recorded size and SHA-256, else what is wrong.
    A file that cannot be checked (the store fails) raises: that is doubt, not a wrong file.
    """
    for source, want in zip(sources, expected, strict=True):
        try:
            size = source.stat().st_size
            digest = _file_digest(source)
        except Exception as exc:
            failure = _failure(source, exc)
            if failure.kind in ("missing", "not_a_file"):
                return f"{source} is missing"
            raise _lookup_error(source, failure) from None
        if size is not None and size != want["size"]:
            return f"{source} has {size} bytes, not {want['size']}"
        if digest != want["sha256"]:
            return f"{source} differs from the file that was stored (SHA-256)"
    return None


def _failure(path: ObjectStoragePath, error: Exception) -> StorageFailure:
    """What a failed read of ``path`` means, classified as input reads are (:func:`~airflow_provider_onemin.storage.errors.explain`)."""
    from airflow_provider_onemin.storage.errors import explain

    failure = explain(error)
    if failure.code and failure.code.isdigit() and failure.kind != "missing":
        # A bare status (a HEAD's answer has no body): ask for the store's own code, as input reads do.
        from airflow_provider_onemin.inputs.images import _explain_refusal

        failure = _explain_refusal(path) or failure
    return failure


def _lookup_error(path: ObjectStoragePath, failure: StorageFailure) -> OneMinStorageError:
    """
    The error for a reuse lookup that could not tell whether an earlier generation serves the
    request: retryable when the store's failure passes by itself, final when it does not.
    """
    from airflow_provider_onemin.compat import storage_path_conn_id
    from airflow_provider_onemin.storage.results import plain_uri

    where = plain_uri(path)
    message = (
        f"The reuse index could not be checked: reading {where} failed: {failure}. Nothing was "
        "uploaded or paid: whether an earlier generation already answers this request cannot be "
        f"told, and paying again on doubt could pay twice. {failure.hint(storage_path_conn_id(path))}"
    ).rstrip()
    if failure.transient or failure.kind == "other":
        return OneMinStorageError(message, uri=where, reason=failure.reason)
    return OneMinOutputLocationError(message, uri=where, reason=failure.reason)


def _ignore(path: ObjectStoragePath, why: str) -> None:
    log.warning(
        "Reuse index record %s is ignored: %s. The request counts as new and is paid for again.",
        path,
        why,
    )


def _file_digest(path: ObjectStoragePath) -> str:
    digest = hashlib.sha256()
    with open_storage_path(path) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- writing records ----------------------------------------------------------------------------


def record_generation(
    output_path: Any,
    key: RequestKey,
    record: Mapping[str, Any],
    stored_paths: list[str],
    names: TaskNames,
) -> ObjectStoragePath:
    """
    Index a generation whose files were just stored (call it after storing, never before).

    Reads the stored files back for their SHA-256, so the record describes what is in storage.
    Replaces any earlier record of the same key (a new generation of the request supersedes it).

    :param output_path: the output folder the files are under.
    :param key: the request's key.
    :param record: the 1min.ai record (``aiRecord``) of the generation.
    :param stored_paths: the stored URIs, in result order.
    :param names: the task instance that stored them.
    :return: where the record was written.
    :raises OneMinReuseIndexError: when it cannot be written (the files stay where they are).
    """
    from airflow_provider_onemin.storage.results import as_storage_path

    base = as_storage_path(output_path)
    fields = record_fields(key, record)
    try:
        names_under = [name_under(base, uri) for uri in stored_paths]
        files = [{"sha256": _file_digest(base / n), "size": (base / n).stat().st_size} for n in names_under]
    except OneMinReuseIndexError:
        raise
    except Exception as exc:
        raise OneMinReuseIndexError(
            f"The results are stored ({', '.join(stored_paths)}) but could not be read back to index "
            f"them ({type(exc).__name__}: {exc}). A retry of the task indexes them without paying again."
        ) from exc
    entry = {**fields, "files": files, "copies": [copy_entry(names_under, names)]}
    return _write_record(base, key.digest, entry)


def record_copy(output_path: Any, reusable: Reusable, stored_paths: list[str], names: TaskNames) -> None:
    """
    Add the copy a task instance just made to the record, newest first (best effort: a failure is
    logged, the copy and the earlier record stay valid).
    """
    from airflow_provider_onemin.storage.results import as_storage_path

    try:
        base = as_storage_path(output_path)
        new = copy_entry([name_under(base, uri) for uri in stored_paths], names)
        _write_record(base, reusable.key, with_copy(reusable.record, new))
    except Exception as exc:
        log.warning(
            "Could not add the copy %s to the reuse index (%s); the index still names an older copy.",
            stored_paths,
            exc,
        )


def _write_record(base: ObjectStoragePath, digest: str, entry: dict[str, Any]) -> ObjectStoragePath:
    from airflow_provider_onemin.storage.results import write_file_atomically

    target = _record_path(base, digest)
    entry = without_signed_links(entry)
    try:
        write_file_atomically(target, encode_record(entry))
    except Exception as exc:
        raise OneMinReuseIndexError(
            f"The results are stored but the reuse index record {target} could not be written "
            f"({type(exc).__name__}: {exc}). A retry of the task writes it without paying again."
        ) from exc
    return target
