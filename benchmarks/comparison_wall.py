"""Wall time of a Figure 8-sized comparison, and how much of it is not training.

Runs a latent-vs-filter comparison (``--replicates`` x ``--trials`` trials of ``--epochs`` epochs per space, single
split, batched rounds on a local Ray, ``--suggestion-workers`` suggestion processes) through the public API on a
temporary SQLite file, once per suggestion path of ``--suggesters`` (one after another, in the same run), and times
it. Training time is read from the stored curves: every member of a batch stores the batch's seconds per epoch, so a
batch's training is the sum of those over its epochs (members that share an epoch-1 value are one batch). The
batches run side by side on the Ray slots (2 on this machine), so training needs at least (sum of batch times) /
slots of wall time; the rest is counted as outside training (suggestions, Ray's dispatch, building models and loading
data in the worker, writing points, the scheduler's bookkeeping). That makes the share outside training an upper
bound. The last line is one JSON object.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/comparison_wall.py [--replicates 20] [--trials 25]
        [--epochs 20] [--suggesters botorch] [--suggestion-workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, cast

from tuner import ComparisonConfig, StudyConfig, run_comparison
from tuner.bo.adapters import SUGGESTERS
from tuner.storage import Storage
from tuner.study.config import Suggester


def training_seconds(storage: Storage, comparison_id: int) -> tuple[float, int]:
    """The summed training time of the comparison's batches, and how many batches there were."""
    batches: dict[tuple[int, float], float] = defaultdict(float)
    for study in storage.comparison_studies(comparison_id):
        numbers = {t.id: t.number for t in storage.trials(study.id)}
        for trial_id, points in storage.curves(study.id).items():
            seconds = {p.epoch: p.value for p in points if p.metric == "seconds" and p.member == 0}
            if seconds:
                batches[numbers[trial_id], seconds[min(seconds)]] = sum(seconds.values())
    return sum(batches.values()), len(batches)


def run(args: argparse.Namespace, suggester: Suggester, folder: Path) -> dict[str, Any]:
    template = StudyConfig(task="audio", n_trials=args.trials, epochs=args.epochs, seed=args.seed, suggester=suggester)
    config = ComparisonConfig.of(template, ["latent", "filter"], args.replicates)
    url = f"sqlite:///{folder / f'{suggester}.db'}"
    total = 2 * args.replicates * args.trials
    start = time.perf_counter()

    shown = [-1]

    def progress(done: int, asked: int) -> None:
        if done != shown[0]:
            shown[0] = done
            print(f"\r{suggester}: {done}/{asked} trials, {time.perf_counter() - start:.0f} s", end="", file=sys.stderr)

    report = run_comparison(config, url, executor="ray", batch_trials=True, on_progress=progress)
    wall = time.perf_counter() - start
    print(file=sys.stderr)
    storage = Storage(url)
    try:
        trained, batches = training_seconds(storage, report.id)
    finally:
        storage.close()
    training_wall = trained / args.slots
    result = {
        "suggester": suggester,
        "trials": total,
        "wall_seconds": wall,
        "batches": batches,
        "batch_seconds_sum": trained,
        "training_wall_seconds_at_least": training_wall,
        "outside_training_share_at_most": max(0.0, 1.0 - training_wall / wall),
    }
    print(
        f"{suggester}: {total} trials in {wall / 60:.1f} min; {batches} batches trained {trained / 60:.1f} min, "
        f"at least {training_wall / 60:.1f} min of wall on {args.slots} slots: at most "
        f"{result['outside_training_share_at_most']:.0%} outside training"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--suggesters", default="botorch", help="comma-separated, run one after another")
    parser.add_argument("--suggestion-workers", type=int, default=2)
    parser.add_argument("--slots", type=int, default=os.cpu_count() or 1, help="Ray's trial slots (its CPUs)")
    args = parser.parse_args()
    os.environ["BNN_TUNE_SUGGESTION_WORKERS"] = str(args.suggestion_workers)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    results = []
    with tempfile.TemporaryDirectory(prefix="wall-") as folder:
        os.environ.setdefault("RAY_TMPDIR", folder)
        for name in args.suggesters.split(","):
            if name not in SUGGESTERS:
                parser.error(f"--suggesters: {name!r} is not one of {list(SUGGESTERS)}")
            results.append(run(args, cast(Suggester, name), Path(folder)))
    print(json.dumps({"args": vars(args), "runs": results}))


if __name__ == "__main__":
    main()
