"""
After a generation succeeded (or an earlier one was reused): the one place that turns it into
stored files, XCom, asset events, the reuse record and the lineage note (:mod:`.results`), with
the assets' metadata (:mod:`.outlets`).

Internal. Calls down into :mod:`~airflow_provider_onemin.storage`,
:mod:`~airflow_provider_onemin.reuse`, :mod:`~airflow_provider_onemin.links` and
:mod:`~airflow_provider_onemin.lineage`; only the operators import it.
"""
