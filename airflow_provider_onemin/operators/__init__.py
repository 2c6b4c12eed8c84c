"""
Operators, one module each: :mod:`.background_replacer`, :mod:`.background_remover`, :mod:`.renditions` (channel renditions, nothing paid) and the example pipeline's review step
(:mod:`.review`). ``_``-prefixed modules are the operators' own helpers.

Public. The top of the import graph: may import every other sub-package; nothing imports it but
DAGs (and :mod:`~airflow_provider_onemin.pipeline`, for the review step).
"""
