#!/usr/bin/env bash
# Installs for the leg 60-stores, run by .ci/run in the background once the main suite is over:
# its own virtualenv with the `gcs` and `azure` extras (the google provider alone is ~1.8 GB, so it
# stays out of the main .venv that every `make test` builds), gcp-storage-emulator, and Azurite
# (npm, on Debian's Node.js) in .stores-node/.
set -euo pipefail

venv=.venv-stores
# Airflow named: left free beside the google provider, a resolver may settle on an older Airflow
# beside a pydantic it does not run with.
airflow=apache-airflow==3.3.2
stamp=$venv/.installed-stores
# Done once per pyproject.toml (and this script): the leg runs this again, for nothing then.
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$0" -nt "$stamp" ]; then
    test -x "$venv/bin/python" || python3 -m venv "$venv"
    test -x "$venv/bin/uv" || "$venv/bin/python" -m pip install --quiet uv
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" \
        -e '.[test,gcs,azure]' "$airflow" 'gcp-storage-emulator>=2026.7.19'
    touch "$stamp"
fi

if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
    apt-get -o DPkg::Lock::Timeout=600 update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q nodejs npm > /dev/null
fi
if [ ! -x .stores-node/node_modules/.bin/azurite-blob ]; then
    npm install --silent --no-audit --no-fund --prefix .stores-node azurite@3 > /dev/null
fi
