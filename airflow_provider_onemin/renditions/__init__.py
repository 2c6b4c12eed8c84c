"""
Channel renditions of stored images (local work with Pillow, nothing paid): the built-in and
custom presets (:mod:`.presets`), reading the sources (:mod:`.sources`), the Pillow work
(:mod:`.render`), the compliance report and the product-fidelity score (:mod:`.compliance`), and
one batch from checked input to stored files (:mod:`.batch`). docs/renditions.md.

Internal. May import :mod:`~airflow_provider_onemin.storage` (storing renditions as results are
stored), ``exceptions`` and ``compat``; Pillow and jsonschema are imported inside functions only.
"""
