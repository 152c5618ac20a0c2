"""The paper's Figures 3 and 4 on FSDD (AudioFC), every run through ``bnn-tune train``.

Figure 3: latent SGD without weight decay, clipping or scaling. The latent weight is w_t = w0 * u - lr * M_t
(u the uniform init draw, M_t the accumulated momentum), so its sign, and with it the whole run, depends on the
learning rate lr and the init scale w0 only through lr / w0. A grid of lr x w0 should show diagonal bands.

Figure 4: at a fixed alpha = lr * weight_decay, a sweep of lr over six decades (weight_decay = alpha / lr). In the
magnitude-independent setting (w0 = 0, no clipping or scaling) latent SGD is the filter optimizer with this alpha
(paper Eq 17), so every lr should give the same result; in a magnitude-dependent setting (w0 = 1, STE clipping,
channel scaling) lr matters on its own.

Writes into ``--out``: ``report.md``, ``figure3.png/svg``, ``figure4.png/svg``, ``figure3_runs.csv`` and
``figure4_runs.csv`` (one row per run), ``figure3_curves.csv`` and ``figure4_curves.csv`` (one row per run and epoch).

Full run in docs/results/figure3-4/: machine Intel Xeon, 2 CPU cores shared with other experiments, no GPU
(torch 2.13.0 CPU); seeds 0-1 (Figure 3) and 0-2 (Figure 4); 5 x 5 x 2 + 2 x 6 x 3 = 86 runs of 20 epochs, two at a
time; wall time 32.2 min. Command:

    .venv/bin/python experiments/figure3_4.py --jobs 2

``--rewrite`` rewrites every output from ``runs.json`` (the flags and printed result of every run) without training.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from _runs import (
    RESULTS,
    Flags,
    Run,
    curve_rows,
    header_lines,
    machine,
    pct,
    run_main,
    save_figure,
    train,
    train_command,
    write_csv,
)
from bnn_errors import InvalidInputError

DEFAULT_OUT = RESULTS / "figure3-4"
FIGURE3_LRS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
FIGURE3_INIT_SCALES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
FIGURE4_LRS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
MOMENTUM = 0.9
# One alpha with a memory of ~100 steps: well inside the ~750 steps of a 20-epoch run, so the filter forgets its start.
ALPHA = 1e-2
SETTINGS: dict[str, dict[str, str | int | float | bool | None]] = {
    "magnitude-independent": {"init_scale": 0.0},
    "magnitude-dependent": {"init_scale": 1.0, "ste_clip": True, "scaling": True},
}
FLOAT32_MAX = float(np.finfo(np.float32).max)
VALIDATION_RECORDINGS = 300
FIGURE3_KEYS = ("lr", "init_scale", "weight_decay", "seed")
FIGURE4_KEYS = ("setting", "lr", "init_scale", "weight_decay", "ste_clip", "scaling", "seed")


def _floats(text: str) -> tuple[float, ...]:
    """A comma-separated list of floats."""
    return tuple(float(part) for part in text.split(","))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The experiment's command-line arguments; the defaults are the full run."""
    p = argparse.ArgumentParser(description="Figures 3 and 4 on FSDD through bnn-tune train.")
    p.add_argument("--lrs", type=_floats, default=FIGURE3_LRS, help="Figure 3 learning rates (comma-separated)")
    p.add_argument("--init-scales", type=_floats, default=FIGURE3_INIT_SCALES, help="Figure 3 init scales w0")
    p.add_argument("--seeds", type=int, default=2, help="Figure 3 seeds per cell")
    p.add_argument("--alpha", type=float, default=ALPHA, help="Figure 4: the fixed alpha = lr * weight_decay")
    p.add_argument("--sweep-lrs", type=_floats, default=FIGURE4_LRS, help="Figure 4 learning rates")
    p.add_argument("--sweep-seeds", type=int, default=3, help="Figure 4 seeds per point")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="first seed; seeds are seed, seed+1, ...")
    p.add_argument("--max-train", type=int, default=None, help="cap on training recordings (quick checks only)")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at the same time (one thread each)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default docs/results/figure3-4)")
    p.add_argument("--rewrite", action="store_true", help="only rewrite the outputs from the runs in OUT/runs.json")
    args = p.parse_args(argv)
    for name in ("seeds", "sweep_seeds", "epochs", "jobs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not all(v > 0 for v in (*args.lrs, *args.init_scales, *args.sweep_lrs)):
        p.error("learning rates and init scales must be > 0")
    if not 0.0 < args.alpha <= 1.0:
        p.error(f"--alpha must be in (0, 1], got {args.alpha}")
    return args


def _latent_flags(lr: float, weight_decay: float, seed: int, args: argparse.Namespace, options: Flags) -> Flags:
    """One latent-SGD run on audio at the sweep's momentum, epochs and data, with the layer ``options``."""
    return {
        "task": "audio",
        "optimizer": "latent",
        "lr": lr,
        "momentum": MOMENTUM,
        "weight_decay": weight_decay,
        **options,
        "epochs": args.epochs,
        "seed": seed,
        "max_train": args.max_train,
    }


def figure3_flags(lr: float, init_scale: float, seed: int, args: argparse.Namespace) -> Flags:
    """One Figure 3 run: latent SGD, no weight decay, clipping or scaling."""
    return _latent_flags(lr, 0.0, seed, args, {"init_scale": init_scale})


def sweep_weight_decay(lr: float, alpha: float) -> float:
    """weight_decay = alpha / lr, checked so that lr * weight_decay is alpha in (0, 1] and LatentSGD accepts it.

    Raises:
        InvalidInputError: the product leaves (0, 1] or lr * max(wd, 1) exceeds float32 (LatentSGD's limit).
    """
    weight_decay = alpha / lr
    product = lr * weight_decay
    if not 0.0 < product <= 1.0 or lr * max(weight_decay, 1.0) > FLOAT32_MAX:
        raise InvalidInputError(f"lr={lr}, weight_decay={weight_decay}: lr * weight_decay = {product}")
    return weight_decay


def figure4_flags(setting: str, lr: float, seed: int, args: argparse.Namespace) -> Flags:
    """One Figure 4 run: latent SGD at lr with weight_decay = alpha / lr, in one of :data:`SETTINGS`."""
    return _latent_flags(lr, sweep_weight_decay(lr, args.alpha), seed, args, SETTINGS[setting])


def train_many(runs: Sequence[Flags], jobs: int, label: str) -> list[Run]:
    """Train every run, ``jobs`` at a time, in the order given; one progress line per finished run."""
    started = time.monotonic()
    done = 0

    def one(flags: Flags) -> Run:
        nonlocal done
        run = train(flags)
        done += 1
        print(
            f"[{label} {done}/{len(runs)}] val {100 * run.result['val_accuracy']:.1f}% "
            f"({time.monotonic() - started:.0f} s): {' '.join(train_command(flags)[2:-1])}",
            file=sys.stderr,
            flush=True,
        )
        return run

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, runs))


