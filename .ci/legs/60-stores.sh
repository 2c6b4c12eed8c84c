#!/usr/bin/env bash
# Leg: Google Cloud Storage and Azure Blob in real DAG runs, against gcp-storage-emulator and Azurite
# on loopback (started by the tests themselves, once per pytest worker), in their own virtualenv with
# the `gcs` and `azure` extras (the main venv has neither: there these tests skip). Two workers: the
# GCS and the Azure DAG runs wait on their servers more than they compute.
set -euo pipefail
source .ci/checked.sh

venv=.venv-stores
bash .ci/legs/60-stores.prepare.sh  # nothing to do when .ci/run has run it already

started=$(date +%s)
# Fail, rather than skip, when an extra or a server is missing here.
checked_tests .ci-stores.log --no-skips -- /usr/bin/time -f "CI: stores tests: %e s wall, %U s user, %S s system" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup \
    tests/storage/test_storage_stores.py \
    tests/storage/test_storage_gcs_dags.py \
    tests/storage/test_storage_azure_dags.py \
    tests/storage/test_storage_stores_pipeline.py \
    tests/reuse/test_reuse_claims_stores.py
echo "CI: leg 60-stores took $(( $(date +%s) - started )) s"
