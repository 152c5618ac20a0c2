"""Seconds for one lockstep round of Bayesian-optimization suggestions: one study after another against a pool.

Builds ``--studies`` histories of ``--history`` completed trials per space (random points of the space with a smooth
made-up objective, so BoTorch is past its Sobol phase), then times the round's suggestions twice in the same run:
serially in this process (what the scheduler does with ``suggestion_workers = 0``) and with a warmed
:class:`~tuner.bo.suggestions.SuggestionPool` of ``--workers`` processes. Repeats ``--repeats`` times and reports
medians and the speedup; the last line is one JSON object.

    .venv/bin/python benchmarks/suggestion_pool.py [--studies 8] [--history 10] [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import time
from typing import Any

import torch

from search_spaces import get_space, sample_point
from tuner.bo.ax_adapter import HistoryTrial
from tuner.bo.suggestions import SuggestionPool, SuggestionRequest, suggest_from_history
from tuner.study.states import TrialState


def made_up_objective(point: dict[str, object]) -> float:
    # Any smooth function of the numeric parameters will do: the benchmark times the model, not the optimum.
    values = [math.log10(float(v)) for v in point.values() if isinstance(v, float) and v > 0]
    return 0.9 - 0.01 * sum((v + 2.5) ** 2 for v in values)


def requests(spaces: list[str], studies: int, history: int) -> dict[tuple[str, int], SuggestionRequest]:
    rng = random.Random(0)
    out = {}
    for name in spaces:
        space = get_space(name)
        for replicate in range(studies // len(spaces)):
            trials = []
            for number in range(history):
                point = sample_point(space, rng)
                trials.append(HistoryTrial(number, point, TrialState.COMPLETED, made_up_objective(point)))
            out[name, replicate] = SuggestionRequest.of(
                name, seed=replicate, n_initial=5, objective="val_accuracy", history=trials
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=8, help="studies per round, split over latent and filter")
    parser.add_argument("--history", type=int, default=10, help="completed trials per study")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    round_requests = requests(["latent", "filter"], args.studies, args.history)
    serial: list[float] = []
    pooled: list[float] = []
    with SuggestionPool(args.workers) as pool:
        pool.suggest(round_requests)  # warm: spawn the workers and import Ax there
        for _ in range(args.repeats):
            start = time.perf_counter()
            here = {key: suggest_from_history(r) for key, r in round_requests.items()}
            serial.append(time.perf_counter() - start)
            start = time.perf_counter()
            answers = pool.suggest(round_requests)
            pooled.append(time.perf_counter() - start)
            assert answers == here, "the pool suggested other points than this process"
    result: dict[str, Any] = {
        "studies": len(round_requests),
        "history": args.history,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "serial_seconds_median": statistics.median(serial),
        "pool_seconds_median": statistics.median(pooled),
        "seconds_per_suggestion_serial": statistics.median(serial) / len(round_requests),
        "speedup": statistics.median(serial) / statistics.median(pooled),
        "serial_seconds": serial,
        "pool_seconds": pooled,
    }
    print(
        f"{result['studies']} suggestions: serial {result['serial_seconds_median']:.2f} s, "
        f"pool of {args.workers} {result['pool_seconds_median']:.2f} s (median of {args.repeats})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
