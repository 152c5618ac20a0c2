"""Seconds for one lockstep round of Bayesian-optimization suggestions: one study after another against a pool.

Builds ``--studies`` histories of ``--history`` completed trials per space (random points of the space with a smooth
made-up objective, so BoTorch is past its Sobol phase), then times the round's suggestions twice in the same run:
serially in this process (what the scheduler does with ``suggestion_workers = 0``) and with a warmed
:class:`~tuner.bo.suggestions.SuggestionPool` of ``--workers`` processes, for each suggestion path of
``--suggesters`` (the lean ``botorch`` path and the ``ax`` path, in the same run). Repeats ``--repeats`` times and
reports medians, per space too, and the speedup; the last line is one JSON object, whose top-level figures
(``seconds_per_suggestion_serial`` and the rest) are those of the first suggester.

    .venv/bin/python benchmarks/suggestion_pool.py [--studies 8] [--history 10] [--workers 2] [--repeats 3]
        [--suggesters botorch,ax]
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
from tuner.bo.adapters import SUGGESTERS
from tuner.bo.history import HistoryTrial
from tuner.bo.suggestions import SuggestionPool, SuggestionRequest, suggest_from_history
from tuner.study.config import Suggester
from tuner.study.states import TrialState


def made_up_objective(point: dict[str, object]) -> float:
    # Any smooth function of the numeric parameters will do: the benchmark times the model, not the optimum.
    values = [math.log10(float(v)) for v in point.values() if isinstance(v, float) and v > 0]
    return 0.9 - 0.01 * sum((v + 2.5) ** 2 for v in values)


def requests(
    spaces: list[str], studies: int, history: int, suggester: Suggester = "botorch"
) -> dict[tuple[str, int], SuggestionRequest]:
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
                name, seed=replicate, n_initial=5, objective="val_accuracy", history=trials, suggester=suggester
            )
    return out


def measure(round_requests: dict[tuple[str, int], SuggestionRequest], workers: int, repeats: int) -> dict[str, Any]:
    """Median seconds per suggestion, serially (per space too) and for a round from a warmed pool."""
    serial: list[float] = []
    per_space: dict[str, list[float]] = {}
    pooled: list[float] = []
    with SuggestionPool(workers) as pool:
        pool.suggest(round_requests)  # warm: spawn the workers and import BoTorch (and Ax) there
        for _ in range(repeats):
            here = {}
            round_start = time.perf_counter()
            for key, request in round_requests.items():
                start = time.perf_counter()
                here[key] = suggest_from_history(request)
                per_space.setdefault(key[0], []).append(time.perf_counter() - start)
            serial.append(time.perf_counter() - round_start)
            start = time.perf_counter()
            answers = pool.suggest(round_requests)
            pooled.append(time.perf_counter() - start)
            assert answers == here, "the pool suggested other points than this process"
    return {
        "serial_seconds_median": statistics.median(serial),
        "pool_seconds_median": statistics.median(pooled),
        "seconds_per_suggestion_serial": statistics.median(serial) / len(round_requests),
        "seconds_per_suggestion_by_space": {space: statistics.median(times) for space, times in per_space.items()},
        "speedup": statistics.median(serial) / statistics.median(pooled),
        "serial_seconds": serial,
        "pool_seconds": pooled,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=8, help="studies per round, split over latent and filter")
    parser.add_argument("--history", type=int, default=10, help="completed trials per study")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--suggesters", default=",".join(SUGGESTERS), help="suggestion paths, measured in this order in one run"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    suggesters = args.suggesters.split(",")
    by_suggester: dict[str, dict[str, Any]] = {}
    for suggester in suggesters:
        round_requests = requests(["latent", "filter"], args.studies, args.history, suggester)
        by_suggester[suggester] = measure(round_requests, args.workers, args.repeats)
        figures = by_suggester[suggester]
        spaces = ", ".join(f"{k} {v:.3f} s" for k, v in figures["seconds_per_suggestion_by_space"].items())
        print(
            f"{suggester}: {len(round_requests)} suggestions: serial {figures['serial_seconds_median']:.2f} s "
            f"({figures['seconds_per_suggestion_serial']:.3f} s each; {spaces}), "
            f"pool of {args.workers} {figures['pool_seconds_median']:.2f} s (median of {args.repeats})"
        )
    first = by_suggester[suggesters[0]]
    result: dict[str, Any] = {
        "studies": args.studies,
        "history": args.history,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "suggester": suggesters[0],
        **{k: v for k, v in first.items() if not k.endswith("_seconds")},
        "by_suggester": by_suggester,
    }
    if "ax" in by_suggester and suggesters[0] != "ax":
        result["ax_over_first"] = (
            by_suggester["ax"]["seconds_per_suggestion_serial"] / first["seconds_per_suggestion_serial"]
        )
        print(f"Ax takes {result['ax_over_first']:.1f}x the time of {suggesters[0]} per suggestion")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
