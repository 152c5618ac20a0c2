"""Wall time of one comparison run trial by trial against the same comparison run as batched rounds.

Runs the same comparison twice in this process with the in-process executor (fresh SQLite files): once trial by trial,
once with ``batch=True`` (the trials of a scheduler round that fit together train as one batched model). Bayesian
optimization is included in both; its share is the time spent in the Ax adapter, measured by wrapping ``suggest``.
The last line is one JSON object.

    .venv/bin/python benchmarks/batched_comparison.py [--replicates 5] [--trials 6] [--epochs 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from tuner.bo.ax_adapter import AxAdapter
from tuner.execution.executor import InlineExecutor
from tuner.execution.scheduler import Scheduler
from tuner.settings import Settings
from tuner.storage import Storage
from tuner.study.config import ComparisonConfig
from tuner.study.submit import submit_comparison


def run(folder: Path, config: ComparisonConfig, batch: bool) -> dict[str, Any]:
    url = f"sqlite:///{folder / f'batch-{batch}.db'}"
    storage = Storage(url)
    storage.migrate()
    _, studies = submit_comparison(storage, Settings(), config)
    bo_seconds = 0.0
    original = AxAdapter.suggest

    def timed(self: AxAdapter, n: int = 1) -> list[tuple[int, dict[str, object]]]:
        nonlocal bo_seconds
        start = time.perf_counter()
        try:
            return original(self, n)
        finally:
            bo_seconds += time.perf_counter() - start

    AxAdapter.suggest = timed  # type: ignore[method-assign]
    start = time.perf_counter()
    try:
        Scheduler(storage, InlineExecutor(batch=batch), database_url=url, poll_seconds=0.01).run(until_idle=True)
    finally:
        AxAdapter.suggest = original  # type: ignore[method-assign]
    seconds = time.perf_counter() - start
    objectives = [t.objective for s in studies for t in storage.trials(s.id) if t.objective is not None]
    return {
        "seconds": round(seconds, 1),
        "bo_seconds": round(bo_seconds, 1),
        "trials": len(objectives),
        "mean_objective": round(sum(objectives) / len(objectives), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=5)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = ComparisonConfig(replicates=args.replicates, n_trials=args.trials, epochs=args.epochs, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        one_by_one = run(Path(folder), config, batch=False)
        batched = run(Path(folder), config, batch=True)
    figures = {
        "spaces": ["latent", "filter"],
        "replicates": args.replicates,
        "trials": args.trials,
        "epochs": args.epochs,
        "threads": args.threads,
        "one_by_one": one_by_one,
        "batched": batched,
        "speedup": round(one_by_one["seconds"] / batched["seconds"], 2),
        "training_speedup": round(
            (one_by_one["seconds"] - one_by_one["bo_seconds"]) / (batched["seconds"] - batched["bo_seconds"]), 2
        ),
    }
    print(
        f"one by one: {one_by_one}\nbatched:    {batched}\nspeedup {figures['speedup']}x "
        f"(training alone {figures['training_speedup']}x)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
