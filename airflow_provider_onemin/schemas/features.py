"""The features and the default model this provider calls, as the API names them (no imports: cheap)."""

from __future__ import annotations

FEATURE_BACKGROUND_REPLACER = "BACKGROUND_REPLACER"
DEFAULT_MODEL = "ideogram-3"

FEATURE_BACKGROUND_REMOVER = "BACKGROUND_REMOVER"
DEFAULT_REMOVER_MODEL = "stable-image"

#: Each feature's folder of request schemas under ``schemas/`` (one file per model) and its name
#: in messages.
SCHEMA_FOLDERS = {
    FEATURE_BACKGROUND_REPLACER: "background_replacer",
    FEATURE_BACKGROUND_REMOVER: "background_remover",
}
FEATURE_TITLES = {
    FEATURE_BACKGROUND_REPLACER: "Background Replacer",
    FEATURE_BACKGROUND_REMOVER: "Background Remover",
}
