"""Do the lean and the Ax suggestion paths find equally good points? Synthetic objectives on our own spaces, paired.

Each benchmark maps a known test function onto a registered search space through the space's own unit cube (log
scales and choice parameters as registered):

- ``hartmann6-latent``: Hartmann-6 on the latent space; its four log-scaled ranges are the first four coordinates,
  the two on/off choices (scaling, clipping) the last two, at 0.3 (off) and 0.65 (on), near the optimum's
  0.31 and 0.66;
- ``branin-filter``: Branin on the filter space (log alpha -> x1 in [-5, 10], log gamma -> x2 in [0, 15]), negated;

each also ``-noisy``: Gaussian noise with the standard deviation that docs/results/objective-noise measured for the
single-split objective relative to the spread of random configurations (latent 0.45, filter 0.87 of that spread),
here relative to the test function's spread over 4096 random points; the adapter is told no standard error, as with
``folds = 1``. Each path runs ``--seeds`` studies of ``--trials`` trials per benchmark (5 Sobol, then BO), one trial
at a time; study s of both paths uses seed s and draws the same noise for trial k. The chosen point after k trials is
the trial with the best observed value (what a user would pick); its simple regret is the noise-free optimum
(found by multi-start L-BFGS-B over every choice combination) minus its noise-free value. Reported per benchmark at
trials 10 and 25: mean regret per path and the paired mean difference (lean minus Ax; negative favours lean) with a
95% bootstrap interval. The last line is one JSON object; ``--out`` also writes it, with every study's values.

``--real-replicates R`` adds a short check on the real task: a latent-vs-filter comparison on FSDD per path (R
replicates of ``--real-trials`` trials, ``--real-epochs`` epochs, single split, batched, seed 0), paired per space and
replicate on the best validation accuracy so far (its JSON line comes first; ``--benchmarks ""`` runs it alone).

    .venv/bin/python benchmarks/bo_quality.py [--seeds 20] [--trials 25] [--workers 2] [--out docs/results]
        [--real-replicates 0] [--real-trials 20] [--real-epochs 20]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

from search_spaces import SearchSpace, get_space
from tuner.analysis.paired import mean_interval
from tuner.bo.adapters import SUGGESTERS, new_adapter
from tuner.bo.lean import UnitCube
from tuner.study.config import Suggester

NOISE_TO_SPREAD = {"latent": 0.45, "filter": 0.87}  # docs/results/objective-noise: noise SD / config spread, 1 x 1
CHECKPOINTS = (10, 25)

_HARTMANN_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
_HARTMANN_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_CHOICE_COORDINATES = (0.3, 0.65)


def hartmann6(x: np.ndarray) -> float:
    """The Hartmann-6 function, negated so that its maximum (3.32237 at the global optimum) is sought."""
    return float(np.sum(_HARTMANN_ALPHA * np.exp(-np.sum(_HARTMANN_A * (x - _HARTMANN_P) ** 2, axis=1))))


def branin(u: np.ndarray) -> float:
    """Branin on [0, 1]^2 mapped to [-5, 10] x [0, 15], negated (maximum -0.397887)."""
    x1, x2 = 15 * u[0] - 5, 15 * u[1]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return -float((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


@dataclass(frozen=True)
class Benchmark:
    name: str
    space: str
    function: Callable[[np.ndarray], float]
    noisy: bool

    def coordinates(self, cube: UnitCube, point: dict[str, object]) -> np.ndarray:
        u = np.array(cube.encode(point))
        for index in cube.choice_levels:
            u[index] = _CHOICE_COORDINATES[round(u[index])]
        return u

    def value(self, cube: UnitCube, point: dict[str, object]) -> float:
        return self.function(self.coordinates(cube, point))


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark("hartmann6-latent", "latent", hartmann6, noisy=False),
        Benchmark("hartmann6-latent-noisy", "latent", hartmann6, noisy=True),
        Benchmark("branin-filter", "filter", branin, noisy=False),
        Benchmark("branin-filter-noisy", "filter", branin, noisy=True),
    )
}


def optimum(benchmark: Benchmark, space: SearchSpace) -> float:
    """The best noise-free value the space can reach: L-BFGS-B from 64 random starts per choice combination."""
    cube = UnitCube(space)
    rng = np.random.default_rng(0)
    best = -math.inf
    for fixed in cube.choice_combinations():
        free = [i for i in range(cube.dimension) if i not in fixed]

        def negative(z: np.ndarray, fixed: dict[int, float] = fixed, free: list[int] = free) -> float:
            x = np.zeros(cube.dimension)
            x[free] = z
            for index, level in fixed.items():
                x[index] = level
            return -benchmark.value(cube, cube.decode(list(x)))

        for start in rng.random((64, len(free))):
            result = minimize(negative, start, bounds=[(0.0, 1.0)] * len(free), method="L-BFGS-B")
            best = max(best, -float(result.fun))
    return best


def spread(benchmark: Benchmark, space: SearchSpace) -> float:
    """The standard deviation of the noise-free value over 4096 random points of the space."""
    cube = UnitCube(space)
    rng = np.random.default_rng(1)
    values = []
    for u in rng.random((4096, cube.dimension)):
        for index, levels in cube.choice_levels.items():
            u[index] = levels[int(u[index] * len(levels))]
        values.append(benchmark.value(cube, cube.decode(list(u))))
    return float(np.std(values))


def run_study(name: str, suggester: Suggester, seed: int, trials: int, noise_sd: float) -> dict[str, Any]:
    """One study: its noise-free values, observed values and seconds per suggestion."""
    torch.set_num_threads(1)
    benchmark = BENCHMARKS[name]
    space = get_space(benchmark.space)
    cube = UnitCube(space)
    adapter = new_adapter(suggester, space, seed=seed, n_initial=5)
    noise = np.random.default_rng(10_000 + seed).normal(0.0, noise_sd, size=trials)
    true_values, observed, seconds = [], [], []
    for k in range(trials):
        start = time.perf_counter()
        [(index, point)] = adapter.suggest(1)
        seconds.append(time.perf_counter() - start)
        value = benchmark.value(cube, point)
        true_values.append(value)
        observed.append(value + float(noise[k]))
        adapter.complete(index, observed[-1])
    return {"true": true_values, "observed": observed, "seconds": seconds}


def chosen_regret(run: dict[str, Any], k: int, best: float) -> float:
    """Regret of the trial with the best observed value among the first k."""
    pick = max(range(k), key=lambda i: run["observed"][i])
    return best - float(run["true"][pick])


def real_check(replicates: int, trials: int, epochs: int, seed: int, database: Path) -> dict[str, Any]:
    """Both paths on FSDD: a latent-vs-filter comparison of ``replicates`` x ``trials`` per path (same seed, so
    replicate r of a space trains the same first trials on the same data order), trained batched in this process.
    Paired per (space, replicate): best validation accuracy so far at trial 10 and at the end, lean minus Ax."""
    from tuner import run_comparison
    from tuner.storage import Storage
    from tuner.study.config import ComparisonConfig, StudyConfig

    url = f"sqlite:///{database}"
    best_so_far: dict[tuple[str, str, int], list[float]] = {}
    seconds = {}
    for suggester in SUGGESTERS:
        template = StudyConfig(task="audio", n_trials=trials, epochs=epochs, seed=seed, suggester=suggester)
        start = time.perf_counter()
        report = run_comparison(ComparisonConfig.of(template, ["latent", "filter"], replicates), url, batch_trials=True)
        seconds[suggester] = time.perf_counter() - start
        storage = Storage(url)
        try:
            for study in storage.comparison_studies(report.id):
                values = [t.objective if t.objective is not None else -math.inf for t in storage.trials(study.id)]
                assert study.replicate is not None
                best_so_far[suggester, study.config.space, study.replicate] = list(np.maximum.accumulate(values))
        finally:
            storage.close()
    rows = {}
    for space in ("latent", "filter"):
        for k in sorted({min(10, trials), trials}):
            differences = [
                best_so_far["botorch", space, r][k - 1] - best_so_far["ax", space, r][k - 1] for r in range(replicates)
            ]
            mean, low, high, p = mean_interval(differences, seed=k)
            rows[f"{space}@{k}"] = {
                "best_botorch": statistics.mean(best_so_far["botorch", space, r][k - 1] for r in range(replicates)),
                "best_ax": statistics.mean(best_so_far["ax", space, r][k - 1] for r in range(replicates)),
                "difference": mean,
                "ci_low": low,
                "ci_high": high,
                "p": p,
            }
            row = rows[f"{space}@{k}"]
            print(
                f"FSDD {space:6s} trial {k:2d}: best val acc lean {row['best_botorch']:.4f} ax {row['best_ax']:.4f} "
                f"lean-ax {mean:+.4f} [{low:+.4f}, {high:+.4f}]"
            )
    return {
        "replicates": replicates,
        "trials": trials,
        "epochs": epochs,
        "seed": seed,
        "rows": rows,
        "seconds": seconds,
    }


def summarize(
    runs: dict[tuple[str, str, int], dict[str, Any]], facts: dict[str, dict[str, float]], seeds: int, trials: int
) -> dict[str, Any]:
    """Per benchmark: mean regret per path at the checkpoints, the paired difference (lean minus Ax) with its 95%
    bootstrap interval, and the median seconds per BO suggestion (trials after the Sobol start)."""
    summary: dict[str, Any] = {}
    for name, fact in facts.items():
        rows = {}
        for k in (c for c in CHECKPOINTS if c <= trials):
            regret = {
                s: [chosen_regret(runs[name, s, seed], k, fact["optimum"]) for seed in range(seeds)] for s in SUGGESTERS
            }
            differences = [a - b for a, b in zip(regret["botorch"], regret["ax"], strict=True)]
            mean, low, high, p = mean_interval(differences, seed=k)
            rows[k] = {
                "regret_botorch": statistics.mean(regret["botorch"]),
                "regret_ax": statistics.mean(regret["ax"]),
                "difference": mean,
                "ci_low": low,
                "ci_high": high,
                "p": p,
            }
        bo_seconds = {
            s: statistics.median(t for seed in range(seeds) for t in runs[name, s, seed]["seconds"][5:])
            for s in SUGGESTERS
        }
        summary[name] = {**fact, "checkpoints": rows, "median_bo_seconds": bo_seconds}
    return summary


def markdown_table(summary: dict[str, Any]) -> str:
    """The summary as the report's table."""
    lines = [
        "| benchmark | trial | regret, lean | regret, Ax | lean - Ax (95% CI) | s per BO suggestion, lean / Ax |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, entry in summary.items():
        seconds = entry["median_bo_seconds"]
        for k, row in entry["checkpoints"].items():
            lines.append(
                f"| {name} | {k} | {row['regret_botorch']:.4f} | {row['regret_ax']:.4f} | "
                f"{row['difference']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}] | "
                f"{seconds['botorch']:.2f} / {seconds['ax']:.2f} |"
            )
    return "\n".join(lines)


def synthetic(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """Every benchmark's studies on both paths, and their summary."""
    started = time.perf_counter()
    facts = {}
    for name in names:
        benchmark = BENCHMARKS[name]
        space = get_space(benchmark.space)
        sd = NOISE_TO_SPREAD[benchmark.space] * spread(benchmark, space) if benchmark.noisy else 0.0
        facts[name] = {"optimum": optimum(benchmark, space), "noise_sd": sd}
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    suggesters = list(SUGGESTERS)
    if args.reuse_ax is not None:
        # The Ax path's studies of an earlier run (same seeds, trials and noise): only the lean path runs again.
        stored = json.loads(args.reuse_ax.read_text())
        for key, run in stored["runs"].items():
            name, suggester, seed = key.split("/")
            if suggester == "ax" and name in names and int(seed) < args.seeds:
                runs[name, suggester, int(seed)] = run
        suggesters = ["botorch"]
    jobs = [(name, suggester, seed) for name in names for suggester in suggesters for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {
            job: pool.submit(run_study, job[0], job[1], job[2], args.trials, facts[job[0]]["noise_sd"]) for job in jobs
        }
        for done, (job, future) in enumerate(futures.items(), start=1):
            runs[job] = future.result()
            print(f"\r{done}/{len(jobs)} studies", end="", flush=True)
    print()
    return {
        "seeds": args.seeds,
        "trials": args.trials,
        "workers": args.workers,
        "wall_seconds": time.perf_counter() - started,
        "benchmarks": summarize(runs, facts, args.seeds, args.trials),
        "runs": {f"{n}/{s}/{seed}": run for (n, s, seed), run in runs.items()},
    }


def resummarized(path: Path) -> dict[str, Any]:
    """A stored result with its summary computed again from its studies (after a change to the summary)."""
    result: dict[str, Any] = json.loads(path.read_text())
    runs = {}
    for key, run in result["runs"].items():
        name, suggester, seed = key.split("/")
        runs[name, suggester, int(seed)] = run
    facts = {name: {k: entry[k] for k in ("optimum", "noise_sd")} for name, entry in result["benchmarks"].items()}
    result["benchmarks"] = summarize(runs, facts, result["seeds"], result["trials"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument("--out", type=Path, default=None, help="folder for bo-quality.json (and bo-quality-real.json)")
    parser.add_argument("--from-json", type=Path, default=None, help="summarize a stored bo-quality.json again")
    parser.add_argument(
        "--reuse-ax",
        type=Path,
        default=None,
        help="take the Ax path's studies from this bo-quality.json, run lean only",
    )
    parser.add_argument("--real-replicates", type=int, default=0, help="FSDD check: replicates per space (0: skip)")
    parser.add_argument("--real-trials", type=int, default=20)
    parser.add_argument("--real-epochs", type=int, default=20)
    args = parser.parse_args()
    if args.real_replicates:
        with tempfile.TemporaryDirectory() as folder:
            real = real_check(args.real_replicates, args.real_trials, args.real_epochs, 0, Path(folder) / "real.db")
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "bo-quality-real.json").write_text(json.dumps(real, indent=1))
        print(json.dumps(real))
    names = [name for name in args.benchmarks.split(",") if name]
    if args.from_json is not None:
        result = resummarized(args.from_json)
    elif names:
        result = synthetic(args, names)
    else:
        return
    print(markdown_table(result["benchmarks"]))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bo-quality.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({key: value for key, value in result.items() if key != "runs"}))


if __name__ == "__main__":
    main()
