"""
Pay once per distinct image: the request's identity (:mod:`.key`), the index kept beside the
results (:mod:`.index`, reading and writing in the store; the record's shape and JSON in
:mod:`.records`), copying a hit (:mod:`.copies`) and what ``reuse=True`` decides,
including the pipeline's cost preview (:mod:`.policy`).

Internal. May import :mod:`~airflow_provider_onemin.storage`, :mod:`~airflow_provider_onemin.inputs`,
:mod:`~airflow_provider_onemin.schemas` and ``exceptions``.
"""
