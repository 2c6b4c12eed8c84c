"""
Process helpers for tests/support/deployment.py: free loopback ports, and stopping a process tree so
that nothing outlives a test (process groups, descendants that left them, ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


#: free_port() hands out ports from this range, below the kernel's ephemeral one (32768 and up on
#: Linux): no outgoing connection (which gets an ephemeral port) takes one between free_port() and
#: the server's bind.
_PORTS = range(20000, 30000)
#: A port handed out stays reserved by this process until it exits: a lock (flock) on a file of
#: that port's name here. Every process using free_port() (each pytest-xdist worker, another
#: checkout's suite, a CI leg beside it) skips a port another holds; the kernel drops the lock
#: when the holder exits, however it ends.
_LOCKS = Path(tempfile.gettempdir()) / "onemin-test-ports"
_held: dict[int, int] = {}


def _reserve(port: int) -> bool:
    if port in _held:
        return False
    _LOCKS.mkdir(exist_ok=True)
    fd = os.open(_LOCKS / f"{port}.lock", os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _held[port] = fd
    return True


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """
    A TCP port free on the loopback interface right now and reserved for this process: no other
    process calling free_port() gets it while this one lives, nor does this one get it twice (a
    caller may take several before binding any).
    """
    ports = list(_PORTS)
    start = random.randrange(len(ports))
    for port in ports[start:] + ports[:start]:
        if _reserve(port):
            if _bindable(port):
                return port
            os.close(_held.pop(port))  # in use by something that does not take part
    raise RuntimeError(f"no free port in {_PORTS.start}-{_PORTS.stop - 1}")


def own_process_group(preexec: Callable[[], None] | None = None) -> dict[str, Any]:
    """
    ``subprocess.Popen`` arguments for a server or component that is stopped whole
    (:func:`stop_process_tree` signals its process group): a process group of its own, in the
    caller's session.

    Not a session of its own (``start_new_session``): with Linux's autogroups (on by default) each
    session shares the CPU as one task, whatever its processes' niceness. A deployment that a CI
    leg at a low priority started in new sessions competed with `make test` as an equal, and
    within the suite a deployment's components each weighed as much as all the test workers.

    :param preexec: also called in the child before exec (e.g. :func:`die_with_parent`).
    """
    if sys.version_info >= (3, 11):
        return {"process_group": 0, "preexec_fn": preexec}

    def own_group() -> None:  # pragma: no cover - Python 3.10
        os.setpgid(0, 0)
        if preexec is not None:
            preexec()

    return {"preexec_fn": own_group}  # pragma: no cover - Python 3.10


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
