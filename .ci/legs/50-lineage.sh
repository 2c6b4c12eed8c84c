#!/usr/bin/env bash
# Leg: lineage and metrics in real DAG runs, in their own virtualenv with the `openlineage` extra
# and the `statsd` client (the main venv has neither: there the suite shows that nothing breaks
# without them). The OpenLineage listener runs on every task once configured, so it stays out of
# the main suite. uv builds the venv in seconds where pip takes minutes.
set -euo pipefail

venv=.venv-lineage
test -x "$venv/bin/python" || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet uv
"$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -e '.[test,openlineage]' statsd

# Fail, rather than skip, when the extra or statsd is missing here.
export ONEMIN_LINEAGE_LEG=1
set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider \
    tests/test_lineage_report.py \
    tests/test_lineage_dag_run.py 2>&1 | tee .ci-lineage.log
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    echo "CI: the lineage tests failed (exit $status)" >&2
    exit "$status"
fi
if grep -Eq '[0-9]+ skipped' .ci-lineage.log || ! grep -Eq '[0-9]+ passed' .ci-lineage.log; then
    echo "CI: a lineage test was skipped or none passed; this leg must run them all" >&2
    exit 1
fi
