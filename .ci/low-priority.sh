#!/usr/bin/env bash
# Usage: setsid bash .ci/low-priority.sh NICENESS COMMAND [ARG...]
#
# COMMAND at niceness NICENESS, and its session's autogroup too. With Linux's autogroups
# (/proc/sys/kernel/sched_autogroup_enabled, on by default) the CPU is shared between sessions
# first and by niceness only within one: a leg started with `setsid nice -n 10` got as much CPU
# as the whole of `make test` beside it, whatever its niceness. Root (CI) may set an autogroup's
# niceness; without autogroups, or without the right, the process niceness is all there is.
set -euo pipefail
niceness=$1
shift
if [ -w /proc/self/autogroup ]; then
    echo "$niceness" > /proc/self/autogroup 2>/dev/null || true
fi
exec nice -n "$niceness" "$@"
