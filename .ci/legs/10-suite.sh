#!/usr/bin/env bash
# Leg: what the main virtualenv runs beyond `make test` (which .ci/run has just run): the long
# property profile and a smoke pass of the benchmark script.
set -euo pipefail
source .ci/checked.sh

make .venv/.installed-test
# The long property profile (>= 10,000 generated request bodies against an independent oracle).
checked_tests .ci-long.log -- make test-long
# A quick smoke pass of the benchmark script (no figure is asserted: machines here are noisy).
make bench-quick 2>&1 | tail -n 12
