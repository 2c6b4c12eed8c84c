#!/usr/bin/env bash
# The browser tests' needs (tests/viewer/test_browser_viewer.py, the browser leg
# .ci/legs/40-browser.sh): Debian's chromium, never a browser downloaded by Playwright.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
    # Another installer (the stores leg's nodejs) may hold dpkg's lock: wait for it, not fail.
    apt-get -o DPkg::Lock::Timeout=600 update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium > /dev/null
fi
