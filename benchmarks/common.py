"""Shared pieces of the benchmarks: results, medians, fresh subprocesses, a scratch Airflow home, the emulator."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
#: The fake key every benchmark emulator requires (never a real key).
BENCH_API_KEY = "bench-onemin-key-0000"


@dataclass
class Result:
    """One line of the table: a figure, its baseline and the goal for their ratio."""

    name: str
    value: float
    baseline: float
    unit: str
    goal: float
    detail: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio <= self.goal

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "baseline": self.baseline,
            "unit": self.unit,
            "ratio": self.ratio,
            "goal": self.goal,
            "met": self.met,
            "detail": self.detail,
            "samples": self.samples,
        }


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


@contextmanager
def scratch_airflow_home(prefix: str = "onemin-bench-") -> Iterator[dict[str, str]]:
    """A throw-away AIRFLOW_HOME; yields the environment for subprocesses that use it."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and k != "AIRFLOW_HOME"
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "PYTHONDONTWRITEBYTECODE": "",
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE")
    try:
        yield env
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def from_tests(module: str) -> Any:
    """A module of the tests' harness (``tests/<module>.py``): the benchmarks use it too."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module(f"tests.{module}")


def deployment_class() -> type:
    """``AirflowDeployment`` from ``tests/support/deployment.py``."""
    return from_tests("deployment").AirflowDeployment


def run_python(code: str, env: dict[str, str], *, args: Sequence[str] = (), timeout: float = 300) -> Any:
    """Run ``code`` in a fresh interpreter; it prints one JSON document last, which is returned."""
    run = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=str(REPO),
    )
    if run.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed ({run.returncode}):\n{run.stderr[-3000:]}")
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"benchmark subprocess printed nothing:\n{run.stderr[-3000:]}")
    return json.loads(lines[-1])


class EmulatorProcess:
    """
    The emulator in its own process (so its CPU and memory never count as the client's).

    :param latency: render time of a generation, seconds.
    :param pad_bytes: make every result PNG this much larger (benchmark-only, see padded_emulator.py).
    :param max_in_flight: the account's limit of generations rendering at once (429 above it).
    """

    def __init__(
        self,
        env: dict[str, str],
        *,
        latency: float = 0.0,
        pad_bytes: int = 0,
        max_in_flight: int | None = None,
    ) -> None:
        self.env = env
        self.latency = latency
        self.pad_bytes = pad_bytes
        self.max_in_flight = max_in_flight
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self._dir = Path(tempfile.mkdtemp(prefix="onemin-bench-emulator-"))

    def __enter__(self) -> EmulatorProcess:
        url_file = self._dir / "url"
        command = [
            sys.executable,
            str(BENCH_DIR / "padded_emulator.py"),
            "--pad-bytes",
            str(self.pad_bytes),
            "--port",
            "0",
            "--api-key",
            BENCH_API_KEY,
            "--latency",
            str(self.latency),
            "--url-file",
            str(url_file),
        ]
        if self.max_in_flight is not None:
            command += ["--max-in-flight", str(self.max_in_flight)]
        self.process = subprocess.Popen(
            command,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self._dir / "stderr").open("w"),
            text=True,
        )
        deadline = time.monotonic() + 60
        while not url_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the emulator did not start: " + (self._dir / "stderr").read_text()[-2000:]
                )
            time.sleep(0.05)
        self.url = url_file.read_text().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def connection(self, **extra: Any) -> dict[str, Any]:
        """An Airflow connection (JSON form) to this emulator."""
        return {"conn_type": "onemin", "host": self.url, "password": BENCH_API_KEY, "extra": extra}

    def state(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/_emulator/state", timeout=10) as answer:
            return json.loads(answer.read())

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change the running emulator's settings (``latency``, ``max_in_flight``...)."""
        import urllib.request

        request = urllib.request.Request(
            f"{self.url}/_emulator/config",
            data=json.dumps(settings).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def charges(self) -> int:
        return int(self.state()["charges"]["total"])


def upload_sample_photo(url: str, api_key: str) -> str:
    """Upload the bundled mug photo once, so the emulator does not draw a synthetic one per call."""
    import requests

    data = (REPO / "dags" / "sample_photos" / "mug.png").read_bytes()
    answer = requests.post(
        f"{url}/api/assets",
        headers={"API-KEY": api_key},
        files={"asset": ("mug.png", data, "image/png")},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["fileContent"]["path"]
