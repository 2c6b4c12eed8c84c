#!/usr/bin/env bash
# Leg: what the main virtualenv runs beyond `make test` (which .ci/run has just run): the long
# property profile of the schema and a smoke pass of the benchmark script.
set -euo pipefail
source .ci/checked.sh

make .venv/.installed-test
# The schema's long property profile (>= 10,000 generated request bodies against an independent
# oracle), as before. The rest of the long profile (the model-based hunt at length, about an hour)
# is `make test-long`, run by hand: long runs stay out of CI.
checked_tests .ci-long.log -- env ONEMIN_LONG_TESTS=1 .venv/bin/python -m pytest -q -p no:cacheprovider \
    -m long tests/schemas/test_schema_properties.py
# A quick smoke pass of the benchmark script (no figure is asserted: machines here are noisy).
make bench-quick 2>&1 | tail -n 12
