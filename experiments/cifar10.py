"""CIFAR-10 with BiRealNet-20 and the filter optimizer, through ``bnn-tune train`` (the paper's Table 2: 86.5% test
after 400 epochs).

Trains once with ``bnn-tune train --task cifar10 --optimizer filter`` on this machine's CPU (the JPEG copy of
CIFAR-10: 45,000 train / 5,000 val / 10,000 test images, pad-4 crop and flip) and writes, under ``--out``:
``report.md``, ``curves.csv`` (one row per epoch and run), ``cifar10.png`` / ``.svg`` (accuracy and flip ratio per
epoch). The report puts beside it the GPU run of the device check in ``benchmarks/results/2026-11-28-h200/``
(``benchmarks/cifar_budget_run.py``, same model and optimizer, as many epochs as 4 minutes of an H200 allowed),
parsed from its committed log, and states what each reached in how many epochs, without extrapolating.

The CPU run committed in docs/results/cifar10/: see the header of its report (machine, wall time, seed, command).

    .venv/bin/python experiments/cifar10.py [--epochs 2] [--max-train 45000] [--alpha 1e-3] [--gamma 1e-3]
"""

from __future__ import annotations

import argparse
import re
import shlex
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from _runs import REPOSITORY, RESULTS, Run, header_lines, machine, save_figure, train, train_command, write_csv