def mean_flip_ratio(run: Run) -> float:
    """The flip ratio averaged over the run's epochs."""
    return statistics.fmean(p["flip_ratio"] for p in run.points)


def run_row(figure: str, run: Run) -> dict[str, Any]:
    """The CSV row of one run: its hyperparameters and its last-epoch results."""
    f = run.flags
    return {
        "figure": figure,
        "setting": f.get("setting", "latent, wd 0"),
        "lr": f["lr"],
        "init_scale": f["init_scale"],
        "weight_decay": f["weight_decay"],
        "alpha": float(f["lr"] or 0) * float(f["weight_decay"] or 0),
        "lr_over_w0": float(f["lr"] or 0) / float(f["init_scale"] or 0) if f["init_scale"] else None,
        "ste_clip": bool(f.get("ste_clip")),
        "scaling": bool(f.get("scaling")),
        "seed": f["seed"],
        **run.last_metrics,
        "flip_ratio_last": run.result["flip_ratio"],
        "flip_ratio_mean": mean_flip_ratio(run),
        "seconds": run.result["total_seconds"],
    }


# Figure 3 analysis ----------------------------------------------------------------------------------------------


def ratio_key(run: Run) -> int:
    """log10(lr / w0) rounded: the diagonal a Figure 3 cell lies on (the grids are powers of ten)."""
    return round(math.log10(float(run.flags["lr"] or 0) / float(run.flags["init_scale"] or 0)))


