"""
The OpenLineage run facet of a generation.

This module imports the OpenLineage client: only the operator's ``get_openlineage_facets_on_*``
methods import it (through :mod:`airflow_provider_onemin.lineage`), and only the OpenLineage
provider's listener calls those, so without the ``openlineage`` extra it is never imported.
"""

from __future__ import annotations

from typing import Any

from attrs import define, field
from openlineage.client.facet_v2 import RunFacet


@define
class OneMinGenerationRunFacet(RunFacet):
    """
    What was asked of 1min.ai and what came back, for one task run (run facet ``oneMinGeneration``).

    Never holds the API key or anything else from the connection. Files and objects are the run's
    input and output datasets; what is not a dataset (a 1min.ai asset path, an ``http(s)`` URL, kept
    without its query string, user info or fragment since a signed URL carries a credential) is
    recorded here.

    :param model: the model (``ideogram-3``, ``gpt-image-2``, ``stable-image``...).
    :param prompt: the background prompt.
    :param negativePrompt: what to keep out of the background, if given.
    :param numImages: how many images were asked for.
    :param seed: the seed asked for, if any.
    :param seeds: the seed of each result, in result order.
    :param uuid: the 1min.ai generation (``aiRecord.uuid``) the images come from; for a reused result
        the earlier generation's.
    :param requestKey: the request's identity (SHA-256, images by their content), the same the
        submission record and the reuse index use; absent when the run failed before computing it.
    :param reused: true when earlier results were reused and nothing was paid.
    :param credits: the credits this run spent: what 1min.ai reported for the generation, 0 when
        earlier results were reused; absent when 1min.ai did not report it (unknown, not free).
    :param sourceImage: the source image when it is not a dataset (asset path or URL).
    :param styleReferenceImages: the style references that are not datasets.
    :param resultPaths: the results' 1min.ai asset paths (``resultObject``).
    :param resultUrls: the results' 1min.ai URLs, without query string.
    :param renderingSpeed: as asked, if given.
    :param magicPrompt: as asked, if given.
    :param styleType: as asked, if given.
    :param stylePreset: as asked, if given.
    :param feature: the 1min.ai feature (``BACKGROUND_REPLACER``, ``BACKGROUND_REMOVER``).
    :param options: the other models' options as asked (``size``, ``quality``, ``background``,
        ``output_format``, ``output_compression``, ``style``, ``substyle``); absent ones left out.
    """

    # camelCase: the OpenLineage spec's convention for facet fields.
    model: str
    prompt: str
    negativePrompt: str | None = field(default=None)
    numImages: int | None = field(default=None)
    seed: int | None = field(default=None)
    seeds: list[int] = field(factory=list)
    uuid: str | None = field(default=None)
    requestKey: str | None = field(default=None)
    reused: bool = field(default=False)
    credits: float | None = field(default=None)
    sourceImage: str | None = field(default=None)
    styleReferenceImages: list[str] = field(factory=list)
    resultPaths: list[str] = field(factory=list)
    resultUrls: list[str] = field(factory=list)
    renderingSpeed: str | None = field(default=None)
    magicPrompt: str | None = field(default=None)
    styleType: str | None = field(default=None)
    stylePreset: str | None = field(default=None)
    feature: str | None = field(default=None)
    options: dict[str, Any] = field(factory=dict)
