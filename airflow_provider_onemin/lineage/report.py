"""
OpenLineage for the Background Replacer: what a run read, what it wrote, and what it asked for.

The operator reports its own lineage through ``get_openlineage_facets_on_start/complete/failure``,
as Airflow's providers do; the OpenLineage provider (the ``openlineage`` extra) calls them. Its
report is complete, because OpenLineage uses Airflow's hook-level lineage (where
``ObjectStoragePath`` reports its reads and writes) only for operators that report nothing:

* **inputs**: the source image and each style reference that is a local file or an object in
  object storage, and, when earlier results were reused, the stored files they were copied from;
* **outputs**: each stored result;
* **run facet** ``oneMinGeneration`` (:class:`~airflow_provider_onemin.lineage.facets.OneMinGenerationRunFacet`):
  model, prompt, negative prompt, seed(s), number of images, the generation's uuid, what the run
  spent in credits (``credits``: none when 1min.ai did not report it), the request's
  identity (``requestKey``, :func:`~airflow_provider_onemin.reuse.key.request_key`), whether it was
  reused, and the references that are not datasets (1min.ai asset paths and URLs). Never the API key.

Datasets are named as OpenLineage's naming spec says for files and object stores::

    /data/mug.png, file:///data/mug.png    namespace "file"           name "/data/mug.png"
    file://host/data/mug.png               namespace "file://host"    name "/data/mug.png"
    s3://bucket/a/b.png (s3://conn@bucket) namespace "s3://bucket"    name "a/b.png"
    gs://bucket/a/b.png (gcs://)           namespace "gs://bucket"    name "a/b.png"
    abfss://container@account.dfs.core.windows.net/a.png
                                           namespace "abfss://container@account.dfs.core.windows.net"
                                           name "a.png"
    abfs://container/a.png (abfs://conn@container, az://...)
                                           namespace "abfs://container"   name "a.png"

A local file's namespace is the spec's ``file://{host}`` with no host, written ``file`` as Airflow's
own file assets do, so the same file gets the same dataset from every producer. An Airflow
connection id in an object-storage URL (``s3://conn_id@bucket/key``) is not part of the dataset.

Only the functions that build OpenLineage objects import OpenLineage, so this module is safe to
import without the extra. Nothing here calls the Airflow API: OpenLineage runs the extraction in a
forked child of the task process by default, where a call through the supervisor's channel is not
safe, so everything comes from the operator instance (its rendered arguments and
:class:`GenerationOutcome`).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_onemin.hooks.signatures import link_without_query
from airflow_provider_onemin.inputs.images import classify_reference

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

#: The key of the run facet in an OpenLineage event's ``run.facets``.
FACET_NAME = "oneMinGeneration"

_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}
#: Azure's URLs name the container before the "@" and the account host after it: there it is part of
#: the namespace, not a conn id (Airflow's ``abfs://conn_id@container/key`` has no dot after the "@").
_CONTAINER_AT_ACCOUNT = frozenset({"abfs", "abfss", "wasb", "wasbs", "az", "adl"})
_LOCAL_HOSTS = frozenset({"", "localhost"})


#: The operator arguments of the models other than ideogram-3 (docs/models.md), in the facet's
#: ``options``: written out here, since this module reads no schema.
MODEL_OPTIONS = ("size", "quality", "background", "output_format", "output_compression", "style", "substyle")


@dataclass
class GenerationOutcome:
    """
    What a run of the operator got, kept on the operator instance for its lineage report.

    The values are the ones the operator pushes to XCom under the same names.

    :param uuid: the generation's ``aiRecord.uuid`` (XCom ``ai_record_uuid``), known once submitted.
    :param results: the results' 1min.ai asset paths (XCom ``return_value``).
    :param result_urls: the results' URLs (XCom ``result_urls``).
    :param seeds: each result's seed (XCom ``seeds``).
    :param stored_paths: the stored files' URIs (XCom ``stored_paths``).
    :param reused_from: ``{"uuid", "stored_paths"}`` of the earlier generation whose results were
        reused (XCom ``reused_from``), else ``None``.
    :param credits: what this run spent (XCom ``credits``): 1min.ai's figure, 0 when reused,
        ``None`` when unknown (or nothing delivered yet).
    """

    uuid: str | None = None
    results: list[str] = field(default_factory=list)
    result_urls: list[str | None] = field(default_factory=list)
    seeds: list[int | None] = field(default_factory=list)
    stored_paths: list[str] = field(default_factory=list)
    reused_from: dict[str, Any] | None = None
    credits: float | None = None


@dataclass
class LineageReport:
    """The lineage of one run, without OpenLineage's classes: ``(namespace, name)`` pairs and facet fields."""

    inputs: list[tuple[str, str]]
    outputs: list[tuple[str, str]]
    facet: dict[str, Any]


