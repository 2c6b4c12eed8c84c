#!/usr/bin/env bash
# The Airflow matrix, run by the CI leg .ci/legs/30-airflow-matrix.sh. The main leg runs the
# whole suite on the newest minor; here each older
# minor (its newest patch) gets its own virtualenv and runs what differs between minors:
#   * the tests marked `compat` (core, reliability and resume, deferrable, storage, assets, the
#     connection form, the Variables store; a test joins with @pytest.mark.compat or a module's
#     pytestmark, and one needing a newer minor skips with its reason);
#   * `airflow providers list` shows the provider (test_provider_info, marked e2e and compat);
#   * the example DAG against the emulator, in-process (test_dags_import.py; `make demo` itself
#     only ever runs on the newest minor, which its venv resolves: test_demo.py, main suite only).
# Airflow 3.0 runs the connection form tests a second time with wtforms installed (what the FAB
# provider brings), since its form differs with and without it.
#
# Each minor is resolved as Airflow's own constraints would have it: packages as they were on the
# day after that patch's release (uv's --exclude-newer), Airflow first; then this project, whose
# direct dependencies are exempt where their floors need it. A failing minor fails the leg, after
# all have run; each minor's time is printed. Python: the one CI has (3.11 here).
#
# `--install` only creates the virtualenvs (.ci/legs/30-airflow-matrix.prepare.sh: .ci/run does
# that before the main suite runs); a run then finds them installed.
set -euo pipefail

# minor patch, the day after its release on PyPI (the resolution cut-off), and the test files
# (comma-separated) this minor runs only in the long profile (ONEMIN_MATRIX_LONG=1 runs them too).
# 3.2's review in a real deployment (a deployment and two pipeline runs, the most CPU of any
# minor's tests): it runs on 3.1, which asks for a review the same way (a deferred task and its
# trigger), and on 3.3 in the main suite; the review's other tests still run on 3.2.
MATRIX=(
    "3.0.6 2025-08-31"
    "3.1.8 2026-03-13"
    "3.2.2 2026-05-31 tests/pipeline/test_review_deployment.py"
)
ONLY="${ONEMIN_MATRIX_ONLY:-}"   # e.g. ONEMIN_MATRIX_ONLY=3.1.8 to run one minor locally
LONG="${ONEMIN_MATRIX_LONG:-}"
ROOT=.matrix
PYTHON="${PYTHON:-python3}"
export UV_CACHE_DIR="${UV_CACHE_DIR:-$HOME/.cache/uv}"

# uv itself comes from PyPI into a bootstrap venv inside the repository's ignored folder.
if [ ! -x "$ROOT/uv/bin/uv" ]; then
    "$PYTHON" -m venv "$ROOT/uv"
    "$ROOT/uv/bin/pip" install --quiet uv
fi
UV="$ROOT/uv/bin/uv"

# This project's direct dependencies (runtime, test and emulator extras), exempt from the cut-off.
mapfile -t OWN < <("$PYTHON" - <<'EOF'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
names = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in requirements}
for name in sorted(names - {"apache-airflow", "airflow-provider-onemin"}):
    print(name)
EOF
)

install_minor() {
    # One minor's virtualenv, resolved as of its cut-off. Nothing to do when it was installed
    # after the last change to pyproject.toml or to this script (CI installs it before the suite,
    # then runs it; resolving again cost CPU-seconds per minor). wtforms is removed either way: 3.0's
    # second pass installs it, and a pass stopped half-way would leave it.
    local version=$1 cutoff=$2 minor=${1%.*}
    local venv="$ROOT/airflow-$minor" started
    local stamp="$venv/.installed-matrix"
    started=$(date +%s)
    if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt "${BASH_SOURCE[0]}" ]; then
        "$UV" pip uninstall --quiet --python "$venv" wtforms 2>/dev/null || true
        echo "matrix: $version already installed ($stamp)"
        return
    fi
    rm -f "$stamp"
    local exempt=()
    for name in "${OWN[@]}"; do
        exempt+=(--exclude-newer-package "$name=2100-01-01T00:00:00Z")
    done
    "$UV" venv --quiet --allow-existing --python "$PYTHON" "$venv"
    # Airflow first, alone, as of its cut-off: what Airflow itself depends on (fastapi, cadwyn,
    # pydantic...) stays as it was then. Exempting fastapi (an emulator dependency) in one joint
    # resolution gave 3.2 a fastapi newer than its cadwyn could route (no task could run) and 3.0
    # a fastapi its cadwyn could not import. Then this project, whose own floors may be newer than
    # the cut-off: uv keeps what is installed when it satisfies them.
    "$UV" pip install --quiet --python "$venv" --exclude-newer "${cutoff}T00:00:00Z" "apache-airflow==$version"
    "$UV" pip install --quiet --python "$venv" --exclude-newer "${cutoff}T00:00:00Z" "${exempt[@]}" \
        -e '.[test]' "apache-airflow==$version"
    "$UV" pip uninstall --quiet --python "$venv" wtforms 2>/dev/null || true
    "$venv/bin/python" -c 'import airflow, sys; print("matrix: Airflow", airflow.__version__, "on Python", sys.version.split()[0])'
    touch "$stamp"
    echo "matrix: $version installed in $(( $(date +%s) - started )) s"
}