def first_difference(a: Run, b: Run) -> int | None:
    """The first epoch at which two runs got a different number of validation or test recordings right, if any."""
    for p, q in zip(a.points, b.points, strict=True):
        for key in ("val_accuracy", "test_accuracy"):
            if round(p[key] * VALIDATION_RECORDINGS) != round(q[key] * VALIDATION_RECORDINGS):
                return int(p["epoch"])
    return None


def same_recording(a: Run, b: Run) -> bool:
    """Whether two runs had the same number of correct validation and test recordings at every epoch."""
    return first_difference(a, b) is None


def analyse_figure3(runs: Sequence[Run]) -> dict[str, Any]:
    """Spread of final validation accuracy within diagonals (equal lr / w0), across diagonals and across seeds."""
    by_diagonal: dict[tuple[int, int], list[Run]] = defaultdict(list)
    by_cell: dict[tuple[float, float], list[Run]] = defaultdict(list)
    for run in runs:
        by_diagonal[(ratio_key(run), int(run.flags["seed"] or 0))].append(run)
        by_cell[(float(run.flags["lr"] or 0), float(run.flags["init_scale"] or 0))].append(run)
    diagonals = []
    for (key, seed), group in sorted(by_diagonal.items()):
        if len(group) < 2:
            continue
        vals = [r.result["val_accuracy"] for r in group]
        losses = [r.result["train_loss"] for r in group]
        diagonals.append(
            {
                "log10_ratio": key,
                "seed": seed,
                "cells": len(group),
                "val_spread": max(vals) - min(vals),
                "loss_spread": max(losses) - min(losses),
                "identical": all(same_recording(group[0], r) for r in group[1:]),
                "first_difference": min((e for r in group[1:] if (e := first_difference(group[0], r))), default=None),
            }
        )
    ratio_means: dict[int, list[float]] = defaultdict(list)
    ratio_flips: dict[int, list[float]] = defaultdict(list)
    for (key, _), group in by_diagonal.items():
        ratio_means[key] += [r.result["val_accuracy"] for r in group]
        ratio_flips[key] += [mean_flip_ratio(r) for r in group]
    means = {k: statistics.fmean(v) for k, v in sorted(ratio_means.items())}
    seed_spreads = [
        max(r.result["val_accuracy"] for r in g) - min(r.result["val_accuracy"] for r in g)
        for g in by_cell.values()
        if len(g) > 1
    ]
    return {
        "diagonals": diagonals,
        "ratio_means": means,
        "ratio_flips": {k: statistics.fmean(v) for k, v in ratio_flips.items()},
        "within_max": max((d["val_spread"] for d in diagonals), default=None),
        "within_mean": statistics.fmean(d["val_spread"] for d in diagonals) if diagonals else None,
        "across_spread": max(means.values()) - min(means.values()) if means else None,
        "seed_max": max(seed_spreads, default=None),
        "seed_mean": statistics.fmean(seed_spreads) if seed_spreads else None,
        "identical": sum(d["identical"] for d in diagonals),
    }


def cell_grid(runs: Sequence[Run], lrs: Sequence[float], scales: Sequence[float], value: Callable[[Run], float]) -> Any:
    """A len(lrs) x len(scales) array of ``value`` averaged over each cell's seeds."""
    grid = np.full((len(lrs), len(scales)), np.nan)
    for i, lr in enumerate(lrs):
        for j, w0 in enumerate(scales):
            cell = [value(r) for r in runs if r.flags["lr"] == lr and r.flags["init_scale"] == w0]
            if cell:
                grid[i, j] = statistics.fmean(cell)
    return grid


