"""The demo behind ``make demo``: start the service, submit a small comparison over REST, point at its page.

Starts ``bnn-tune serve`` (embedded defaults: SQLite file, local Ray, scheduler in the same process), waits until it
is ready, submits a latent-vs-filter comparison on FSDD through ``POST /comparisons``, prints the URL of its results
page, and keeps serving until interrupted (Ctrl-C). The page fills in as trials finish.

    .venv/bin/python -m bnn_tune.demo [--port 8000] [--replicates 3] [--trials 6] [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"bnn-tune serve exited with status {server.returncode}; its log is above")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2.0) as response:
                if response.status == 200:
                    return
        except OSError:  # refused while starting, or 503 until the database answers
            pass
        time.sleep(0.5)
    raise SystemExit(f"bnn-tune serve did not become ready at {base} within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="preferred port (another is taken if it is busy)")
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    port = _free_port(args.port)
    base = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("bnn-tune")), "serve", "--port", str(port)]
    server = subprocess.Popen(command)
    try:
        _wait_ready(base, server)
        body = {
            "task": "audio",
            "spaces": ["latent", "filter"],
            "replicates": args.replicates,
            "n_trials": args.trials,
            "epochs": args.epochs,
            "seed": 0,
        }
        request = urllib.request.Request(
            f"{base}/comparisons",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        # The standard library's client: the demo runs on a plain install, without the dev dependencies.
        with urllib.request.urlopen(request, timeout=30.0) as response:
            comparison = json.load(response)
        print(
            f"\ncomparison {comparison['id']} submitted: {args.replicates} replicates x {args.trials} trials "
            f"of {args.epochs} epochs per space",
            flush=True,
        )
        print(f"results page (fills in live): {base}/ui/comparisons/{comparison['id']}", flush=True)
        print(f"all studies: {base}/    API docs: {base}/docs    stop with Ctrl-C\n", flush=True)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
