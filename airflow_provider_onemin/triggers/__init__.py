"""
The deferred wait: :mod:`.background_replacer` polls a generation by uuid (never submits) through
the async hook; :mod:`.deferral` holds a deferral long enough to dodge Airflow's stale-deferral race.

Public: the trigger's class path is stored with every deferred task, so it must not move.
May import :mod:`~airflow_provider_onemin.hooks`, ``exceptions`` and ``compat``.
"""
