"""
The JSON Schemas of the requests (one file per feature and model) and answers, and their
validation (:mod:`.validation`): checked before anything is paid.

Internal. May import ``exceptions`` only.
"""
