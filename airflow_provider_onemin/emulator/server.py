"""
Run the emulator in a background thread of the current process.

::

    with EmulatorServer(api_key="k", latency=0.2) as server:
        server.add_fault("status", code=503, retry_after=1)
        requests.post(f"{server.url}/api/features", headers={"API-KEY": "k"}, json=body)
        assert server.charges() == 1

The listening socket is bound before the thread starts (``port=0`` picks a free port), so
:attr:`EmulatorServer.url` is known at once; :meth:`EmulatorServer.start` returns when uvicorn
serves. :meth:`EmulatorServer.stop` ends the thread and closes the socket.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_onemin.emulator.faults import Fault, parse_fault_spec
from airflow_provider_onemin.emulator.state import EmulatorState

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    import uvicorn

    from airflow_provider_onemin.emulator.records import Generation

_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}


class EmulatorServer:
    """
    A local 1min.ai emulator served by uvicorn in a daemon thread.

    :param host: address to listen on (loopback by default).
    :param port: port to listen on; 0 picks a free one.
    :param api_key: the key clients must send in ``API-KEY``; None accepts any or none.
    :param latency: render time of a generation, in seconds.
    :param max_in_flight: the account's limit of generations rendering at once per API key;
        a submission above it is refused with 429 and not charged. None: no limit.
    :param faults: faults queued at start: :class:`Fault` objects, their JSON form as dicts, or the
        command-line form ``KIND[:COUNT][:ENDPOINT][:key=value,...]``.
    :param log_level: uvicorn's log level.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        latency: float = 0.0,
        max_in_flight: int | None = None,
        faults: Iterable[Fault | dict[str, Any] | str] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.port = port
        self.log_level = log_level
        self.state = EmulatorState(api_key=api_key, latency=latency, max_in_flight=max_in_flight)
        self._initial_faults = [_as_fault(item) for item in faults or ()]
        for fault in self._initial_faults:
            self.state.add_fault(fault)
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Bind, start serving in a thread and return once uvicorn accepts requests."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        import uvicorn

        from airflow_provider_onemin.emulator.app import create_app

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP: asyncio turns Nagle off only on sockets that say they are TCP; without it
        # every answer on a kept-alive connection waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            create_app(self.state),
            log_config=None,
            log_level=self.log_level,
            access_log=False,
            lifespan="off",
            # The plain asyncio loop: some uvicorn versions install uvloop's policy process-wide.
            loop="asyncio",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"onemin-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the 1min.ai emulator did not start on {self.host}:{self.port}")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, wait for the thread and close the socket. Safe to call twice."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout)
        if sock is not None:
            sock.close()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the emulator, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        host = "127.0.0.1" if self.host in _WILDCARD_HOSTS else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    # configuration and faults (same as the control endpoints)
    @property
    def api_key(self) -> str | None:
        """The API key clients must send now (None: any key or none is accepted)."""
        return self.state.config.api_key

    @property
    def latency(self) -> float:
        """Render time of a generation now, in seconds."""
        return self.state.config.latency

    def set_api_key(self, api_key: str | None) -> None:
        """Require ``api_key`` from now on (None: accept any key or none)."""
        self.state.configure(api_key=api_key)

    def set_latency(self, seconds: float) -> None:
        """Set the render time of generations accepted from now on."""
        self.state.configure(latency=seconds)

    def finish_rendering(self) -> int:
        """
        End every generation still rendering now (whatever the latency it was accepted with) and
        return how many there were: a test holds a generation with a long latency until the
        moment it chooses, instead of guessing a render time.
        """
        return self.state.finish_rendering()

    def set_max_in_flight(self, limit: int | None) -> None:
        """Refuse submissions with 429 while a key has ``limit`` generations rendering (None: no limit)."""
        self.state.configure(max_in_flight=limit)

    def set_charged_statuses(self, codes: Iterable[int]) -> None:
        """
        The billing model: the statuses a ``status`` fault on ``/api/features`` answers after
        starting (and charging) the generation. Empty by default.
        """
        self.state.configure(charged_statuses=list(codes))

    def set_echo_key(self, echo: bool) -> None:
        """Echo the API key a client sends back in error messages and records (to test redaction)."""
        self.state.configure(echo_key=echo)

    def set_link_secret(self, secret: str) -> None:
        """Start every link signature issued from now on with ``secret`` (to scan runs for it)."""
        self.state.configure(link_secret=secret)

    def set_report_credit(self, report: bool) -> None:
        """Put what each generation cost in its record (``metadata.credit``), or leave it out."""
        self.state.configure(report_credit=report)

    def set_unlisted_models(self, models: Iterable[str]) -> None:
        """Leave these model ids out of the model list (``GET /models``); they are still served."""
        self.state.configure(unlisted_models=list(models))

    def model_list_calls(self) -> list[dict[str, Any]]:
        """Every ``GET /models`` call so far (``{"feature", "with_key"}``), oldest first."""
        return self.state.model_list_calls()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once no request is being handled (a delayed one has had its chance to charge)."""
        deadline = time.monotonic() + timeout
        while self.state.requests_in_progress():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the emulator was still handling requests after {timeout} s")
            time.sleep(0.01)

    def rate_limited(self) -> int:
        """Submissions refused so far because of the in-flight limit."""
        return int(self.state.snapshot()["rate_limited"]["total"])

    def add_fault(self, kind: str, count: int = 1, endpoint: str = "features", **params: Any) -> Fault:
        """Queue a fault for the next ``count`` calls of ``endpoint``; see ``faults.FAULT_SYNTAX``."""
        fault = Fault(kind=kind, count=count, endpoint=endpoint, params=params)
        self.state.add_fault(fault)
        return fault

    @property
    def faults(self) -> list[dict[str, Any]]:
        """Faults still queued, in their JSON form."""
        return self.state.pending_faults()

    def reset(self, *, config: bool = False) -> None:
        """Clear faults, records, assets and charges; with ``config``, restore the startup settings."""
        self.state.reset(config=config)

    # inspection
    def charges(self, api_key: str | None = None) -> int:
        """Generations charged so far: in total (``api_key`` None) or to one key."""
        return self.state.charges(api_key)

    @property
    def records(self) -> list[Generation]:
        """Every accepted generation, oldest first (``.uuid``, ``.status``, ``.charged``, ...)."""
        return self.state.generations()

    def record(self, record_uuid: str) -> Generation | None:
        """One generation by uuid."""
        return self.state.generation(record_uuid)

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_emulator/state`` answers."""
        return self.state.snapshot()

    def add_asset(self, data: bytes, filename: str = "image.png", content_type: str = "image/png") -> str:
        """Store a file as if uploaded and return its key (for ``imageUrl``)."""
        return self.state.store_asset(data, filename, content_type).key


def _as_fault(item: Fault | dict[str, Any] | str) -> Fault:
    if isinstance(item, Fault):
        return item
    if isinstance(item, str):
        return parse_fault_spec(item)
    return Fault.from_dict(item)
