#!/usr/bin/env bash
# Leg: lineage and metrics in real DAG runs, in their own virtualenv with the `openlineage` extra
# and the `statsd` client (the main venv has neither: there the suite shows that nothing breaks
# without them). The OpenLineage listener runs on every task once configured, so it stays out of
# the main suite.
set -euo pipefail
source .ci/checked.sh

venv=.venv-lineage
bash .ci/legs/50-lineage.prepare.sh  # nothing to do when .ci/run has run it already

# Fail, rather than skip, when the extra or statsd is missing here.
export ONEMIN_LINEAGE_LEG=1
checked_tests .ci-lineage.log --no-skips -- "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    tests/lineage/test_lineage_report.py \
    tests/lineage/test_lineage_dag_run.py
