"""
What a request is made of: the operator's arguments turned into the promptObject
(:mod:`.arguments`), source images read and checked (:mod:`.images`), and uploaded to 1min.ai
(:mod:`.uploads`), all before anything is paid.

Internal. May import :mod:`~airflow_provider_onemin.hooks`, :mod:`~airflow_provider_onemin.storage`,
``exceptions`` and ``compat``.
"""
