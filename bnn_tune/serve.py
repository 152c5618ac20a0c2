"""The service commands of the CLI: ``serve`` (the REST API, by default with the scheduler) and ``scheduler``.

Embedded mode is ``bnn-tune serve``: one process holds the API and the scheduler. Cluster mode is
``bnn-tune serve --no-scheduler`` plus ``bnn-tune scheduler`` in another process, both on the same database
(``BNN_TUNE_DATABASE_URL``). Both commands run until SIGINT or SIGTERM, then stop cleanly: the scheduler
finishes its current tick, and trials still running are resumed (as new trials) by the next scheduler.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rich.console import Console

from bnn_errors import InvalidInputError

__all__ = ["add_service_parsers"]

# FastAPI, uvicorn and the tuner are imported inside the handlers, so that the other commands start fast.

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def add_service_parsers(commands: Any) -> None:
    """Add ``serve`` and ``scheduler`` to the CLI's subparsers."""
    serve = commands.add_parser("serve", help="run the REST API (and by default the scheduler) until stopped")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any)")
    serve.add_argument(
        "--no-scheduler",
        action="store_true",
        help="serve the API only; run `bnn-tune scheduler` elsewhere on the same database (cluster mode)",
    )
    _add_common(serve)
    serve.set_defaults(handler=_cmd_serve)

    scheduler = commands.add_parser("scheduler", help="run the scheduler in the foreground until interrupted")
    _add_common(scheduler)
    scheduler.set_defaults(handler=_cmd_scheduler)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=("ray", "inline"), default="ray", help="where trials run")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")


@contextmanager
def _caught_signals(on_signal: Callable[[int], None] | None = None) -> Iterator[list[int]]:
    """Within the block, SIGINT and SIGTERM are recorded (and passed to ``on_signal``), not fatal."""
    caught: list[int] = []

    def handle(number: int, _frame: FrameType | None) -> None:
        caught.append(number)
        if on_signal is not None:
            on_signal(number)

    previous = {number: signal.signal(number, handle) for number in _SIGNALS}
    try:
        yield caught
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``; raises ``InvalidInputError`` naming --host and --port if not."""
    if not 0 <= port <= 65535:
        raise InvalidInputError(f"--port must be in [0, 65535], got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        raise InvalidInputError(f"cannot listen on --host {host} --port {port}: {error}") from None
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _cmd_serve(args: argparse.Namespace, console: Console) -> dict[str, object]:
    import uvicorn

    from api import create_app
    from bnn_errors import RetryableError
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings

    settings = get_settings()
    # Opening the database here turns a wrong URL into a one-line error instead of a failed startup trace.
    open_storage(settings).close()
    sock = _bind(args.host, args.port)
    url = _url(sock)
    _configure_logging()
    app = create_app(settings, run_scheduler=not args.no_scheduler, executor=args.executor)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, timeout_graceful_shutdown=10))
    mode = "API only" if args.no_scheduler else f"API and scheduler ({args.executor} executor)"
    console.print(f"serving {mode} on {url} (docs: {url}/docs); stop with Ctrl-C", soft_wrap=True)
    # uvicorn re-raises the signal it stopped for once it has shut down; recording it instead lets the command
    # return normally, with its JSON line.
    with _caught_signals() as caught, sock:
        server.run(sockets=[sock])
    if not server.started:
        raise RetryableError("the service did not start; the log above says why")
    stopped_by = signal.Signals(caught[0]).name if caught else None
    console.print(f"stopped ({stopped_by or 'shut down'})")
    return {"url": url, "scheduler": not args.no_scheduler, "stopped": True, "signal": stopped_by}


def _cmd_scheduler(args: argparse.Namespace, console: Console) -> dict[str, object]:
    from api import SchedulerService
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings

    settings = get_settings()
    storage = open_storage(settings)
    _configure_logging()
    service = SchedulerService.from_settings(storage, settings, args.executor)
    stop = service.stop_event
    where = f"{storage.url} ({args.executor} executor)"
    console.print(f"scheduler running on {where}; stop with Ctrl-C", soft_wrap=True)
    with _caught_signals(lambda _number: stop.set()) as caught:
        service.start()
        # The main thread waits in slices, so that it runs the signal handlers, while the scheduler ticks.
        while not stop.wait(0.2):
            pass
        service.stop()
    storage.close()
    stopped_by = signal.Signals(caught[0]).name if caught else None
    console.print(f"scheduler stopped ({stopped_by or 'no signal'})")
    return {"database": storage.url, "executor": args.executor, "stopped": True, "signal": stopped_by}
