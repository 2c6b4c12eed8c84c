"""
Process helpers for tests/deployment.py: free loopback ports, and stopping a process tree so
that nothing outlives a test (process groups, descendants that left them, ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


#: free_port() hands out ports from a block of its own per process: the first block without
#: pytest-xdist, the next ones for its workers ``gw0``, ``gw1``..., all below the kernel's ephemeral
#: range (32768 and up on Linux).
#: So a port given to one worker is never given to another, and no outgoing connection (which gets
#: an ephemeral port) takes it between free_port() and the server's bind.
_PORT_BASE = 20000
_PORT_BLOCK = 1000
_handed_out: set[int] = set()


def _port_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = _PORT_BASE + index * _PORT_BLOCK
    return range(start, start + _PORT_BLOCK)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """
    A TCP port free on the loopback interface right now, from this worker's own block, and not
    handed out before by this process (a caller may take several before binding any).
    """
    block = list(_port_block())
    # A random start: another checkout's suite may run at the same time with the same blocks.
    offset = random.randrange(len(block))
    for _ in range(2):
        for port in block[offset:] + block[:offset]:
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
        _handed_out.clear()  # each port of the block was handed out once: the earliest are long free
    raise RuntimeError(f"no free port in {block[0]}-{block[-1]}")


def die_with_parent() -> None:
    """In the child before exec: receive SIGTERM when the process that started it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    if not Path("/proc").is_dir():
        return []
    children = _children_by_parent()
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_process_tree(processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM each process group (and descendants that left it), then SIGKILL what remains."""
    running = [p for p in processes if p.poll() is None]
    # Collected before signalling: once a parent dies its children are re-parented and lost.
    strays = {pid for p in running for pid in descendants(p.pid)}
    for process in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
    _signal_all(strays, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    while strays and time.monotonic() < deadline:
        strays = {pid for pid in strays if Path(f"/proc/{pid}").exists() and not is_zombie(pid)}
        if strays:
            time.sleep(0.1)
    _signal_all(strays, signal.SIGKILL)
    for process in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # anything left in the group


def is_zombie(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) == "Z"
    except OSError:
        return True