def figure3(runs: Sequence[Run], lrs: Sequence[float], scales: Sequence[float]) -> Figure:
    """Heatmaps of final validation accuracy and mean flip ratio over lr x w0 (mean over seeds)."""
    figure = Figure(figsize=(11, 4.6), layout="constrained")
    panels = (
        ("final validation accuracy (%)", cell_grid(runs, lrs, scales, lambda r: 100 * r.result["val_accuracy"])),
        ("mean flip ratio per epoch", cell_grid(runs, lrs, scales, mean_flip_ratio)),
    )
    for k, (title, grid) in enumerate(panels):
        ax = figure.add_subplot(1, 2, k + 1)
        positive = grid[np.isfinite(grid) & (grid > 0)]
        log_norm = k == 1 and positive.size > 0
        norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if log_norm else None
        image = ax.imshow(np.where(grid > 0, grid, np.nan) if log_norm else grid, origin="lower", norm=norm)
        figure.colorbar(image, ax=ax, shrink=0.85)
        # Dark text on the bright end of the colour map, light text elsewhere.
        shade = np.ma.filled(image.norm(np.where(grid > 0, grid, np.nan)), np.nan)
        for (i, j), v in np.ndenumerate(grid):
            bright = bool(shade[i, j] > 0.6)
            text = f"{v:.1f}" if k == 0 else f"{v:.1e}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="k" if bright else "w")
        ax.set_xticks(range(len(scales)), [f"{w:g}" for w in scales])
        ax.set_yticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        ax.set_xlabel("init scale w0 (log)")
        ax.set_ylabel("learning rate lr (log)")
        ax.set_title(title, fontsize=10)
    figure.suptitle("Figure 3 on FSDD: latent SGD, weight decay 0, momentum 0.9 (equal lr/w0 lies on a diagonal)")
    return figure


# Figure 4 analysis ----------------------------------------------------------------------------------------------


