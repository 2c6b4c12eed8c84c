"""
What the provider reports about its work: OpenLineage datasets and facets (:mod:`.report`,
:mod:`.facets`) and the metrics of what a pipeline spends (:mod:`.metrics`).

Internal (not a public API). May import :mod:`~airflow_provider_onemin.inputs` and
:mod:`~airflow_provider_onemin.hooks.signatures` (URLs without their signatures); :mod:`.metrics`
imports nothing of the provider, so the client and the submission record may count with it.
"""
