"""The features and the default model this provider calls, as the API names them (no imports: cheap)."""

from __future__ import annotations

FEATURE_BACKGROUND_REPLACER = "BACKGROUND_REPLACER"
DEFAULT_MODEL = "ideogram-3"
