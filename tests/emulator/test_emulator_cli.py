"""Starting and stopping the emulator: the command, the fault syntax, the server object, light imports."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_onemin.emulator.server import EmulatorServer
from airflow_provider_onemin.emulator.state import parse_fault_spec

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_onemin"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("reset_after_charge", {"kind": "reset_after_charge", "count": 1, "endpoint": "features"}),
        (
            "status:2",
            {
                "kind": "status",
                "count": 2,
                "endpoint": "features",
                "code": 503,
                "retry_after": None,
                "charged": None,
            },
        ),
        (
            "status:3:results:code=429,retry_after=1.5",
            {
                "kind": "status",
                "count": 3,
                "endpoint": "results",
                "code": 429,
                "retry_after": 1.5,
                "charged": None,
            },
        ),
        (
            "status:any:code=503,retry_after=Wed, 21 Oct 2026 07:28:00 GMT",
            {
                "kind": "status",
                "count": 1,
                "endpoint": "any",
                "code": 503,
                "retry_after": "Wed, 21 Oct 2026 07:28:00 GMT",
                "charged": None,
            },
        ),
        (
            "delay:1:features:seconds=5,charge_first=true",
            {"kind": "delay", "count": 1, "endpoint": "features", "seconds": 5, "charge_first": True},
        ),
        (
            "bad_request:error_code=UNSUPPORTED_MODEL",
            {
                "kind": "bad_request",
                "count": 1,
                "endpoint": "features",
                "error_code": "UNSUPPORTED_MODEL",
                "message": None,
            },
        ),
    ],
)
def test_fault_spec_syntax(spec: str, expected: dict[str, object]) -> None:
    assert parse_fault_spec(spec).as_dict() == expected


@pytest.mark.parametrize("spec", ["nope", "status:2:somewhere", "status:code", "failure:assets"])
def test_bad_fault_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_fault_spec(spec)


def _port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_server_starts_fast_and_leaves_nothing_behind() -> None:
    threads_before = set(threading.enumerate())
    started = time.monotonic()
    with EmulatorServer(api_key="k", faults=["status:1:results:code=502"]) as server:
        assert time.monotonic() - started < 1.0
        assert server.running and server.url == f"http://127.0.0.1:{server.port}"
        probe = f"{server.url}/api/results/00000000-0000-0000-0000-000000000000"
        assert requests.get(probe, headers={"API-KEY": "k"}, timeout=5).status_code == 502
        assert requests.get(probe, headers={"API-KEY": "k"}, timeout=5).status_code == 200
        port = server.port
    assert not server.running
    assert _port_is_closed(port)
    deadline = time.monotonic() + 2
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(threading.enumerate()) - threads_before == set()
    server.stop()  # twice is fine


def test_command_prints_a_url_that_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    url_file = tmp_path / "emulator.url"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("onemin-emulator")),
            "--port",
            "0",
            "--api-key",
            "cli-key",
            "--url-file",
            str(url_file),
            "--fault",
            "status:1:results:code=503",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:")
        assert url_file.read_text().strip() == url
        probe = f"{url}/api/results/00000000-0000-0000-0000-000000000000"
        assert requests.get(probe, headers={"API-KEY": "cli-key"}, timeout=5).status_code == 503
        assert requests.get(probe, headers={"API-KEY": "cli-key"}, timeout=5).json() == {"aiRecord": None}
        assert requests.get(probe, timeout=5).status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not url_file.exists()
    assert _port_is_closed(int(url.rsplit(":", 1)[1]))


def test_command_refuses_a_bad_fault() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("onemin-emulator")), "--fault", "status:code=200"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "400..599" in done.stderr


def test_help_documents_the_fault_syntax() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_onemin.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert "KIND[:COUNT][:ENDPOINT][:key=value,...]" in done.stdout
    assert "reset_after_charge" in done.stdout


def test_package_and_plugin_import_lightly() -> None:
    code = (
        "import sys, airflow_provider_onemin.emulator, airflow_provider_onemin.emulator.pytest_plugin\n"
        "heavy = sorted({'fastapi', 'uvicorn', 'starlette', 'PIL'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_provider_runtime_never_imports_the_emulator() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "emulator" in path.relative_to(PACKAGE).parts:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith(("import ", "from ")) and "emulator" in line:
                offenders.append(f"{path.relative_to(PACKAGE)}: {line.strip()}")
    assert offenders == []
