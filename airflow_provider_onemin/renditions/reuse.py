"""
Reusing renditions made before (``RenditionsOperator(reuse=True)``, docs/renditions.md "Reuse").

**The key** of a rendition is the SHA-256 of a canonical JSON document of everything that decides
its bytes and its compliance report: :data:`RENDERER_VERSION`, the versions of Pillow and its
codecs (:func:`engine`), the source's bytes (their SHA-256, not the URI: a new file at the same
URI is a new source), the resolved preset (every field), the mask's bytes when one is given, and
what the batch decides for every rendition of one source (:func:`batch_context`: the size a JPEG
is decoded at, which follows from every preset of the batch, and the presets' backgrounds, which
decide whether a cut-out is composed onto its background once before scaling).

**The index** is one small JSON record per key at
``<output_path>/.onemin-reuse/renditions/<key>.json`` (beside the paid requests' index of
:mod:`airflow_provider_onemin.reuse.index`, so one hidden folder holds all reuse state), in the
output storage itself (shared by every worker, executor and process; nothing on a worker's
disk), written whole through the code that stores results (temporary name and rename on a local
folder, one upload on an object store) only after the rendition it names was stored. It names that
file (relative to ``output_path``), its SHA-256 and size, the frame its channel's rule expects,
and the report's fields that the file alone does not tell (how it was made).

**A lookup** trusts nothing it cannot check: a record that cannot be read, is not valid, or names
another key is ignored; the earlier file is read once, into the task's local spool, and used only
when those very bytes have the recorded size and SHA-256 (no window between the check and the
copy); the report's file facts are measured again on them and the channel's rule is checked again.
The product-fidelity score is computed for every call, never read from a record: it decides
whether a person must review a rendition, and a record is only as trustworthy as the folder.
Any doubt renders anew, with a log line that says why: renditions cost no money, so a miss only
costs time. Concurrent writers of one key write records that name equally good files; the last
write wins.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.compat import open_storage_path, read_storage_path

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from airflow_provider_onemin.renditions.presets import Preset

__all__ = ["INDEX_FOLDER", "RECORD_FORMAT", "RENDERER_VERSION", "RenditionIndex", "batch_context", "sha256"]

#: Bump it whenever a change to the rendering code (render.py, compliance.py, batch.py) changes a
#: rendition's bytes or its report: every earlier record then stops matching and renders anew.
RENDERER_VERSION = 2
#: Folder under ``output_path`` that holds the records (in the paid requests' index folder).
INDEX_FOLDER = ".onemin-reuse/renditions"
#: Format tag of a record; a record of another format is ignored.
RECORD_FORMAT = "onemin-renditions/1"
#: The report fields of one call (what it was asked), never taken from a record.
_PER_CALL = ("source", "source_index", "uri", "spool", "fidelity", "needs_review")
_CHUNK = 1024 * 1024


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def batch_context(presets: list[Preset], decode_size: tuple[int, int] | None) -> dict[str, Any]:
    """
    What the batch decides for every rendition of one source, beyond its own preset: the size the
    source is decoded at (None: full size) and the presets' backgrounds (a cut-out whose presets
    all share one background is composed onto it before scaling).
    """
    backgrounds = sorted({json.dumps(preset.background) for preset in presets})
    return {"decode_size": list(decode_size) if decode_size else None, "backgrounds": backgrounds}


def engine() -> dict[str, Any]:
    """The versions of Pillow and the codecs it encodes with: another version may encode other bytes."""
    import PIL
    from PIL import features

    return {
        "pillow": PIL.__version__,
        **{name: features.version(name) for name in ("jpg", "webp", "zlib", "littlecms2")},
    }


def rendition_key(
    source_sha: str, preset: Preset, mask_sha: str | None, context: dict[str, Any], codecs: dict[str, Any]
) -> str:
    """The key of one rendition (module docstring): hex SHA-256 of a canonical JSON document."""
    document = {
        "renderer": RENDERER_VERSION,
        "engine": codecs,
        "source_sha256": source_sha,
        "preset": asdict(preset),
        "mask_sha256": mask_sha,
        "context": context,
    }
    return sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8"))


class RenditionIndex:
    """
    The records of one output folder, and what one batch did with them.

    :param output_path: the output folder (as the operator's ``output_path``).
    :param log: where hits, misses and their reasons are logged.
    """

    def __init__(self, output_path: Any, log: logging.Logger | Any) -> None:
        from airflow_provider_onemin.storage.results import as_storage_path

        self.base = as_storage_path(output_path)
        self.log = log
        self.engine = engine()
        self.rendered = 0
        self.reused = 0
        #: Renditions rendered in this batch, recorded once stored: (key, preset, spool, report, frame).
        self.pending: list[tuple[str, Preset, str, dict[str, Any], tuple[int, int]]] = []

    def rendered_one(
        self, key: str, preset: Preset, spool: str, report: dict[str, Any], frame: tuple[int, int]
    ) -> None:
        """Note a rendition rendered in this batch, to :meth:`record` once it is stored."""
        self.rendered += 1
        self.pending.append((key, preset, spool, report, frame))

    def _record_path(self, key: str) -> Any:
        return self.base / INDEX_FOLDER / f"{key}.json"

    def reuse(
        self,
        key: str,
        preset: Preset,
        spool: str,
        *,
        source: tuple[int, str],
        fidelity: dict[str, Any] | None,
        threshold: float,
    ) -> dict[str, Any] | None:
        """
        The compliance report of an earlier rendition of ``key``, its file read into ``spool`` and
        checked, or None (then nothing is left at ``spool``; the reason is logged).

        The report is what a fresh render reports: the file's facts measured again on the bytes
        read, how it was made from the record, this call's source and fidelity (the score is
        computed for each call, never read from a record: it decides whether a person must review).

        :param source: this call's position and URI of the source image.
        :param fidelity: this call's fidelity entry for the source (None without a mask).
        :param threshold: this call's fidelity threshold.
        """
        from airflow_provider_onemin.renditions.compliance import inspect, violations

        record = self._read(key)
        if record is None:
            return None
        earlier = self.base / record["file"]["name"]
        problem = _fetch(earlier, spool, record["file"])
        report: dict[str, Any] = {}
        if problem is None:
            report = {"source": source[1], "source_index": source[0], **record["report"]}
            report.update(inspect(spool, preset))
            broken = violations(report, preset, tuple(record["frame"]))
            if broken:
                os.unlink(spool)
                problem = f"{earlier} breaks the channel's rule now: {'; '.join(broken)}"
        if problem is not None:
            self.log.warning("Rendition %s... (%s) is rendered anew: %s", key[:12], preset.name, problem)
            return None
        score = fidelity and fidelity["score"]
        report["fidelity"] = fidelity
        report["needs_review"] = bool(fidelity) and (score is None or score > threshold)
        report["spool"] = spool
        self.reused += 1
        self.log.debug("Reused rendition %s... (%s) from %s", key[:12], preset.name, earlier)
        return report

    def _read(self, key: str) -> dict[str, Any] | None:
        path = self._record_path(key)
        try:
            data = read_storage_path(path)
        except FileNotFoundError:
            return None
        except Exception as exc:  # doubt is a miss: rendering anew costs time, never money
            self.log.warning("Rendition index record %s could not be read (%s); rendering anew", path, exc)
            return None
        problem = None
        try:
            record = json.loads(data.decode("utf-8"))
        except ValueError as exc:
            record, problem = None, f"it is not JSON ({exc})"
        if problem is None:
            problem = _invalid(record, key)
        if problem is not None:
            self.log.warning("Rendition index record %s is ignored: %s; rendering anew", path, problem)
            return None
        return record

    def record_stored(self, stem: Callable[[str, int], str]) -> None:
        """
        Index every rendition this batch rendered, once all are stored.

        :param stem: the stored name of a channel's rendition of an image, without extension
            (``Names.stem``).
        """
        for key, preset, spool, report, frame in self.pending:
            name = f"{stem(preset.name, report['source_index'])}{os.path.splitext(spool)[1]}"
            self.record(key, preset, name, spool, report, frame)

    def record(
        self, key: str, preset: Preset, name: str, spool: str, report: dict[str, Any], frame: tuple[int, int]
    ) -> None:
        """
        Index a rendition just stored at ``output_path/name`` from ``spool`` (call it after storing).
        A record that cannot be written is logged, not raised: the rendition is stored, and the
        next run renders it again.
        """
        from airflow_provider_onemin.storage.results import write_file_atomically

        digest, size = _file_sha256(spool)
        entry = {
            "format": RECORD_FORMAT,
            "key": key,
            "renderer": RENDERER_VERSION,
            "preset": asdict(preset),
            "file": {"name": name, "sha256": digest, "size": size},
            "frame": list(frame),
            "report": {k: v for k, v in report.items() if k not in _PER_CALL},
        }
        path = self._record_path(key)
        try:
            write_file_atomically(path, json.dumps(entry, indent=1, sort_keys=True).encode("utf-8"))
        except Exception as exc:
            self.log.warning("Rendition index record %s could not be written (%s); not indexed", path, exc)


def _invalid(record: Any, key: str) -> str | None:
    """Why ``record`` cannot be the record of ``key`` (None: it can)."""
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return f"it is not a {RECORD_FORMAT} record"
    if record.get("key") != key:
        return f"it records key {str(record.get('key'))[:12]}..., not {key[:12]}..."
    file = record.get("file")
    if not (
        isinstance(file, dict)
        and isinstance(file.get("name"), str)
        and isinstance(file.get("sha256"), str)
        and isinstance(file.get("size"), int)
    ):
        return "its file entry is not {name, sha256, size}"
    parts = file["name"].split("/")
    if file["name"].startswith("/") or "://" in file["name"] or any(p in ("", ".", "..") for p in parts):
        return f"its file name {file['name']!r} is not a plain name under the output folder"
    frame = record.get("frame")
    if not isinstance(record.get("report"), dict) or not (
        isinstance(frame, list) and len(frame) == 2 and all(isinstance(v, int) for v in frame)
    ):
        return "it has no report or frame"
    return None


def _fetch(source: Any, spool: str, want: dict[str, Any]) -> str | None:
    """
    Read ``source`` into ``spool`` and check it against ``want`` (size, SHA-256); what is wrong,
    or None. On any problem ``spool`` is removed.
    """
    digest = hashlib.sha256()
    size = 0
    try:
        with open_storage_path(source) as reader, open(spool, "wb") as writer:
            while chunk := reader.read(_CHUNK):
                size += len(chunk)
                if size > want["size"]:
                    break
                digest.update(chunk)
                writer.write(chunk)
    except FileNotFoundError:
        problem: str | None = f"{source} is missing"
    except Exception as exc:
        problem = f"{source} could not be read ({type(exc).__name__}: {exc})"
    else:
        problem = None
        if size != want["size"]:
            problem = f"{source} is not {want['size']} bytes long"
        elif digest.hexdigest() != want["sha256"]:
            problem = f"{source} differs from the file that was stored (SHA-256)"
    if problem is not None and os.path.exists(spool):
        os.unlink(spool)
    return problem


def _file_sha256(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
