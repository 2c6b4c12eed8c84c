#!/usr/bin/env bash
# Leg: the main virtualenv (newest Airflow), ruff with the AIR rules, README command 2
# (`make test`), the long property profile and a smoke pass of the benchmark script.
set -euo pipefail

make .venv/.installed-test
.venv/bin/ruff check .

# pytest exits 5 when it collects nothing: that is a failure here, as is any failed test.
set +e
make test 2>&1 | tee .ci-pytest.log
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    echo "CI: the test run failed (exit $status)" >&2
    exit "$status"
fi
if ! grep -Eq '[0-9]+ passed' .ci-pytest.log; then
    echo "CI: no test passed; refusing a run that tested nothing" >&2
    exit 1
fi
# The long property profile (>= 10,000 generated request bodies against an independent oracle).
make test-long 2>&1 | tail -n 3
# A quick smoke pass of the benchmark script (no figure is asserted: machines here are noisy).
make bench-quick 2>&1 | tail -n 12
