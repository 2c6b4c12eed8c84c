"""
The paid-call record: what a task instance has paid for and whether it may pay again
(:mod:`.ledger`), kept in Airflow's task state store (3.3) or in Variables (:mod:`.variable_store`,
3.0-3.2). Every decision to pay is taken here.

Internal. May import :mod:`~airflow_provider_onemin.hooks` (what an answer means), the metrics
of :mod:`~airflow_provider_onemin.lineage`, the request's identity
(:mod:`~airflow_provider_onemin.reuse.key`: the record names what it paid for by the same key the
reuse index uses) and ``exceptions``.
"""
