#!/usr/bin/env bash
# Leg: lineage and metrics in real DAG runs, in their own virtualenv with the `openlineage` extra
# and the `statsd` client (the main venv has neither: there the suite shows that nothing breaks
# without them). The OpenLineage listener runs on every task once configured, so it stays out of
# the main suite. uv builds the venv in seconds where pip takes minutes.
set -euo pipefail
source .ci/checked.sh

venv=.venv-lineage
test -x "$venv/bin/python" || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet uv
"$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -e '.[test,openlineage]' statsd

# Fail, rather than skip, when the extra or statsd is missing here.
export ONEMIN_LINEAGE_LEG=1
checked_tests .ci-lineage.log --no-skips -- "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    tests/test_lineage_report.py \
    tests/test_lineage_dag_run.py
