"""How noisy a trial's objective is, and what folds and repeats buy: the measurement behind the objective's defaults.

For each setting (folds x repeats members per trial) it trains one fixed configuration of each space with
``--seeds`` study seeds (trial 0's seed of each), as one scheduler round would (every trial's members of one fold
train as one batched model), and reports the standard deviation of the objective over the seeds (the noise) and
the wall time per trial against the single-split setting measured in the same run. Beside it, the spread (standard
deviation) of the objective over ``--configs`` random configurations of each space at the same setting: how far
apart configurations are, the signal the noise has to be small against; their values are the calibration run whose
quantiles can serve as a comparison's fixed targets. The last line is one JSON object.

    .venv/bin/python benchmarks/objective_noise.py [--seeds 8] [--configs 30] [--epochs 20]
        [--settings 1x1,3x1,5x1,3x2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

import torch

from search_spaces import get_space, sample_point
from trainers.members import member_specs, objective_value, objective_with_sem, train_members
from trainers.trial import TrialResult, TrialSpec, cached_task_data
from tuner.execution.scheduler import trial_spec
from tuner.study.config import StudyConfig

# One fixed configuration per space, near the middle of its box (log scale) where the networks train well.
FIXED: dict[str, dict[str, object]] = {
    "filter": {"alpha": 1e-3, "gamma": 1e-2},
    "latent": {
        "lr": 0.03,
        "weight_decay": 1e-3,
        "one_minus_momentum": 0.1,
        "init_scale": 1e-3,
        "scaling": "off",
        "clipping": "off",
    },
}


def _objectives(specs: list[TrialSpec], folds: int, repeats: int) -> tuple[list[float], float]:
    """Each trial's objective (mean over its members) and the wall seconds of training them all as one round."""
    members = [m for spec in specs for m in member_specs(spec, folds, repeats)]
    started = time.perf_counter()
    outcomes = train_members(members)
    seconds = time.perf_counter() - started
    size = folds * repeats
    values = []
    for t in range(len(specs)):
        mine = outcomes[t * size : (t + 1) * size]
        points = [o.points for o in mine if isinstance(o, TrialResult)]
        if len(points) < size:
            values.append(float("nan"))  # a diverged member: the trial fails
            continue
        values.append(objective_with_sem([objective_value(p, "val_accuracy_last") for p in points])[0])
    return values, seconds


def _sd(values: list[float]) -> float:
    finite = [v for v in values if v == v]
    return statistics.stdev(finite) if len(finite) > 1 else float("nan")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Noise, wall time and configuration spread per space and setting."""
    settings = [tuple(int(x) for x in setting.split("x")) for setting in args.settings.split(",")]
    for folds, _ in settings:  # load and cache every fold's data first, so that no timing includes it
        for fold in range(folds):
            cached_task_data(TrialSpec(folds=folds, fold=fold))
    results: dict[str, Any] = {"epochs": args.epochs, "seeds": args.seeds, "configs": args.configs, "spaces": {}}
    for space_name, point in FIXED.items():
        space = get_space(space_name)
        rng = random.Random(0)
        random_points = [sample_point(space, rng) for _ in range(args.configs)]
        rows = []
        for folds, repeats in settings:
            config = StudyConfig(space=space_name, epochs=args.epochs, folds=folds, repeats=repeats)
            seeded = [trial_spec(config.model_copy(update={"seed": s}), space, point, 0) for s in range(args.seeds)]
            noise_values, noise_seconds = _objectives(seeded, folds, repeats)
            spread_specs = [trial_spec(config, space, p, k) for k, p in enumerate(random_points)]
            spread_values, spread_seconds = _objectives(spread_specs, folds, repeats)
            row = {
                "folds": folds,
                "repeats": repeats,
                "noise_mean": statistics.fmean(v for v in noise_values if v == v),
                "noise_sd": _sd(noise_values),
                "seconds_per_trial": noise_seconds / args.seeds,
                "config_spread_sd": _sd(spread_values),
                "config_mean": statistics.fmean(v for v in spread_values if v == v),
                "config_failed": sum(v != v for v in spread_values),
                "config_seconds_per_trial": spread_seconds / args.configs,
                "noise": noise_values,
                "config_values": spread_values,
            }
            rows.append(row)
            print(
                f"{space_name:>7} {folds}x{repeats}: noise sd {row['noise_sd']:.4f} (mean {row['noise_mean']:.4f}), "
                f"{row['seconds_per_trial']:.2f} s/trial; spread over {args.configs} configs sd "
                f"{row['config_spread_sd']:.4f}",
                flush=True,
            )
        base = rows[0]
        for row in rows:
            row["noise_ratio"] = row["noise_sd"] / base["noise_sd"]
            row["time_ratio"] = row["seconds_per_trial"] / base["seconds_per_trial"]
            row["config_time_ratio"] = row["config_seconds_per_trial"] / base["config_seconds_per_trial"]
            row["signal_to_noise"] = row["config_spread_sd"] / row["noise_sd"]
        results["spaces"][space_name] = rows
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--configs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--settings", default="1x1,2x1,3x1,5x1,3x2", help="FOLDSxREPEATS, the first the baseline")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    results = measure(args)
    results["wall_seconds"] = time.perf_counter() - started
    results["threads"] = args.threads
    print(json.dumps(results))


if __name__ == "__main__":
    main()
