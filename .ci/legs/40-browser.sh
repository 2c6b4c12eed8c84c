#!/usr/bin/env bash
# Leg: the results viewer and the review in a real browser. Debian's chromium (installed here,
# never downloaded by Playwright) drives a real deployment (tests/support/deployment.py): log in, open the
# gallery from the task page's link, approve a line, refused requests. Screenshots: out/browser/.
set -euo pipefail
source .ci/checked.sh

bash .ci/legs/40-browser.prepare.sh  # nothing to do when .ci/run has run it already
make .venv/.installed-test
# Playwright from PyPI: its driver only; no browser download (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD).
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 .venv/bin/uv pip install --quiet --python .venv/bin/python -e '.[test,browser]'

# Here the browser is installed: a skip would mean the leg tested nothing.
if ! checked_tests .ci-browser.log --no-skips -- \
    .venv/bin/python -m pytest -p no:cacheprovider -rs -m browser tests/viewer/test_browser_viewer.py; then
    echo "CI: see the screenshots in out/browser/" >&2
    exit 1
fi
ls out/browser