def dataset_name(ref: str) -> tuple[str, str] | None:
    """
    The OpenLineage ``(namespace, name)`` of a local file or object-storage reference.

    :param ref: an image reference or a stored result's URI, as the operator takes them.
    :return: ``None`` for what is not a dataset: a 1min.ai asset path or an ``http(s)`` URL.
    """
    kind = classify_reference(ref)
    text = ref.strip()
    if kind == "file":
        if "://" not in text:
            return "file", posixpath.normpath(text)
        parts = urlsplit(text)
        host = parts.netloc.lower()
        namespace = "file" if host in _LOCAL_HOSTS else f"file://{parts.netloc}"
        return namespace, posixpath.normpath(parts.path or "/")
    if kind == "object":
        parts = urlsplit(text)
        scheme = _SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
        authority = parts.netloc.rpartition("@")[2]
        if scheme in _CONTAINER_AT_ACCOUNT and "." in authority:
            # Azure's own form, container@account.dfs.core.windows.net; Airflow's is conn_id@container,
            # and a container name has no dot.
            authority = parts.netloc
        name = parts.path.lstrip("/")
        if not authority:
            return scheme, name
        return f"{scheme}://{authority}", name
    return None


def public_reference(ref: str) -> str:
    """
    ``ref`` as it may be recorded: a URL loses its user info, query string and fragment (a signed
    URL's signature is a credential); an asset path is kept as it is.
    """
    text = ref.strip()
    if classify_reference(text) != "url":
        return text
    return link_without_query(text)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _references(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)]


def describe(operator: Any, outcome: GenerationOutcome | None = None) -> LineageReport:
    """
    The lineage of a run of ``operator`` (a ``OneMinGenerationOperator`` with rendered arguments).

    :param operator: the operator instance.
    :param outcome: what the run got so far; ``None`` before anything was submitted.
    """
    # What only some operators have (a Background Remover has no prompt, seed or style) is read
    # with a default: None, or one image.
    image_url = getattr(operator, "image_url", None)
    source = image_url if isinstance(image_url, str) else None
    references = _references(getattr(operator, "style_reference_images", None))
    inputs: list[tuple[str, str]] = []
    source_record = None
    for ref in ([source] if source else []) + references:
        dataset = dataset_name(ref)
        if dataset is not None:
            if dataset not in inputs:
                inputs.append(dataset)
        elif ref == source:
            source_record = public_reference(ref)
    other_references = [public_reference(r) for r in references if dataset_name(r) is None]
    outcome = outcome or GenerationOutcome()
    reused_from = outcome.reused_from or None
    if reused_from:
        for uri in reused_from.get("stored_paths") or []:
            dataset = dataset_name(uri)
            if dataset is not None and dataset not in inputs:
                inputs.append(dataset)
    outputs = [d for d in (dataset_name(uri) for uri in outcome.stored_paths) if d is not None]
    uuid = outcome.uuid or (reused_from or {}).get("uuid")
    facet: dict[str, Any] = {
        "model": operator.model,
        "prompt": getattr(operator, "prompt", None),
        "negativePrompt": getattr(operator, "negative_prompt", None),
        "numImages": _integer(getattr(operator, "num_images", 1)),
        "seed": _integer(getattr(operator, "seed", None)),
        "seeds": [s for s in outcome.seeds if isinstance(s, int)],
        "uuid": uuid,
        # The request's identity (images by content), as the submission record and the reuse index
        # name it: computed by the operator (this module reads no file).
        "requestKey": getattr(getattr(operator, "request_identity", None), "digest", None),
        "reused": bool(reused_from),
        "credits": outcome.credits,
        "sourceImage": source_record,
        "styleReferenceImages": other_references,
        "resultPaths": list(outcome.results),
        "resultUrls": [public_reference(u) for u in outcome.result_urls if isinstance(u, str)],
        "renderingSpeed": getattr(operator, "rendering_speed", None),
        "magicPrompt": getattr(operator, "magic_prompt", None),
        "styleType": getattr(operator, "style_type", None),
        "stylePreset": getattr(operator, "style_preset", None),
        "feature": getattr(operator, "feature", None),
        # The other models' own options (docs/models.md), as asked; absent ones left out.
        "options": _model_options(operator),
    }
    return LineageReport(inputs=inputs, outputs=outputs, facet=facet)


def _model_options(operator: Any) -> dict[str, Any]:
    """The options of :data:`MODEL_OPTIONS` the operator was given (rendered), absent ones left out."""
    options = {name: getattr(operator, name, None) for name in MODEL_OPTIONS}
    options["output_compression"] = _integer(options["output_compression"])
    return {name: value for name, value in options.items() if value is not None}


def operator_lineage(operator: Any) -> OperatorLineage:
    """
    The ``OperatorLineage`` of ``operator``'s run so far, for ``get_openlineage_facets_on_*``.

    Reads the operator's ``generation_outcome`` attribute (a :class:`GenerationOutcome`, absent
    before anything was submitted).
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_onemin.lineage.facets import OneMinGenerationRunFacet

    report = describe(operator, getattr(operator, "generation_outcome", None))
    return OperatorLineage(
        inputs=[Dataset(namespace=namespace, name=name) for namespace, name in report.inputs],
        outputs=[Dataset(namespace=namespace, name=name) for namespace, name in report.outputs],
        run_facets={FACET_NAME: OneMinGenerationRunFacet(**report.facet)},
    )
