#!/usr/bin/env bash
# Installs for the leg 50-lineage, run by .ci/run in the background while the main suite runs:
# its own virtualenv with the `openlineage` extra and the `statsd` client. uv builds it in seconds
# where pip takes minutes.
set -euo pipefail

venv=.venv-lineage
test -x "$venv/bin/python" || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet uv
"$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -e '.[test,openlineage]' statsd
