#!/usr/bin/env bash
# Installs for the browser leg (.ci/legs/40-browser.sh): Debian's chromium. .ci/run runs this in
# the background once `make test` is over; Playwright joins .venv in the leg itself, after the suite
# (the suite's browser tests skip where Playwright is missing, so it must not appear mid-run).
set -euo pipefail
exec bash .ci/install-browser.sh
