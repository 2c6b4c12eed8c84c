#!/usr/bin/env bash
# Leg: the results viewer and the review as a person uses them (tests/viewer/test_browser_viewer.py):
# headless Chromium (Debian's, never a browser downloaded at run time) driven by Playwright, in a
# real deployment of their own. `make test` skips them where Playwright or Chromium is missing, as
# on a machine without a browser; here a missing one fails them. They run here, not in the suite:
# Chromium rendering Airflow's UI was the longest part of the suite's longest chain (the shared
# deployment's tests, one after the other on one worker), docs/testing.md has the figures.
set -euo pipefail
source .ci/checked.sh

bash .ci/legs/40-browser.prepare.sh  # nothing to do when .ci/run has run it already
# Playwright from PyPI: its driver only, no browser download. After `make test`, into its .venv.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 .venv/bin/uv pip install --quiet --compile-bytecode \
    --python .venv/bin/python -e '.[test,browser]'

export ONEMIN_REQUIRE_BROWSER=1
checked_tests .ci-browser.log --no-skips -- .venv/bin/python -m pytest -q -p no:cacheprovider \
    -m browser tests/viewer/test_browser_viewer.py
