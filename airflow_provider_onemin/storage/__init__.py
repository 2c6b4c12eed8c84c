"""
Object storage through Airflow's ``ObjectStoragePath``: where results go and the write check
before paying (:mod:`.location`), storing results whole or not at all (:mod:`.results`), what a
file holds (:mod:`.content_types`) and why a store refused (:mod:`.errors`).

Internal. May import :mod:`~airflow_provider_onemin.hooks` (to download results), ``exceptions``
and ``compat``.
"""