DEFAULT_OUT = RESULTS / "cifar10"
GPU_LOG = REPOSITORY / "benchmarks" / "results" / "2026-11-28-h200" / "cifar_alpha_1e-3.txt"
PAPER_TEST_ACCURACY = 0.865
PAPER_EPOCHS = 400
_EPOCH_LINE = re.compile(
    r"epoch\s+(?P<epoch>\d+)\s+loss\s+(?P<train_loss>[\d.]+)\s+train\s+(?P<train_accuracy>[\d.]+)\s+"
    r"val\s+(?P<val_accuracy>[\d.]+)\s+test\s+(?P<test_accuracy>[\d.]+)\s+flips\s+(?P<flip_ratio>[\d.e+-]+)\s+"
    r"(?P<seconds>[\d.]+) s"
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="CIFAR-10 / BiRealNet-20 / filter optimizer through bnn-tune train.")
    p.add_argument("--epochs", type=int, default=2, help="epochs of the CPU run (default 2)")
    p.add_argument("--max-train", type=int, default=None, help="cap on training images (default: all 45,000)")
    p.add_argument("--alpha", type=float, default=1e-3)
    p.add_argument("--gamma", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gpu-log", type=Path, default=GPU_LOG, help="the device check's log to show beside the run")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    return args


def run_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The ``bnn-tune train`` flags of the CPU run."""
    return {
        "task": "cifar10",
        "optimizer": "filter",
        "alpha": args.alpha,
        "gamma": args.gamma,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "max_train": args.max_train,
        "device": "cpu",
    }


def gpu_points(path: Path) -> list[dict[str, float]]:
    """The per-epoch points of the device check's log (empty if the file is missing)."""
    if not path.exists():
        return []
    points = []
    for line in path.read_text().splitlines():
        match = _EPOCH_LINE.search(line)
        if match:
            points.append({k: float(v) for k, v in match.groupdict().items()})
    return points


def plot(cpu: list[dict[str, float]], gpu: list[dict[str, float]]) -> Figure:
    figure = Figure(figsize=(10, 4))
    accuracy, flips = figure.subplots(1, 2)
    for label, points, style in (("CPU run", cpu, "o-"), ("H200 device check", gpu, "-")):
        if not points:
            continue
        epochs = [p["epoch"] for p in points]
        accuracy.plot(epochs, [p["test_accuracy"] for p in points], style, label=f"{label}: test")
        accuracy.plot(epochs, [p["val_accuracy"] for p in points], style, alpha=0.5, label=f"{label}: val")
        flips.semilogy(epochs, [max(p["flip_ratio"], 1e-9) for p in points], style, label=label)
    accuracy.axhline(PAPER_TEST_ACCURACY, color="gray", linestyle=":", label=f"paper, {PAPER_EPOCHS} epochs")
    accuracy.set(xlabel="epoch", ylabel="accuracy", title="BiRealNet-20 on CIFAR-10, filter optimizer")
    flips.set(xlabel="epoch", ylabel="flip ratio per step", title="flip ratio")
    accuracy.legend(fontsize=8)
    flips.legend(fontsize=8)
    return figure


def report(run: Run, gpu: list[dict[str, float]], header: dict[str, str], gpu_log: Path) -> str:
    points = run.points
    last = points[-1]
    lines = header_lines("CIFAR-10, BiRealNet-20, filter optimizer", header)
    lines += [
        "## What was reached",
        "",
        f"CPU run: {len(points)} epoch(s), test {100 * last['test_accuracy']:.1f}%, validation "
        f"{100 * last['val_accuracy']:.1f}%, {run.result['total_seconds'] / len(points):.0f} s per epoch "
        "on this machine.",
    ]
    if gpu:
        best = max(gpu, key=lambda p: p["test_accuracy"])
        lines.append(
            f"H200 device check ({gpu_log.relative_to(REPOSITORY)}): {len(gpu)} epochs in "
            f"{sum(p['seconds'] for p in gpu) / 60:.1f} min of training, "
            f"final test {100 * gpu[-1]['test_accuracy']:.1f}% "
            f"(best {100 * best['test_accuracy']:.1f}% at epoch {best['epoch']:.0f})."
        )
    lines += [
        "",
        f"The paper reports {100 * PAPER_TEST_ACCURACY:.1f}% after {PAPER_EPOCHS} epochs. Neither run comes near that "
        "budget, and neither was tuned; they show that the model and optimizer train on this data, not the paper's "
        "final number. Nothing here is extrapolated to 400 epochs. Each run decays alpha and Adam's rate with a "
        "cosine over its own epochs, so the CPU run's last epoch is the end of its schedule, not a point early in "
        "the GPU run's.",
        "",
        "![CIFAR-10 curves](cifar10.png)",
        "",
        "## Per epoch",
        "",
        "| run | epoch | train loss | train acc | val acc | test acc | flip ratio | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, rows in (("CPU", points), ("H200", gpu)):
        for p in rows:
            lines.append(
                f"| {label} | {p['epoch']:.0f} | {p['train_loss']:.3f} | {100 * p['train_accuracy']:.1f}% "
                f"| {100 * p['val_accuracy']:.1f}% | {100 * p['test_accuracy']:.1f}% | {p['flip_ratio']:.2e} "
                f"| {p['seconds']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    flags = run_flags(args)
    started = time.monotonic()
    run = train(flags)
    wall = time.monotonic() - started
    gpu = gpu_points(args.gpu_log)
    command = ["python", "experiments/cifar10.py", "--epochs", str(args.epochs)]
    if args.max_train is not None:
        command += ["--max-train", str(args.max_train)]
    header = {
        "machine": machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": str(args.seed),
        "command": f"`{shlex.join(command)}`, which runs `{shlex.join(train_command(flags))}`",
        "wall time": f"{wall / 60:.1f} min",
        "data": "CIFAR-10 JPEG copy; 45,000 train / 5,000 validation / 10,000 test"
        + ("" if args.max_train is None else f"; training capped at {args.max_train} images"),
        "GPU run shown beside it": "benchmarks/cifar_budget_run.py --minutes 4 --gamma 1e-3 on an NVIDIA H200 "
        "(batch 256, alpha 1e-3, cosine decay over the 36 epochs that fit), from the device check's log",
    }
    rows = [{"run": "cpu", **p} for p in run.points] + [{"run": "h200", **p} for p in gpu]
    write_csv(out / "curves.csv", rows)
    save_figure(plot(run.points, gpu), out, "cifar10")
    (out / "report.md").write_text(report(run, gpu, header, args.gpu_log.resolve()))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
