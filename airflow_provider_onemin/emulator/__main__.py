"""
``onemin-emulator``: run the local 1min.ai emulator until SIGTERM or SIGINT.

Prints the base URL on stdout once it listens (and writes it to ``--url-file`` if given), so a
script can start it with ``--port 0`` and read where it is::

    onemin-emulator --port 0 --api-key demo-key --url-file /tmp/onemin.url &
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_onemin.emulator.faults import FAULT_SYNTAX, parse_fault_spec

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

    from airflow_provider_onemin.emulator.faults import Fault

log = logging.getLogger("airflow_provider_onemin.emulator")


def _fault(spec: str) -> Fault:
    try:
        return parse_fault_spec(spec)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="onemin-emulator",
        description=(
            "Local emulator of the 1min.ai Background Replacer API (assets, features, results), "
            "with injectable faults. Everything is kept in memory. Control it at run time with "
            "POST /_emulator/faults, GET /_emulator/state, POST /_emulator/config, POST /_emulator/reset."
        ),
        epilog="fault syntax (--fault, repeatable; applied in order):\n" + FAULT_SYNTAX,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ONEMIN_EMULATOR_API_KEY"),
        help="API key clients must send in the API-KEY header (default: $ONEMIN_EMULATOR_API_KEY; "
        "unset: any key or none is accepted)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="render time of a generation in seconds (default: 0)"
    )
    parser.add_argument(
        "--max-in-flight",
        type=_positive_int,
        default=None,
        metavar="N",
        help="the account's limit of generations rendering at once per API key; above it "
        "POST /api/features answers 429 and charges nothing (default: no limit)",
    )
    parser.add_argument(
        "--charged-statuses",
        type=_status_list,
        default=(),
        metavar="CODES",
        help="billing model: statuses (e.g. 503,500) that a 'status' fault on /api/features answers "
        "after starting and charging the generation (default: none, as the API contract reads)",
    )
    parser.add_argument(
        "--fault", action="append", type=_fault, default=[], metavar="SPEC", help="queue a fault (see below)"
    )
    parser.add_argument("--url-file", type=Path, help="write the base URL to this file once listening")
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default: %(default)s)",
    )
    return parser


def _status_list(text: str) -> tuple[int, ...]:
    try:
        codes = tuple(int(code) for code in text.split(",") if code.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HTTP statuses like 503,500, not {text!r}") from None
    if not all(400 <= code <= 599 for code in codes):
        raise argparse.ArgumentTypeError(f"statuses must be 400..599, not {text!r}")
    return codes


def _write_url_file(path: Path, url: str) -> None:
    # Write then rename, so a script polling for the file never reads half a URL.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(url + "\n", encoding="utf-8")
    partial.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator in the foreground; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from airflow_provider_onemin.emulator.server import EmulatorServer

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    server = EmulatorServer(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        latency=args.latency,
        max_in_flight=args.max_in_flight,
        faults=args.fault,
        log_level=args.log_level,
    )
    server.set_charged_statuses(args.charged_statuses)
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        print(f"onemin-emulator: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    try:
        if args.url_file:
            _write_url_file(args.url_file, server.url)
        print(server.url, flush=True)
        log.info(
            "1min.ai emulator listening on %s (API key %s)",
            server.url,
            "required" if args.api_key else "not required",
        )
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        if args.url_file:
            args.url_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
