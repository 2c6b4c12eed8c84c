"""
CI runs its legs beside `make test` at a low CPU priority (.ci/run). With Linux's autogroups the
CPU is shared between sessions first, by niceness only within one, so that priority holds only
if the legs' sessions carry it and nothing a test starts opens a session of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.airflow_helpers import REPO
from tests.support.processes import own_process_group, stop_process_tree

_AUTOGROUP = Path("/proc/self/autogroup")


def test_a_started_server_has_its_own_process_group_in_the_tests_session():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], **own_process_group())
    try:
        assert os.getpgid(process.pid) == process.pid, "stopped whole with killpg"
        assert os.getsid(process.pid) == os.getsid(0), "no session (and autogroup) of its own"
    finally:
        stop_process_tree([process], timeout=10)


def test_no_test_helper_or_benchmark_opens_a_session_of_its_own():
    opening = re.compile(r"start_new_session\s*=\s*True|os\.setsid\(|\bsetsid\b")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in ("tests", "benchmarks", "scripts")
        for path in (REPO / folder).rglob("*.py")
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if opening.search(line)
    ]
    assert found == [], "use tests.support.processes.own_process_group()"


@pytest.mark.skipif(
    not (_AUTOGROUP.exists() and os.access(_AUTOGROUP, os.W_OK)),
    reason="needs Linux autogroups and the right to set one's niceness (root, as in CI)",
)
def test_a_low_priority_leg_lowers_its_sessions_share_too():
    show = ["sh", "-c", "cat /proc/self/autogroup; nice"]
    command = ["setsid", "bash", str(REPO / ".ci/low-priority.sh"), "7", *show]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split("\n")
    assert shown[0].endswith(" nice 7"), shown
    assert shown[1] == "7", shown