run_minor() {
    # One minor, in its own process so that `set -e` holds (it would not inside `( ... ) || ...`).
    local version=$1 cutoff=$2 long_only=${3:-} minor=${1%.*}
    local venv="$ROOT/airflow-$minor"
    install_minor "$version" "$cutoff"
    # Only the files holding compat tests are collected: another file may import what a newer
    # minor has at module level. pytest exits 5 when it collects nothing: a failure here too.
    mapfile -t files < <(grep -rlE --include='test_*.py' 'pytest\.mark\.compat' tests | sort)
    if [ -n "$long_only" ] && [ "$LONG" != "1" ]; then
        echo "matrix: $version leaves to the long profile (ONEMIN_MATRIX_LONG=1): ${long_only//,/ }"
        mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -vxF -f <(tr ',' '\n' <<<"$long_only"))
    fi
    "$venv/bin/python" -m pytest -q -p no:cacheprovider -m compat -rs --durations=10 "${files[@]}" 2>&1 | tee ".ci-matrix-$minor.log"
    grep -Eq '[0-9]+ passed' ".ci-matrix-$minor.log"
    if [ "$minor" = "3.0" ]; then
        "$UV" pip install --quiet --python "$venv" --exclude-newer "${cutoff}T00:00:00Z" wtforms
        "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/hooks/test_connection_form.py 2>&1 | tail -n 3
        "$UV" pip uninstall --quiet --python "$venv" wtforms
    fi
}

if [ "${1:-}" = "--minor" ]; then
    run_minor "$2" "$3" "${4:-}"
    exit 0
fi

if [ "${1:-}" = "--install" ]; then
    # Only the virtualenvs, side by side (downloads and unpacking: .ci/run runs this before the
    # suite). The run that follows finds them installed.
    pids=()
    for entry in "${MATRIX[@]}"; do
        read -r version cutoff _ <<<"$entry"
        if [ -n "$ONLY" ] && [ "$ONLY" != "$version" ]; then
            continue
        fi
        install_minor "$version" "$cutoff" &
        pids+=("$!")
    done
    failed=0
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
    done
    exit "$failed"
fi

# The minors run side by side (each in its own process, venv and Airflow home): most of their time
# is spent waiting on DAG runs and the emulator's render latency, not on the two cores.
pids=()
names=()
for entry in "${MATRIX[@]}"; do
    read -r version cutoff long_only <<<"$entry"
    if [ -n "$ONLY" ] && [ "$ONLY" != "$version" ]; then
        continue
    fi
    (
        started=$(date +%s)
        status=0
        bash "$0" --minor "$version" "$cutoff" "${long_only:-}" > ".ci-matrix-${version%.*}.out" 2>&1 || status=$?
        echo "$status $(( $(date +%s) - started ))" > ".ci-matrix-${version%.*}.status"
    ) &
    pids+=("$!")
    names+=("$version")
done
failed=0
for index in "${!pids[@]}"; do
    wait "${pids[$index]}" || true
    version=${names[$index]}
    read -r status took < ".ci-matrix-${version%.*}.status"
    tail -n 25 ".ci-matrix-${version%.*}.out"
    if [ "$status" -eq 0 ]; then
        echo "matrix: Airflow $version passed in ${took} s"
    else
        echo "matrix: Airflow $version FAILED (exit $status) after ${took} s; full output in .ci-matrix-${version%.*}.out"
        failed=1
    fi
done
exit "$failed"
