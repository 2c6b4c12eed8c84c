# Sourced by .ci/run and its legs: run a test command and fail unless it really tested something.
#
#   checked_tests LOG [--no-skips] -- COMMAND...
#
# Runs COMMAND with its output shown and kept in LOG. Fails with COMMAND's exit status when it
# fails (pytest exits 5 when it collects nothing), and fails when no test passed; with
# --no-skips, also when a test was skipped (a leg whose extras are installed must run them all).
checked_tests() {
    local log=$1 no_skips=0 status
    shift
    if [ "${1:-}" = "--no-skips" ]; then
        no_skips=1
        shift
    fi
    [ "${1:-}" = "--" ] && shift
    set +e
    "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ]; then
        echo "CI: '$*' failed (exit $status)" >&2
        return "$status"
    fi
    if ! grep -Eq '[0-9]+ passed' "$log"; then
        echo "CI: '$*' passed no test; refusing a run that tested nothing" >&2
        return 1
    fi
    if [ "$no_skips" -eq 1 ] && grep -Eq '[0-9]+ skipped' "$log"; then
        echo "CI: '$*' skipped a test; this leg must run them all" >&2
        return 1
    fi
}
