"""Audio-task training throughput against this machine's own dense matmul rate.

Prints, for AudioFC on FSDD: seconds per trial, samples/s, and the ratio of achieved FLOP/s (the FLOPs the
layers must do: forward, input gradients where needed, weight gradients, plus the evaluation passes) to the
dense float32 matmul FLOP/s measured in the same run. Medians over repeats; the last line is one JSON object.

    .venv/bin/python benchmarks/train_throughput.py [--width 256] [--epochs 20] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch

from trainers.data import load_task_data
from trainers.trial import TrialSpec, train_trial


def matmul_flops(device: torch.device, n: int = 1024, repeats: int = 20) -> float:
    """Median dense float32 matmul FLOP/s for an n x n x n product."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times)


def audio_trial_flops(in_features: int, width: int, classes: int, n_train: int, n_eval: int, epochs: int) -> float:
    """FLOPs an AudioFC trial must do: first layer fwd + weight grad, binary layers fwd + input grad + weight grad."""
    first = in_features * width
    binary = 2 * width * width + width * classes
    train_per_sample = 2 * first * 2 + 2 * binary * 3
    eval_per_sample = 2 * (first + binary)
    return float(epochs * (n_train * train_per_sample + n_eval * eval_per_sample))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    data = load_task_data("audio")
    spec = TrialSpec(
        task="audio",
        optimizer="filter",
        hyperparameters={"alpha": 1e-3, "gamma": 0.1},
        epochs=args.epochs,
        batch_size=args.batch_size,
        width=args.width,
        device=str(device),
    )
    train_trial(dataclasses.replace(spec, epochs=1), data=data)  # warm-up: allocator, caches, kernels
    seconds = []
    accuracy = 0.0
    for _ in range(args.repeats):
        result = train_trial(spec, data=data)
        seconds.append(result.seconds)
        accuracy = result.final.test_accuracy
    trial_seconds = statistics.median(seconds)
    peak = matmul_flops(device)
    n_train, n_eval = len(data.train), len(data.val) + len(data.test)
    flops = audio_trial_flops(data.input_shape[0], args.width, data.num_classes, n_train, n_eval, args.epochs)
    figures = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "width": args.width,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "trial_seconds_median": round(trial_seconds, 3),
        "trial_seconds_all": [round(s, 3) for s in seconds],
        "seconds_per_epoch": round(trial_seconds / args.epochs, 4),
        "train_samples_per_second": round(n_train * args.epochs / trial_seconds),
        "achieved_gflops": round(flops / trial_seconds / 1e9, 2),
        "matmul_gflops": round(peak / 1e9, 2),
        "flops_ratio": round(flops / trial_seconds / peak, 3),
        "final_test_accuracy": accuracy,
    }
    for key, value in figures.items():
        print(f"{key:>26}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
