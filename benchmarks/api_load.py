"""Load on the REST API: p50/p99 latency and requests/s of ``GET /comparisons/{id}`` and ``GET /studies``.

Seeds a finished comparison of 2 spaces x 20 replicates x 25 trials, each trial with a full curve (20 epochs x
6 metrics), straight into a SQLite file through ``Storage``; starts uvicorn with the app (no scheduler, no
access log) in its own process on a free port. Then, per endpoint, one client sends 300 requests (the service
time alone), and ``--clients`` concurrent httpx clients send ``--requests`` after a warm-up. ``GET /healthz``
is measured the same way, as the floor that the server and this client cost for an empty answer. Also times
one uncached ``comparison_view`` in this process, split into its queries and its analysis, to show where the
time of a comparison still running goes. The last line is one JSON object. Target here: p99 <= 100 ms.

    .venv/bin/python benchmarks/api_load.py [--clients 50] [--requests 2000] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from search_spaces import RangeParameter, get_space
from tuner.analysis.reports import comparison_view, objective_sequence
from tuner.analysis.statistics import compare_spaces
from tuner.settings import Settings
from tuner.storage import Storage, StudyRecord
from tuner.study.config import ComparisonConfig
from tuner.study.states import StudyState, TrialState
from tuner.study.submit import submit_comparison

SPACES = ("latent", "filter")
REPLICATES = 20
TRIALS = 25
EPOCHS = 20
METRICS = ("train_loss", "train_accuracy", "val_accuracy", "test_accuracy", "flip_ratio", "seconds")
REPO = Path(__file__).resolve().parents[1]

_SERVER = """
import sys, uvicorn
from api import create_app
uvicorn.run(create_app(run_scheduler=False), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
"""


def _point(study: StudyRecord, number: int) -> dict[str, object]:
    point: dict[str, object] = {}
    for i, parameter in enumerate(get_space(study.config.space).parameters):
        if isinstance(parameter, RangeParameter):
            fraction = ((number + 1) * (i + 3) * 0.137) % 1.0
            point[parameter.name] = parameter.lower + fraction * (parameter.upper - parameter.lower)
        else:
            point[parameter.name] = parameter.choices[number % len(parameter.choices)]
    return point


def seed(storage: Storage) -> int:
    """Store the finished comparison and return its id; the filter studies climb faster, as in the paper."""
    config = ComparisonConfig(spaces=list(SPACES), replicates=REPLICATES, n_trials=TRIALS, epochs=EPOCHS)
    comparison, studies = submit_comparison(storage, Settings(), config)
    for study in studies:
        assert study.replicate is not None
        storage.set_study_state(study.id, StudyState.RUNNING)
        rate = 0.04 if study.config.space == "filter" else 0.025
        for number in range(TRIALS):
            final = min(0.97, 0.3 + rate * number + 0.005 * ((number * 7 + study.replicate * 3) % 11))
            trial = storage.create_trial(study.id, number, _point(study, number))
            for epoch in range(1, EPOCHS + 1):
                accuracy = final * epoch / EPOCHS
                curve = (2.3 - 2 * accuracy, accuracy, accuracy, accuracy - 0.01, 1e-3, 0.4)
                values = dict(zip(METRICS, curve, strict=True))
                storage.add_points(trial.id, epoch, values)
            storage.finish_trial(trial.id, TrialState.COMPLETED, objective=final)
        storage.set_study_state(study.id, StudyState.COMPLETED)
    return comparison.id


def _seeded_comparison(storage: Storage) -> int | None:
    """The id of a completed comparison of the benchmark's shape already in the database, if there is one."""
    for comparison in storage.list_comparisons(limit=10):
        config = comparison.config
        shape = (tuple(config.spaces), config.replicates, config.n_trials, config.epochs)
        if comparison.state is StudyState.COMPLETED and shape == (SPACES, REPLICATES, TRIALS, EPOCHS):
            return comparison.id
    return None


def uncached_view_seconds(storage: Storage, comparison_id: int, repeats: int = 5) -> dict[str, float]:
    """Median seconds of one ``comparison_view``, of its queries alone, and of its analysis alone."""
    whole, queries, analysis = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        comparison_view(storage, comparison_id)
        whole.append(time.perf_counter() - start)
        start = time.perf_counter()
        comparison = storage.get_comparison(comparison_id)
        curves: dict[str, list[list[float | None]]] = {space: [] for space in comparison.config.spaces}
        for study in storage.comparison_studies(comparison_id):
            curves[study.config.space].append(objective_sequence(storage.trials(study.id)))
        queries.append(time.perf_counter() - start)
        start = time.perf_counter()
        compare_spaces(curves, tolerance=0.01)
        analysis.append(time.perf_counter() - start)
    return {
        "view_s": statistics.median(whole),
        "queries_s": statistics.median(queries),
        "analysis_s": statistics.median(analysis),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_server(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BNN_TUNE_DATABASE_URL": database_url, "BNN_TUNE_API_TOKEN": "benchmark"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    process = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], env=env, cwd=REPO)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 120 s")


async def _load(url: str, clients: int, requests: int) -> dict[str, float]:
    """Send ``requests`` GETs of ``url`` from ``clients`` concurrent clients; latency percentiles and rate."""
    latencies: list[float] = []
    remaining = 4 * min(clients, 4)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise SystemExit(f"GET {url}: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(min(clients, 4))))  # warm-up: connections, cache
        latencies.clear()
        remaining = requests
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "requests_per_s": len(ordered) / elapsed,
        "requests": len(ordered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint")
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="SQLite file to seed, or reuse if seeded (default: a temporary one)",
    )
    args = parser.parse_args()

    directory = tempfile.TemporaryDirectory(prefix="bnn-tune-api-load-")
    path = args.db or Path(directory.name) / "bnn-tune.db"
    url = f"sqlite:///{path}"
    storage = Storage(url)
    storage.migrate()
    comparison_id = _seeded_comparison(storage)
    if comparison_id is None:
        start = time.perf_counter()
        comparison_id = seed(storage)
        points = len(SPACES) * REPLICATES * TRIALS * EPOCHS * len(METRICS)
        took = time.perf_counter() - start
        print(f"seeded comparison {comparison_id}: {points} curve points in {took:.1f} s")
    else:
        print(f"reusing comparison {comparison_id} in {path}")
    breakdown = uncached_view_seconds(storage, comparison_id)
    print(
        f"uncached comparison view: {1000 * breakdown['view_s']:.1f} ms "
        f"(queries {1000 * breakdown['queries_s']:.1f} ms, analysis {1000 * breakdown['analysis_s']:.1f} ms)"
    )

    port = _free_port()
    server = _start_server(url, port)
    results: dict[str, Any] = {"clients": args.clients, "uncached_view": breakdown}
    try:
        base = f"http://127.0.0.1:{port}"
        endpoints = (
            ("healthz", "/healthz"),
            ("comparison", f"/comparisons/{comparison_id}"),
            ("studies", "/studies"),
        )
        for clients, requests in ((1, 300), (args.clients, args.requests)):
            for name, path_ in endpoints:
                figures = asyncio.run(_load(base + path_, clients, requests))
                results[f"{name}_{clients}"] = figures
                print(
                    f"GET {path_:<18} p50 {figures['p50_ms']:7.1f} ms  p99 {figures['p99_ms']:7.1f} ms  "
                    f"{figures['requests_per_s']:7.1f} requests/s  ({clients} clients)"
                )
    finally:
        server.terminate()
        server.wait(30)
        storage.close()
        directory.cleanup()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
