#!/usr/bin/env bash
# The browser tests' needs (tests/viewer/test_browser_viewer.py, in `make test`): Debian's chromium
# (never a browser downloaded by Playwright). .ci/run starts this before lint, in the background,
# and waits for it before the suite; then it adds Playwright (PyPI, the `browser` extra) to .venv.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium > /dev/null
fi
