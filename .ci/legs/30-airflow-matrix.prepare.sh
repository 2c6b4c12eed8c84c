#!/usr/bin/env bash
# Installs for the leg 30-airflow-matrix, run by .ci/run in the background beside .venv and lint,
# before the main suite (CI_FIRST_INSTALLS): one virtualenv per older minor (downloads and
# unpacking, little CPU), so that the longest leg can start as soon as the suite ends.
set -euo pipefail
exec bash .ci/airflow-matrix.sh --install
