#!/usr/bin/env bash
# Leg: the results viewer and the review in a real browser. Debian's chromium (installed here,
# never downloaded by Playwright) drives a real deployment (tests/deployment.py): log in, open the
# gallery from the task page's link, approve a line, refused requests. Screenshots: out/browser/.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium > /dev/null
fi
make .venv/.installed-test
# Playwright from PyPI: its driver only; no browser download (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD).
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 .venv/bin/python -m pip install --quiet -e '.[test,browser]'

set +e
.venv/bin/python -m pytest -p no:cacheprovider -rs -m browser tests/test_browser_viewer.py 2>&1 | tee .ci-browser.log
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    echo "CI: the browser tests failed (exit $status); screenshots in out/browser/" >&2
    exit "$status"
fi
# Here the browser is installed: a skip would mean the leg tested nothing.
if grep -Eq '[0-9]+ skipped' .ci-browser.log || ! grep -Eq '[0-9]+ passed' .ci-browser.log; then
    echo "CI: browser tests were skipped or none passed" >&2
    exit 1
fi
ls out/browser
