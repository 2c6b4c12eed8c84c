#!/usr/bin/env bash
# The browser tests' needs (tests/viewer/test_browser_viewer.py, in `make test`): Debian's chromium
# (never a browser downloaded by Playwright). .ci/run starts this before lint, in the background,
# and the suite does not wait for it: the browser tests, last of their group, wait for the word it
# leaves in the file named by ONEMIN_BROWSER_READY_FILE.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
    # Another installer (the stores leg's nodejs) may hold dpkg's lock: wait for it, not fail.
    apt-get -o DPkg::Lock::Timeout=600 update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium > /dev/null
fi
