#!/usr/bin/env bash
# Installs for the leg 40-browser, run by .ci/run in the background while the main suite runs:
# Debian's chromium (never a browser downloaded by Playwright). Playwright itself goes into .venv
# in the leg, after the suite: installed during it, the suite's browser tests would run or skip
# depending on when the install ended.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium > /dev/null
fi
