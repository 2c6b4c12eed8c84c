"""
The 1min.ai client: :class:`~.onemin.OneMinHook` (workers) and :class:`~.onemin.OneMinAsyncHook`
(the triggerer) over one stack: connection settings (:mod:`.client_settings`), transport and
redaction (:mod:`.base`, :mod:`.transport`), the retry policy (:mod:`.retry_policy`), the
endpoints and what their answers carry (:mod:`.endpoints`), what an error answer and a record mean
(:mod:`.answers`, :mod:`.records`), result downloads (:mod:`.downloads`) and the public model list
(:mod:`.model_list`).

Public: :mod:`.onemin`. May import :mod:`~airflow_provider_onemin.schemas`, ``exceptions`` and
``compat`` only: everything else builds on the client, never the other way round.
"""
