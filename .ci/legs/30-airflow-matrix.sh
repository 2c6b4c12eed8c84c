#!/usr/bin/env bash
# Leg: every older Airflow 3 minor (the newest patch of each) in its own virtualenv, running the
# tests marked `compat`, `airflow providers list` and the example DAG against the emulator (see
# .ci/airflow-matrix.sh for what runs and how each minor is resolved). The main leg has already run
# the whole suite on the newest minor. A minor that fails fails CI; each minor's time is printed.
set -euo pipefail
exec bash .ci/airflow-matrix.sh
