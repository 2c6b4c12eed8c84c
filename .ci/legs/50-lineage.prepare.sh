#!/usr/bin/env bash
# Installs for the leg 50-lineage, run by .ci/run in the background once the main suite is over:
# its own virtualenv with the `openlineage` extra and the `statsd` client. uv builds it in seconds
# where pip takes minutes.
set -euo pipefail

venv=.venv-lineage
stamp=$venv/.installed-lineage
# Done once per pyproject.toml (and this script): the leg runs this again, for nothing then
# (resolving again cost the leg seconds of CPU beside the Airflow matrix).
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt "$0" ]; then
    exit 0
fi
test -x "$venv/bin/python" || python3 -m venv "$venv"
test -x "$venv/bin/uv" || "$venv/bin/python" -m pip install --quiet uv
"$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -e '.[test,openlineage]' statsd
touch "$stamp"
