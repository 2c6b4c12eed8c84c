#!/usr/bin/env bash
# Installs for the leg 30-airflow-matrix, run by .ci/run in the background while the main suite
# runs: one virtualenv per older minor (downloads and unpacking, little CPU).
set -euo pipefail
exec bash .ci/airflow-matrix.sh --install