def analyse_figure4(runs: Sequence[Run]) -> dict[str, Any]:
    """Per setting and lr: mean, min and max final validation accuracy over seeds; per setting the spread over lr."""
    table: dict[str, dict[float, list[Run]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        table[str(run.flags["setting"])][float(run.flags["lr"] or 0)].append(run)
    settings: dict[str, Any] = {}
    for setting, by_lr in table.items():
        rows = []
        for lr, group in sorted(by_lr.items()):
            vals = [r.result["val_accuracy"] for r in group]
            rows.append(
                {
                    "lr": lr,
                    "weight_decay": group[0].flags["weight_decay"],
                    "mean": statistics.fmean(vals),
                    "min": min(vals),
                    "max": max(vals),
                    "test": statistics.fmean(r.result["test_accuracy"] for r in group),
                    "flip": statistics.fmean(mean_flip_ratio(r) for r in group),
                }
            )
        by_seed: dict[int, list[Run]] = defaultdict(list)
        for group in by_lr.values():
            for r in group:
                by_seed[int(r.flags["seed"] or 0)].append(r)
        identical = sum(all(same_recording(g[0], r) for r in g[1:]) for g in by_seed.values())
        first = {
            seed: min((e for r in g[1:] if (e := first_difference(g[0], r))), default=None)
            for seed, g in sorted(by_seed.items())
        }
        means = [row["mean"] for row in rows]
        settings[setting] = {
            "rows": rows,
            "spread": max(means) - min(means),
            "identical_seeds": identical,
            "first_difference": first,
        }
        settings[setting]["seeds"] = len(by_seed)
    return settings


def figure4(runs: Sequence[Run], analysis: dict[str, Any]) -> Figure:
    """Final validation accuracy against lr per setting, and flip-ratio curves per epoch for three lrs (first seed)."""
    figure = Figure(figsize=(14, 4.4), layout="constrained")
    ax = figure.add_subplot(1, 3, 1)
    for setting, data in analysis.items():
        lrs = [row["lr"] for row in data["rows"]]
        mean = np.array([100 * row["mean"] for row in data["rows"]])
        low = mean - np.array([100 * row["min"] for row in data["rows"]])
        high = np.array([100 * row["max"] for row in data["rows"]]) - mean
        ax.errorbar(lrs, mean, yerr=[low, high], marker="o", capsize=3, label=setting)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate lr (weight decay = alpha / lr)")
    ax.set_ylabel("final validation accuracy (%)")
    ax.set_title("mean and min-max over seeds", fontsize=10)
    ax.legend(fontsize=8)
    first_seed = min(int(r.flags["seed"] or 0) for r in runs)
    flip_axes = None
    for k, setting in enumerate(analysis):
        ax = figure.add_subplot(1, 3, k + 2, sharey=flip_axes)
        flip_axes = flip_axes or ax
        lrs = sorted({float(r.flags["lr"] or 0) for r in runs if r.flags["setting"] == setting})
        shown = sorted({lrs[0], lrs[len(lrs) // 2], lrs[-1]})
        for run in runs:
            if run.flags["setting"] == setting and run.flags["seed"] == first_seed and run.flags["lr"] in shown:
                epochs = [p["epoch"] for p in run.points]
                flips = [max(p["flip_ratio"], 1e-7) for p in run.points]
                ax.plot(epochs, flips, marker=".", label=f"lr {run.flags['lr']:g}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("flip ratio (floored at 1e-7)")
        ax.set_title(setting, fontsize=10)
        ax.legend(fontsize=8)
    figure.suptitle("Figure 4 on FSDD: latent SGD at fixed alpha = lr * weight decay, momentum 0.9")
    return figure


# Report ---------------------------------------------------------------------------------------------------------

# Accuracies and their differences in points: the text around them says "%" or "points".
_pct = partial(pct, sign="")


def noise_points() -> float:
    """The binomial standard error of one validation accuracy near 90%, in points."""
    return 100 * math.sqrt(0.9 * 0.1 / VALIDATION_RECORDINGS)


def figure3_verdict(a: dict[str, Any]) -> tuple[str, str]:
    """Whether equal lr / w0 gave equal results (exactly, within seed-to-seed noise, or not), and why if not exactly."""
    if a["within_max"] is None:
        return "**Not tested**: no two cells share an lr / w0.", ""
    if a["identical"] == len(a["diagonals"]):
        return "**Holds exactly on this data.**", ""
    noise = max(a["seed_max"] or 0.0, 2 * noise_points() / 100)
    if a["within_max"] <= noise and a["within_max"] < (a["across_spread"] or 0.0):
        return "**Holds up to float rounding.**", (
            "The diagonals that are not identical differ by no more than the larger "
            "of one cell's seed-to-seed spread and two standard errors of an evaluation: w0 * u and lr * M are "
            "rounded differently at each scale, so a latent weight that sits near zero can take the other sign, "
            "and from then on the runs part as two seeds would (see the first epoch that differs, below)."
        )
    return "**Does not hold on this data.**", ""


def figure3_lines(runs: Sequence[Run], a: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The Figure 3 section of the report."""
    noise = noise_points()
    verdict, why = figure3_verdict(a)
    lines = [
        "## Figure 3: learning rate against init scale (latent SGD, weight decay 0)",
        "",
        f"Grid: lr in {', '.join(f'{v:g}' for v in args.lrs)} x w0 in {', '.join(f'{v:g}' for v in args.init_scales)}"
        f", {args.seeds} seed(s), momentum {MOMENTUM}, {args.epochs} epochs, cosine decay of lr, no clipping or "
        "scaling. Claim: training depends on lr and w0 only through lr / w0, so cells on a diagonal agree.",
        "",
        f"{verdict} Cells with the same lr / w0 (same seed) differ in final validation accuracy by at most "
        f"{_pct(a['within_max'])} points (mean {_pct(a['within_mean'])}) over {len(a['diagonals'])} diagonal-seed "
        f"groups; {a['identical']} of {len(a['diagonals'])} groups have identical validation and test results at "
        f"every epoch (the same recordings right). The same cell with another seed differs by up to "
        f"{_pct(a['seed_max'])} points (mean {_pct(a['seed_mean'])}), and the mean accuracy per lr / w0 ranges over "
        f"{_pct(a['across_spread'])} points across ratios. One validation accuracy near 90% has a binomial standard "
        f"error of {noise:.1f} points. {why}",
        "",
        "![Figure 3](figure3.png)",
        "",
        "### Mean final validation accuracy per lr / w0 (all cells and seeds on that diagonal)",
        "",
        "| log10(lr / w0) | mean val (%) | mean flip ratio |",
        "|---:|---:|---:|",
        *(f"| {k} | {_pct(v)} | {a['ratio_flips'][k]:.2e} |" for k, v in a["ratio_means"].items()),
        "",
        "### Diagonals: spread within equal lr / w0",
        "",
        "| log10(lr / w0) | seed | cells | val spread (pts) | train-loss spread | identical at every epoch "
        "| first epoch that differs |",
        "|---:|---:|---:|---:|---:|---|---:|",
        *(
            f"| {d['log10_ratio']} | {d['seed']} | {d['cells']} | {_pct(d['val_spread'])} | {d['loss_spread']:.2e} "
            f"| {'yes' if d['identical'] else 'no'} | {d['first_difference'] or '-'} |"
            for d in a["diagonals"]
        ),
        "",
        "### Every cell (mean over seeds)",
        "",
        "| lr | w0 | lr / w0 | val (%) | test (%) | mean flip ratio |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for lr in args.lrs:
        for w0 in args.init_scales:
            cell = [r for r in runs if r.flags["lr"] == lr and r.flags["init_scale"] == w0]
            val = statistics.fmean(r.result["val_accuracy"] for r in cell)
            test = statistics.fmean(r.result["test_accuracy"] for r in cell)
            flip = statistics.fmean(mean_flip_ratio(r) for r in cell)
            lines.append(f"| {lr:g} | {w0:g} | {lr / w0:g} | {_pct(val)} | {_pct(test)} | {flip:.2e} |")
    return [*lines, ""]


def figure4_verdict(a: dict[str, Any]) -> str:
    """Whether lr mattered at fixed alpha in the magnitude-independent setting, and whether it did otherwise."""
    independent, dependent = a.get("magnitude-independent"), a.get("magnitude-dependent")
    if not independent or not dependent:
        return "**Not tested**: both settings are needed."
    noise = noise_points() / 100
    flat = independent["spread"] <= noise
    extremes = sorted(dependent["rows"], key=lambda row: row["mean"])
    moves = (
        f"the magnitude-dependent one by {_pct(dependent['spread'])} points (lowest at lr {extremes[0]['lr']:g}, "
        f"{_pct(extremes[0]['mean'])}%; highest at lr {extremes[-1]['lr']:g}, {_pct(extremes[-1]['mean'])}%)"
    )
    numbers = (
        f"at fixed alpha the magnitude-independent setting moves by {_pct(independent['spread'])} points over "
        f"lr, {moves}; one evaluation's standard error is {100 * noise:.1f} points."
    )
    if flat and dependent["spread"] > 2 * noise:
        return "**Holds on this data**: " + numbers
    if flat:
        return "**Half holds on this data**: lr does not matter at fixed alpha, but here it hardly matters " + (
            "in the magnitude-dependent setting either: " + numbers
        )
    return "**Does not hold on this data**: " + numbers


def figure4_lines(a: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The Figure 4 section of the report."""
    lines = [
        "## Figure 4: magnitude-independent against magnitude-dependent latent SGD across learning rates",
        "",
        f"alpha = lr * weight_decay = {args.alpha:g} fixed, weight_decay = alpha / lr, momentum {MOMENTUM} "
        f"(gamma {1 - MOMENTUM:g}), {args.epochs} epochs, {args.sweep_seeds} seed(s) per point. Settings: "
        + "; ".join(f"{name}: {' '.join(train_command(flags)[2:-1]) or 'defaults'}" for name, flags in SETTINGS.items())
        + ". Every lr * weight_decay was checked before training: in (0, 1] and within LatentSGD's float32 limit.",
        "",
    ]
    for setting, data in a.items():
        lines.append(
            f"- **{setting}**: mean final validation accuracy ranges over {_pct(data['spread'])} points across "
            f"{len(data['rows'])} learning rates; for {data['identical_seeds']} of {data['seeds']} seeds every lr "
            "gives identical validation and test results at every epoch; first epoch at which some lr differs from "
            f"lr {data['rows'][0]['lr']:g}, per seed: "
            + ", ".join(f"seed {seed}: {epoch or 'none'}" for seed, epoch in data["first_difference"].items())
            + "."
        )
    lines += ["", figure4_verdict(a)]
    lines += [
        "",
        "![Figure 4](figure4.png)",
        "",
        "| setting | lr | weight decay | val mean (%) | val min | val max | test mean (%) | mean flip ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for setting, data in a.items():
        lines += [
            f"| {setting} | {r['lr']:g} | {r['weight_decay']:g} | {_pct(r['mean'])} | {_pct(r['min'])} "
            f"| {_pct(r['max'])} | {_pct(r['test'])} | {r['flip']:.2e} |"
            for r in data["rows"]
        ]
    return [*lines, ""]


def write_outputs(
    out: Path, args: argparse.Namespace, runs3: Sequence[Run], runs4: Sequence[Run], header: dict[str, str]
) -> None:
    """The report, both figures and the four CSV files; the grids, seeds and sizes are read from the runs."""
    args = argparse.Namespace(
        **{
            **vars(args),
            "lrs": sorted({float(r.flags["lr"] or 0) for r in runs3}),
            "init_scales": sorted({float(r.flags["init_scale"] or 0) for r in runs3}),
            "seeds": len({r.flags["seed"] for r in runs3}),
            "sweep_seeds": len({r.flags["seed"] for r in runs4}),
            "epochs": len(runs3[0].points),
            "alpha": float(runs4[0].flags["lr"] or 0) * float(runs4[0].flags["weight_decay"] or 0),
        }
    )
    a3, a4 = analyse_figure3(runs3), analyse_figure4(runs4)
    save_figure(figure3(runs3, args.lrs, args.init_scales), out, "figure3")
    save_figure(figure4(runs4, a4), out, "figure4")
    write_csv(out / "figure3_runs.csv", [run_row("3", r) for r in runs3])
    write_csv(out / "figure4_runs.csv", [run_row("4", r) for r in runs4])
    write_csv(out / "figure3_curves.csv", curve_rows(runs3, FIGURE3_KEYS))
    write_csv(out / "figure4_curves.csv", curve_rows(runs4, FIGURE4_KEYS))
    lines = header_lines("Figures 3 and 4 on FSDD: lr / w0, and magnitude-(in)dependent latent SGD", header)
    lines += [*figure3_lines(runs3, a3, args), *figure4_lines(a4, args)]
    (out / "report.md").write_text("\n".join(lines))


def save_runs(path: Path, header: dict[str, str], runs3: Sequence[Run], runs4: Sequence[Run]) -> None:
    """Every run's flags and printed result, with the report header, so the outputs can be rewritten."""
    data = {
        "header": header,
        "figure3": [{"flags": r.flags, "result": r.result} for r in runs3],
        "figure4": [{"flags": r.flags, "result": r.result} for r in runs4],
    }
    path.write_text(json.dumps(data) + "\n")


def load_runs(path: Path) -> tuple[dict[str, str], list[Run], list[Run]]:
    """The header and the runs written by :func:`save_runs`.

    Raises:
        InvalidInputError: the file is missing.
    """
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist: run the experiment first")
    data = json.loads(path.read_text())
    runs = [[Run(flags=r["flags"], result=r["result"]) for r in data[key]] for key in ("figure3", "figure4")]
    return data["header"], runs[0], runs[1]


def main(argv: Sequence[str] | None = None) -> int:
    """Train both figures' runs and write every output."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.rewrite:
        header, runs3, runs4 = load_runs(out / "runs.json")
        write_outputs(out, args, runs3, runs4, header)
        print(f"rewrote {out}")
        return 0
    seeds3 = range(args.seed, args.seed + args.seeds)
    seeds4 = range(args.seed, args.seed + args.sweep_seeds)
    flags3 = [figure3_flags(lr, w0, s, args) for s in seeds3 for lr in args.lrs for w0 in args.init_scales]
    names4 = [name for _ in seeds4 for name in SETTINGS for _ in args.sweep_lrs]
    lrs4 = [lr for _ in seeds4 for _ in SETTINGS for lr in args.sweep_lrs]
    seeds = [s for s in seeds4 for _ in SETTINGS for _ in args.sweep_lrs]
    flags4 = [figure4_flags(name, lr, s, args) for name, lr, s in zip(names4, lrs4, seeds, strict=True)]
    started = time.monotonic()
    runs3 = train_many(flags3, args.jobs, "figure 3")
    # The setting's name is not a bnn-tune flag: it is attached after training.
    runs4 = [
        Run(flags={**r.flags, "setting": name}, result=r.result)
        for r, name in zip(train_many(flags4, args.jobs, "figure 4"), names4, strict=True)
    ]
    seconds = time.monotonic() - started
    header = {
        "machine": machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seeds": f"Figure 3: {', '.join(map(str, seeds3))}; Figure 4: {', '.join(map(str, seeds4))}",
        "command": f"`{shlex.join(['.venv/bin/python', 'experiments/figure3_4.py', *argv])}`",
        "runs": f"{len(runs3)} (Figure 3) + {len(runs4)} (Figure 4), {args.epochs} epochs each, AudioFC width 64, "
        f"`--jobs {args.jobs}`",
        "wall time": f"{seconds / 60:.1f} min",
    }
    save_runs(out / "runs.json", header, runs3, runs4)
    write_outputs(out, args, runs3, runs4, header)
    print(f"wrote {out} in {seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    run_main(main)
