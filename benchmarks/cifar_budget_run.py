"""Train BiRealNet-20 on CIFAR-10 with the filter optimizer for as many epochs as a time budget allows.

Times one warm-up epoch, then plans the cosine alpha decay over the number of epochs that fit in the budget, so the
run ends with its schedule complete rather than cut off. Prints the per-epoch table; the last line is one JSON object
with the final and best accuracies (fractions) and the epochs reached.

    .venv/bin/python benchmarks/cifar_budget_run.py --minutes 5 --alpha 1e-3 --gamma 1e-3 [--device cuda]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from trainers.data import load_task_data
from trainers.trial import EpochPoint, TrialSpec, train_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--alpha", type=float, default=1e-3)
    parser.add_argument("--gamma", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    data = load_task_data("cifar10", max_train=args.max_train)
    load_seconds = time.perf_counter() - started
    spec = TrialSpec(
        task="cifar10",
        optimizer="filter",
        hyperparameters={"alpha": args.alpha, "gamma": args.gamma},
        epochs=1,
        batch_size=args.batch_size,
        seed=args.seed,
        max_train=args.max_train,
        device=args.device,
    )
    warm = train_trial(spec, data=data)
    epoch_seconds = warm.points[0].seconds
    left = args.minutes * 60 - (time.perf_counter() - started)
    epochs = max(1, int(0.95 * left / epoch_seconds))
    print(
        f"data {data.description} loaded in {load_seconds:.1f} s; warm-up epoch {epoch_seconds:.1f} s; "
        f"planning {epochs} epochs on {warm.device}",
        flush=True,
    )

    def show(point: EpochPoint) -> None:
        print(
            f"epoch {point.epoch:4d}  loss {point.train_loss:.4f}  train {point.train_accuracy:.4f}  "
            f"val {point.val_accuracy:.4f}  test {point.test_accuracy:.4f}  flips {point.flip_ratio:.2e}  "
            f"{point.seconds:.1f} s",
            flush=True,
        )

    result = train_trial(dataclasses.replace(spec, epochs=epochs), on_epoch=show, data=data)
    summary = {
        "alpha": args.alpha,
        "gamma": args.gamma,
        "batch_size": args.batch_size,
        "device": result.device,
        "epochs": epochs,
        "seconds": round(result.seconds, 1),
        "seconds_per_epoch": round(result.seconds / epochs, 2),
        "final_val_accuracy": result.final.val_accuracy,
        "final_test_accuracy": result.final.test_accuracy,
        "best_val_accuracy": result.best_val_accuracy,
        "best_test_accuracy": max(p.test_accuracy for p in result.points),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
