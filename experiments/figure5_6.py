"""The paper's Figures 5 and 6 on FSDD: the filter optimizer's alpha sweep, and cosine alpha decay against none.

Figure 5: ``bnn-tune train --optimizer filter`` for log-spaced alphas from 1e-6 to 1e-1 at fixed gamma (0.1, and
0.01), several seeds, cosine decay; the frozen-weights control (``--optimizer frozen``: binary weights stay at their
random init) for the same seeds, with cosine decay and without. Figure 6: for the best alpha at the first gamma and its
two grid neighbours, ``--decay none`` against the sweep's ``--decay cosine`` runs, same seeds. Writes ``report.md``,
``figure5.png/svg``, ``figure6.png/svg``, ``runs.csv`` (one row per run) and ``curves.csv`` (one row per run and
epoch). ``--replot`` rewrites figures and report from the CSV files; ``--add-decay ALPHA...`` trains the runs without
decay at more alphas of the grid (and the frozen control without decay if missing) and adds them.

Full run in docs/results/figure5-6/: machine Intel Xeon, 2 CPU cores shared with other work, no GPU (torch 2.13.0
CPU); seeds 0, 1, 2; 9 alphas x 2 gammas x 3 seeds + 3 frozen + 3 alphas x 3 seeds without decay = 66 runs of 20
epochs, wall time 27.2 min (12 to 50 s a run, as the load of the shared cores changed). Then 9 runs without decay at
three larger alphas (1.0 min) and the frozen control without decay (3 runs, 0.4 min; a full run from scratch trains
it). Commands:

    .venv/bin/python experiments/figure5_6.py
    .venv/bin/python experiments/figure5_6.py --add-decay 0.00562 0.0237 0.1
    .venv/bin/python experiments/figure5_6.py --add-decay 0.1
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import shlex
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

import _runs
from bnn_errors import InvalidInputError
from trainers.data import load_task_data

DEFAULT_OUT = _runs.RESULTS / "figure5-6"
VALIDATION_RECORDINGS = 300
BATCH_SIZE = 64  # bnn-tune train's default, which every run here uses
ALPHA_RANGE = (-6.0, -1.0)  # log10 of the smallest and largest alpha
CURVE_KEYS = ("part", "optimizer", "alpha", "gamma", "decay", "seed")

Runs = list[_runs.Run]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The experiment's command-line arguments."""
    p = argparse.ArgumentParser(description="Figures 5 and 6 on FSDD: alpha sweep and cosine decay of alpha.")
    p.add_argument("--alphas", type=int, default=9, help="log-spaced alphas from 1e-6 to 1e-1 (default 9)")
    p.add_argument(
        "--gammas", type=float, nargs="+", default=[0.1, 0.01], help="gammas of the sweep (default 0.1 0.01)"
    )
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per setting (default 3)")
    p.add_argument("--decay-alphas", type=int, default=3, help="alphas around the best compared without decay")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--max-train", type=int, default=None, help="cap on training recordings (quick checks only)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default docs/results/figure5-6)")
    p.add_argument(
        "--replot",
        action="store_true",
        help="train nothing: rewrite the figures and report from runs.csv and curves.csv in --out (header kept; "
        "give the run's --decay-alphas)",
    )
    p.add_argument(
        "--add-decay",
        type=float,
        nargs="+",
        default=None,
        metavar="ALPHA",
        help="train only the runs without decay at these alphas of the earlier run in --out, and add them",
    )
    args = p.parse_args(argv)
    for name in ("alphas", "seeds", "decay_alphas", "epochs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.decay_alphas > args.alphas:
        p.error("--decay-alphas must be at most --alphas")
    return args


def alpha_grid(n: int) -> list[float]:
    """``n`` alphas log-spaced over ALPHA_RANGE, rounded to 3 significant digits (the command lines stay short)."""
    return [float(f"{a:.3g}") for a in np.logspace(*ALPHA_RANGE, n)]


def filter_flags(alpha: float, gamma: float, decay: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """``bnn-tune train`` flags of one filter run."""
    return {
        "task": "audio",
        "optimizer": "filter",
        "alpha": alpha,
        "gamma": gamma,
        "decay": decay,
        "epochs": args.epochs,
        "seed": seed,
        "max_train": args.max_train,
    }


def frozen_flags(seed: int, args: argparse.Namespace, decay: str | None = None) -> dict[str, Any]:
    """``bnn-tune train`` flags of the control whose binary weights never leave their random init.

    ``decay`` None keeps the default (cosine, on the Adam learning rate of the real-valued layers).
    """
    flags = {"task": "audio", "optimizer": "frozen", "epochs": args.epochs, "seed": seed, "max_train": args.max_train}
    return {**flags, "decay": decay} if decay else flags


def mean_flip(run: _runs.Run) -> float:
    """The flip ratio per step averaged over the run's epochs."""
    return float(np.mean([p["flip_ratio"] for p in run.points]))


def select(runs: Runs, **flags: Any) -> Runs:
    """The runs whose flags have these values."""
    return [r for r in runs if all(r.flags.get(k) == v for k, v in flags.items())]


def stats(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, min and max."""
    return float(np.mean(values)), float(min(values)), float(max(values))


def decay_alphas(sweep: Runs, grid: list[float], gamma: float, n: int) -> list[float]:
    """The best alpha at ``gamma`` by mean final validation accuracy and its neighbours: ``n`` consecutive alphas."""
    means = [np.mean([r.result["val_accuracy"] for r in select(sweep, alpha=a, gamma=gamma)]) for a in grid]
    best = int(np.argmax(means))
    n = min(n, len(grid))
    start = min(max(best - (n - 1) // 2, 0), len(grid) - n)
    return grid[start : start + n]


def run_rows(runs: Runs) -> list[dict[str, Any]]:
    """One row per run: part, hyperparameters, last-epoch metrics, mean flip ratio and the command."""
    return [
        {
            **{k: r.flags.get(k) for k in CURVE_KEYS},
            **r.last_metrics,
            "mean_flip_ratio": mean_flip(r),
            "last_flip_ratio": r.result["flip_ratio"],
            "command": shlex.join(_runs.train_command({k: v for k, v in r.flags.items() if k != "part"})),
        }
        for r in runs
    ]


def _curve(runs: Runs, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and the mean over ``runs`` of ``key`` per epoch; zero flip ratios become NaN (gaps on a log axis)."""
    epochs = np.array([p["epoch"] for p in runs[0].points])
    values = np.array([[p[key] for p in r.points] for r in runs], dtype=float).mean(axis=0)
    if key == "flip_ratio":
        values[values <= 0] = np.nan
    return epochs, values


def figure5(sweep: Runs, frozen: Runs, grid: list[float], gammas: Sequence[float]) -> Figure:
    """(a) flip ratio per epoch for each alpha; (b) final val accuracy and (c) mean flip ratio against alpha."""
    figure = Figure(figsize=(16, 4.8), layout="constrained")
    ax_a, ax_b, ax_c = figure.subplots(1, 3)
    colours = [plt_colour(i, len(grid)) for i in range(len(grid))]
    for alpha, colour in zip(grid, colours, strict=True):
        epochs, flips = _curve(select(sweep, alpha=alpha, gamma=gammas[0]), "flip_ratio")
        ax_a.plot(epochs, flips, color=colour, label=f"alpha={alpha:.3g}")
    ax_a.set(xlabel="epoch", ylabel="flip ratio per step", yscale="log", title=f"(a) flip ratio, gamma={gammas[0]:g}")
    ax_a.legend(fontsize=7)
    for i, gamma in enumerate(gammas):
        for ax, value in ((ax_b, lambda r: 100 * r.result["val_accuracy"]), (ax_c, mean_flip)):
            rows = [stats([value(r) for r in select(sweep, alpha=a, gamma=gamma)]) for a in grid]
            mean, lo, hi = (np.array(col) for col in zip(*rows, strict=True))
            ax.plot(grid, mean, "o-", color=f"C{i}", label=f"gamma={gamma:g} (mean, min-max over seeds)")
            ax.fill_between(grid, lo, hi, color=f"C{i}", alpha=0.2)
    if frozen:
        centre, low, high = stats([100 * r.result["val_accuracy"] for r in frozen])
        ax_b.axhline(centre, color="grey", ls=":", label="frozen binary weights (mean)")
        ax_b.axhspan(low, high, color="grey", alpha=0.15)
    ax_b.set(xscale="log", xlabel="alpha", ylabel="final validation accuracy (%)", title="(b) accuracy vs alpha")
    ax_c.set(xscale="log", yscale="log", xlabel="alpha", ylabel="mean flip ratio per step", title="(c) flips vs alpha")
    for ax in (ax_a, ax_b, ax_c):
        ax.grid(alpha=0.3)
    ax_b.legend(fontsize=7)
    ax_c.legend(fontsize=7)
    figure.suptitle("Filter optimizer on FSDD: alpha sweep (cosine decay of alpha)")
    return figure


def plt_colour(i: int, n: int) -> tuple[float, float, float, float]:
    """The ``i``-th of ``n`` colours along viridis (small alpha dark, large alpha bright)."""
    from matplotlib import colormaps

    rgba: tuple[float, float, float, float] = colormaps["viridis"](i / max(n - 1, 1))
    return rgba


def figure6(sweep: Runs, none: Runs, alphas: Sequence[float], gamma: float) -> Figure:
    """Flip ratio and val accuracy per epoch: cosine decay solid, no decay dashed, one colour per alpha."""
    figure = Figure(figsize=(12, 4.8), layout="constrained")
    ax_f, ax_v = figure.subplots(1, 2)
    for i, alpha in enumerate(alphas):
        for runs, style, name in (
            (select(sweep, alpha=alpha, gamma=gamma), "-", "cosine"),
            (select(none, alpha=alpha), "--", "none"),
        ):
            epochs, flips = _curve(runs, "flip_ratio")
            ax_f.plot(epochs, flips, style, color=f"C{i}", label=f"alpha={alpha:.3g}, decay {name}")
            epochs, val = _curve(runs, "val_accuracy")
            ax_v.plot(epochs, 100 * val, style, color=f"C{i}")
    ax_f.set(xlabel="epoch", ylabel="flip ratio per step", yscale="log", title="Flip ratio (mean over seeds)")
    ax_v.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Validation accuracy (mean over seeds)")
    for ax in (ax_f, ax_v):
        ax.grid(alpha=0.3)
    ax_f.legend(fontsize=7)
    figure.suptitle(f"Cosine decay of alpha (solid) against constant alpha (dashed), gamma={gamma:g}")
    return figure


def _range(values: Sequence[float], scale: float = 100.0, fmt: str = ".1f") -> str:
    mean, lo, hi = stats(values)
    return f"{scale * mean:{fmt}} [{scale * lo:{fmt}}, {scale * hi:{fmt}}]"


def sweep_table(sweep: Runs, grid: list[float], gammas: Sequence[float]) -> list[str]:
    """Per gamma and alpha: final val and test accuracy and the mean flip ratio (mean [min, max] over seeds)."""
    lines = [
        "| gamma | alpha | final val acc % | final test acc % | mean flip ratio per step | last-epoch flip ratio |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for gamma in gammas:
        for alpha in grid:
            runs = select(sweep, alpha=alpha, gamma=gamma)
            lines.append(
                f"| {gamma:g} | {alpha:.3g} | {_range([r.result['val_accuracy'] for r in runs])} "
                f"| {_range([r.result['test_accuracy'] for r in runs])} "
                f"| {_range([mean_flip(r) for r in runs], 1.0, '.2e')} "
                f"| {_range([r.result['flip_ratio'] for r in runs], 1.0, '.2e')} |"
            )
    return lines


def decay_table(sweep: Runs, none: Runs, alphas: Sequence[float], gamma: float) -> list[str]:
    """Per alpha: final accuracies and last-epoch flip ratio with cosine decay and without."""
    lines = [
        "| alpha | decay | final val acc % | final test acc % | best val acc % | last-epoch flip ratio |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for alpha in alphas:
        for name, runs in (("cosine", select(sweep, alpha=alpha, gamma=gamma)), ("none", select(none, alpha=alpha))):
            lines.append(
                f"| {alpha:.3g} | {name} | {_range([r.result['val_accuracy'] for r in runs])} "
                f"| {_range([r.result['test_accuracy'] for r in runs])} "
                f"| {_range([r.result['best_val_accuracy'] for r in runs])} "
                f"| {_range([r.result['flip_ratio'] for r in runs], 1.0, '.2e')} |"
            )
    return lines


def mean_flips(sweep: Runs, grid: list[float], gamma: float) -> list[float]:
    """Per alpha at ``gamma``: the mean flip ratio, averaged over seeds."""
    return [float(np.mean([mean_flip(r) for r in select(sweep, alpha=a, gamma=gamma)])) for a in grid]


def _noise(p: float, n_runs: int) -> float:
    """The binomial standard error of a mean over ``n_runs`` validation accuracies near ``p``."""
    return math.sqrt(p * (1 - p) / VALIDATION_RECORDINGS / n_runs)


def claims(
    sweep: Runs,
    frozen: Runs,
    none: Runs,
    grid: list[float],
    gammas: Sequence[float],
    decayed: Sequence[float],
    steps: int,
) -> list[str]:
    """The paper's claims, each with the numbers of this run and whether it holds."""
    lines = [flips_claim(sweep, grid, gammas)]
    if frozen:
        lines.append(small_alpha_claim(sweep, frozen, grid, gammas[0], steps))
    lines.append(large_alpha_claim(sweep, grid, gammas[0]))
    if none:
        lines += decay_claims(sweep, none, decayed, gammas[0])
    return lines


def flips_claim(sweep: Runs, grid: list[float], gammas: Sequence[float]) -> str:
    """Claim 1: the flip ratio grows with alpha."""
    parts, rising = [], True
    for gamma in gammas:
        flips = mean_flips(sweep, grid, gamma)
        ups = sum(b > a for a, b in itertools.pairwise(flips))
        rising = rising and ups == len(grid) - 1
        parts.append(
            f"at gamma={gamma:g} the mean flip ratio goes from {flips[0]:.2e} (alpha={grid[0]:.3g}) to "
            f"{flips[-1]:.2e} (alpha={grid[-1]:.3g}), a factor of {flips[-1] / flips[0]:.1f} over "
            f"{math.log10(grid[-1] / grid[0]):.0f} decades of alpha, and rises in {ups} of {len(grid) - 1} steps "
            "of the grid"
        )
    return (
        "1. **The flip ratio grows with alpha** (alpha sets how fast the filter output changes sign): "
        f"{'holds' if rising else 'holds only in part'}: {'; '.join(parts)}."
    )


def _final_vals(sweep: Runs, grid: list[float], gamma: float) -> list[float]:
    return [float(np.mean([r.result["val_accuracy"] for r in select(sweep, alpha=a, gamma=gamma)])) for a in grid]


def small_alpha_claim(sweep: Runs, frozen: Runs, grid: list[float], gamma: float, steps: int) -> str:
    """Claim 2: too small an alpha leaves the net near its init (compared with the frozen-weights control)."""
    vals = _final_vals(sweep, grid, gamma)
    best = int(np.argmax(vals))
    margin = 2 * math.sqrt(2) * _noise(vals[best], len(select(sweep, alpha=grid[0], gamma=gamma)))
    frozen_val = float(np.mean([r.result["val_accuracy"] for r in frozen]))
    near_frozen = abs(vals[0] - frozen_val) <= margin
    below_best = vals[best] - vals[0] > margin
    if near_frozen and below_best:
        verdict = "holds"
    elif not near_frozen:
        verdict = "does not hold"
    else:
        verdict = "not shown (the smallest alpha is within noise of both the frozen control and the best alpha)"
    flips = mean_flips(sweep, grid[:1], gamma)[0]
    return (
        f"2. **Too small an alpha leaves the net near its init**: {verdict}: at alpha={grid[0]:.3g} "
        f"(gamma={gamma:g}) the final validation accuracy is {_runs.pct(vals[0])}, against "
        f"{_runs.pct(frozen_val)} for the same net with its binary weights frozen at init and "
        f"{_runs.pct(vals[best])} for the best alpha "
        f"({grid[best]:.3g}); two standard errors of a difference of means are {100 * margin:.1f} points. Its mean "
        f"flip ratio is {flips:.2e} per step, about {flips * steps:.1f} sign changes per weight over the "
        f"{steps} steps: the weights do not stay at their init (see 'Alpha against the length of training'). "
        f"The frozen control itself is only {100 * (vals[best] - frozen_val):.1f} points below the best alpha: on "
        "this task the real-valued layers trained with Adam do most of the work."
    )


def large_alpha_claim(sweep: Runs, grid: list[float], gamma: float) -> str:
    """Claim 3: too large an alpha makes flips noise and accuracy falls."""
    vals = _final_vals(sweep, grid, gamma)
    best = int(np.argmax(vals))
    margin = 2 * math.sqrt(2) * _noise(vals[best], len(select(sweep, alpha=grid[-1], gamma=gamma)))
    drop = vals[best] - vals[-1]
    return (
        f"3. **Too large an alpha makes flips noise and accuracy falls**: {'holds' if drop > margin else 'not shown'}: "
        f"at gamma={gamma:g} the final validation accuracy peaks at alpha={grid[best]:.3g} "
        f"({_runs.pct(vals[best])}) and is {_runs.pct(vals[-1])} at alpha={grid[-1]:.3g}, {100 * drop:.1f} points "
        f"lower (two standard errors of a difference: {100 * margin:.1f}), with "
        f"{mean_flips(sweep, grid[-1:], gamma)[0]:.2e} flips per weight and step. The grid stops at alpha = 0.1."
    )


def decay_claims(sweep: Runs, none: Runs, alphas: Sequence[float], gamma: float) -> list[str]:
    """Claims 4 and 5: cosine decay drives the flip ratio to 0 at the end, with equal or better accuracy."""
    last_ratio, diffs, noise = [], [], 0.0
    for alpha in alphas:
        cos, flat = select(sweep, alpha=alpha, gamma=gamma), select(none, alpha=alpha)
        cos_last = np.mean([r.result["flip_ratio"] for r in cos])
        flat_last = np.mean([r.result["flip_ratio"] for r in flat])
        last_ratio.append((alpha, cos_last, flat_last))
        cos_val = float(np.mean([r.result["val_accuracy"] for r in cos]))
        diffs.append((alpha, cos_val - float(np.mean([r.result["val_accuracy"] for r in flat]))))
        noise = max(noise, _noise(cos_val, len(cos)))
    towards_zero = all(c < 0.1 * f for _, c, f in last_ratio)
    margin = 2 * math.sqrt(2) * noise
    better = all(d >= -margin for _, d in diffs)
    return [
        f"4. **Cosine decay of alpha drives the flip ratio towards 0 at the end**: "
        f"{'holds' if towards_zero else 'does not hold'}: last-epoch flip ratio with cosine decay against none: "
        + ", ".join(f"alpha={a:.3g}: {c:.2e} vs {f:.2e}" for a, c, f in last_ratio)
        + ".",
        f"5. **Cosine decay gives equal or better final accuracy than a constant alpha**: "
        f"{'holds' if better else 'does not hold'} (equal meaning within two standard errors of a difference of "
        f"means, {100 * margin:.1f} points): final validation accuracy, cosine minus none: "
        + ", ".join(f"alpha={a:.3g}: {100 * d:+.1f} points" for a, d in diffs)
        + ". `--decay` also decays the Adam learning rate of the real-valued layers: see the control under Figure 6.",
    ]


def total_steps(args: argparse.Namespace) -> int:
    """Optimizer steps of one run: epochs x batches of 64 in the training split."""
    data = load_task_data("audio", None, max_train=args.max_train)
    return int(args.epochs) * math.ceil(len(data.train) / BATCH_SIZE)


def time_constant(sweep: Runs, grid: list[float], gammas: Sequence[float], steps: int) -> list[str]:
    """Why the smallest alphas give the same runs: the filter's memory 1/alpha outlasts training."""
    slow = [a for a in grid if a * steps < 0.1]
    lines = [
        "## Alpha against the length of training",
        "",
        f"A run here is {steps} optimizer steps. The filter starts from f_0 = 0, so f_t = alpha * sum_s "
        "(1 - alpha)^(t-s) m_s; while alpha * t is much smaller than 1 every (1 - alpha)^(t-s) is close to 1 and "
        "f_t is close to alpha times the plain sum of the momentum, whose sign does not depend on alpha. Alpha then "
        "scales the filter state but does not change the binary weights: the filter forgets nothing within the run, "
        "and a weight's sign follows the sign of its summed gradient from the first step on (so the first steps "
        "flip many weights, whatever alpha is).",
        "",
    ]
    if len(slow) >= 2:
        for gamma in gammas:
            vals = [np.mean([r.result["val_accuracy"] for r in select(sweep, alpha=a, gamma=gamma)]) for a in slow]
            flips = mean_flips(sweep, slow, gamma)
            lines.append(
                f"- gamma={gamma:g}: the {len(slow)} alphas with alpha x {steps} < 0.1 "
                f"({slow[0]:.3g} to {slow[-1]:.3g}) give mean final validation accuracies from {_runs.pct(min(vals))} "
                f"to {_runs.pct(max(vals))} and mean flip ratios from {min(flips):.3e} to {max(flips):.3e}."
            )
        lines.append("")
    return lines


def selection_note(
    sweep: Runs, grid: list[float], gamma: float, decayed: Sequence[float], n_best: int, steps: int
) -> str:
    """Which alphas Figure 6 compares and why, and how much the choice of the best alpha means."""
    means = [float(np.mean([r.result["val_accuracy"] for r in select(sweep, alpha=a, gamma=gamma)])) for a in grid]
    chosen = [a for a in decay_alphas(sweep, grid, gamma, n_best) if a in decayed]
    added = [a for a in decayed if a not in chosen]
    margin = 2 * math.sqrt(2) * _noise(max(means), len(select(sweep, alpha=grid[0], gamma=gamma)))
    spread = max(means) - min(means)
    text = (
        f"Alphas {', '.join(f'{a:.3g}' for a in chosen)}: the best of the sweep by mean final validation accuracy and "
        "its neighbours on the grid. The cosine runs are the sweep's own runs; the runs without decay use the same "
        f"seeds. At gamma={gamma:g} the mean final validation accuracies of the grid span {100 * spread:.1f} points "
        f"({_runs.pct(min(means))} to {_runs.pct(max(means))}), against {100 * margin:.1f} points for two standard "
        "errors of a difference of two means"
        + (": the best alpha is not distinguishable from the others." if spread <= margin else ".")
    )
    text += f" Alpha x {steps} steps: " + ", ".join(f"{a:.3g} -> {a * steps:.2g}" for a in decayed) + "."
    if added:
        text += (
            f" Alphas {', '.join(f'{a:.3g}' for a in added)} were added (`--add-decay`) to compare the two schedules "
            "also where the filter forgets within the run (alpha x steps > 1)."
        )
    return text


def decay_confound(
    frozen: Runs, frozen_none: Runs, sweep: Runs, none: Runs, alphas: Sequence[float], gamma: float
) -> list[str]:
    """What `--decay` changes besides alpha: the Adam learning rate of the real-valued layers, measured on the
    frozen-weights control with and without decay."""
    if not (frozen and frozen_none):
        return []
    cos = float(np.mean([r.result["val_accuracy"] for r in frozen]))
    flat = float(np.mean([r.result["val_accuracy"] for r in frozen_none]))
    gains = [
        float(np.mean([r.result["val_accuracy"] for r in select(sweep, alpha=a, gamma=gamma)]))
        - float(np.mean([r.result["val_accuracy"] for r in select(none, alpha=a)]))
        for a in alphas
    ]
    return [
        "`--decay` acts on alpha and also on the Adam learning rate of the real-valued layers (first layer, "
        "classifier, batch norm), so cosine against none changes both. The frozen-weights control, whose binary "
        "weights never change, separates the two: its final validation accuracy is "
        f"{_range([r.result['val_accuracy'] for r in frozen])} % with cosine decay and "
        f"{_range([r.result['val_accuracy'] for r in frozen_none])} % without ({100 * (cos - flat):+.1f} points), "
        f"against {100 * float(np.mean(gains)):+.1f} points on average for the filter runs above. "
        + (
            "Most of the filter's gain from cosine decay is therefore the real-valued layers' learning-rate decay, "
            "not the decay of alpha."
            if cos - flat >= 0.5 * float(np.mean(gains))
            else "The real-valued layers' learning-rate decay explains less than half of the filter's gain."
        ),
        "",
    ]


def report(
    sweep: Runs,
    frozen: Runs,
    frozen_none: Runs,
    none: Runs,
    grid: list[float],
    decayed: Sequence[float],
    args: argparse.Namespace,
    header: dict[str, str],
    steps: int,
) -> str:
    """The report: header, the paper's claims checked, both figures and their tables."""
    lines = _runs.header_lines("Figures 5 and 6 on FSDD: the alpha sweep and cosine decay of alpha", header)
    lines += [
        "Filter optimizer (binary weights = -sign of a second-order low-pass filter on the gradient, Quist, Li, van "
        f"Gemert, ICLR 2023) on AudioFC (width 64), FSDD, {args.epochs} epochs, batch 64, Adam for the real-valued "
        "layers. Final accuracies are of the last epoch, on 300 validation and 300 test recordings (one accuracy "
        "near 90% has a binomial standard error of about 1.7 points). Flip ratio = the share of binary weights that "
        "change sign per optimizer step, averaged over an epoch; 'mean flip ratio' averages it over the epochs.",
        "",
        "## The paper's claims, checked here",
        "",
        *claims(sweep, frozen, none, grid, args.gammas, decayed, steps),
        "",
        *time_constant(sweep, grid, args.gammas, steps),
        "## Figure 5: alpha sweep",
        "",
        "![Figure 5](figure5.png)",
        "",
        "(a) flip ratio per epoch for each alpha at the first gamma (mean over seeds; epochs without a single flip are "
        "gaps on the log axis); (b) final validation accuracy against alpha, mean and min-max over seeds, with the "
        "frozen-weights control in grey; (c) mean flip ratio against alpha.",
        "",
        *sweep_table(sweep, grid, args.gammas),
        "",
    ]
    if frozen:
        lines += [
            "Frozen-weights control (`--optimizer frozen`, binary weights at their random init; only the real-valued "
            f"layers train): final validation accuracy {_range([r.result['val_accuracy'] for r in frozen])} %, test "
            f"{_range([r.result['test_accuracy'] for r in frozen])} % (mean [min, max] over seeds).",
            "",
        ]
    lines += [
        f"## Figure 6: cosine decay of alpha against a constant alpha (gamma={args.gammas[0]:g})",
        "",
        selection_note(sweep, grid, args.gammas[0], decayed, args.decay_alphas, steps),
        "",
        "![Figure 6](figure6.png)",
        "",
        *decay_table(sweep, none, decayed, args.gammas[0]),
        "",
        *decay_confound(frozen, frozen_none, sweep, none, decayed, args.gammas[0]),
        "Files: `runs.csv` (one row per run, with its command; part = sweep, frozen, frozen-none or decay), "
        "`curves.csv` (one row "
        "per run and epoch).",
    ]
    return "\n".join(lines) + "\n"


def script_command(args: argparse.Namespace) -> list[str]:
    """This script's command line for ``args`` (options at their defaults left out)."""
    defaults = vars(parse_args([]))
    command = ["python", "experiments/figure5_6.py"]
    for name in ("alphas", "seeds", "decay_alphas", "epochs", "max_train"):
        value = getattr(args, name)
        if value is not None and value != defaults[name]:
            command += [f"--{name.replace('_', '-')}", str(value)]
    if args.gammas != defaults["gammas"]:
        command += ["--gammas", *(f"{g:g}" for g in args.gammas)]
    if args.add_decay:
        command += ["--add-decay", *(f"{a:g}" for a in args.add_decay)]
    out = args.out.resolve()
    if out != DEFAULT_OUT:
        command += ["--out", str(out)]
    return command


def train_part(flags: Sequence[dict[str, Any]], part: str) -> Runs:
    """Train the runs of one part of the experiment; each run's flags keep its part's name."""
    runs = _runs.train_all(flags, label=part)
    return [_runs.Run(flags={**r.flags, "part": part}, result=r.result) for r in runs]


def load_runs(out: Path) -> Runs:
    """The runs a previous full run wrote to ``runs.csv`` and ``curves.csv``, each with its part."""
    with (out / "curves.csv").open(newline="") as handle:
        curves = list(csv.DictReader(handle))
    with (out / "runs.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    point_keys = ("train_loss", "train_accuracy", "val_accuracy", "test_accuracy", "flip_ratio", "seconds")
    runs = []
    for row in rows:
        key = tuple(row[k] for k in CURVE_KEYS)
        points = [
            {"epoch": int(c["epoch"]), **{k: float(c[k]) for k in point_keys}}
            for c in curves
            if tuple(c[k] for k in CURVE_KEYS) == key
        ]
        result: dict[str, Any] = {k: float(row[k]) for k in ("val_accuracy", "test_accuracy", "best_val_accuracy")}
        result.update(flip_ratio=float(row["last_flip_ratio"]), train_loss=float(row["train_loss"]), points=points)
        runs.append(_runs.Run(flags={**_runs.flags_from_command(row["command"]), "part": row["part"]}, result=result))
    return runs


def replot(args: argparse.Namespace, out: Path, added: Sequence[_runs.Run] = ()) -> int:
    """Rewrite the figures and the report from the CSV files of an earlier run, with ``added`` runs appended."""
    runs = [*load_runs(out), *added]
    sweep, frozen, frozen_none, none = (select(runs, part=p) for p in ("sweep", "frozen", "frozen-none", "decay"))
    grid = sorted({float(str(r.flags["alpha"])) for r in sweep})
    args.gammas = list(dict.fromkeys(float(str(r.flags["gamma"])) for r in sweep))
    decayed = sorted({float(str(r.flags["alpha"])) for r in none})
    args.epochs = len(runs[0].points)
    args.seeds = len({r.flags["seed"] for r in sweep})
    args.max_train = runs[0].flags.get("max_train")
    header = _runs.stored_header(out / "report.md")
    if added:
        _runs.write_csv(out / "runs.csv", run_rows(runs))
        _runs.write_csv(out / "curves.csv", _runs.curve_rows(runs, CURVE_KEYS))
        key = "runs added" + (
            f" ({sum(k.startswith('runs added') for k in header) + 1})" if "runs added" in header else ""
        )
        header[key] = f"`{shlex.join(script_command(args))}`, {args.added_note}"
    _runs.save_figure(figure5(sweep, frozen, grid, args.gammas), out, "figure5")
    _runs.save_figure(figure6(sweep, none, decayed, args.gammas[0]), out, "figure6")
    steps = total_steps(args)
    (out / "report.md").write_text(report(sweep, frozen, frozen_none, none, grid, decayed, args, header, steps))
    print("\n".join(claims(sweep, frozen, none, grid, args.gammas, decayed, steps)))
    return 0


def add_decay(args: argparse.Namespace, out: Path) -> int:
    """Train runs without decay at more alphas of an earlier run's grid, same seeds; add them and rewrite.

    Raises:
        InvalidInputError: an alpha is not on the earlier run's grid at its first gamma.
    """
    earlier = load_runs(out)
    sweep = select(earlier, part="sweep")
    gamma = float(str(sweep[0].flags["gamma"]))
    grid = {float(str(r.flags["alpha"])) for r in sweep}
    done = {float(str(r.flags["alpha"])) for r in select(earlier, part="decay")}
    missing = [a for a in args.add_decay if a not in grid]
    if missing:
        raise InvalidInputError(f"--add-decay {missing}: not on the sweep's grid {sorted(grid)}")
    seeds = sorted({int(str(r.flags["seed"])) for r in sweep})
    args.epochs = len(sweep[0].points)
    args.max_train = sweep[0].flags.get("max_train")
    started = time.monotonic()
    added = []
    if not select(earlier, part="frozen-none"):
        added += train_part([frozen_flags(s, args, "none") for s in seeds], "frozen-none")
    flags = [filter_flags(a, gamma, "none", s, args) for a in args.add_decay if a not in done for s in seeds]
    added += train_part(flags, "decay")
    parts = ", ".join(
        f"{len(select(added, part=part))} {part}" for part in dict.fromkeys(r.flags["part"] for r in added)
    )
    args.added_note = (
        f"{len(added)} runs ({parts}), {(time.monotonic() - started) / 60:.1f} min, "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    )
    return replot(args, out, added)


def main(argv: Sequence[str] | None = None) -> int:
    """Train the sweep, the frozen control and the runs without decay; write every output."""
    args = parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.add_decay:
        return add_decay(args, out)
    if args.replot:
        return replot(args, out)
    started = time.monotonic()
    grid, seeds = alpha_grid(args.alphas), range(args.seeds)
    sweep = train_part(
        [filter_flags(a, g, "cosine", s, args) for g in args.gammas for a in grid for s in seeds], "sweep"
    )
    frozen = train_part([frozen_flags(s, args) for s in seeds], "frozen")
    frozen_none = train_part([frozen_flags(s, args, "none") for s in seeds], "frozen-none")
    decayed = decay_alphas(sweep, grid, args.gammas[0], args.decay_alphas)
    none = train_part([filter_flags(a, args.gammas[0], "none", s, args) for a in decayed for s in seeds], "decay")
    seconds = time.monotonic() - started
    runs = [*sweep, *frozen, *frozen_none, *none]
    header = {
        "machine": _runs.machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": ", ".join(str(s) for s in seeds),
        "command": f"`{shlex.join(script_command(args))}`",
        "wall time": f"{seconds / 60:.1f} min ({len(runs)} runs of `bnn-tune train --json`, one after another)",
        "model": "AudioFC, width 64; FSDD, 300 validation and 300 test recordings",
    }
    _runs.write_csv(out / "runs.csv", run_rows(runs))
    _runs.write_csv(out / "curves.csv", _runs.curve_rows(runs, CURVE_KEYS))
    _runs.save_figure(figure5(sweep, frozen, grid, args.gammas), out, "figure5")
    _runs.save_figure(figure6(sweep, none, decayed, args.gammas[0]), out, "figure6")
    steps = total_steps(args)
    (out / "report.md").write_text(report(sweep, frozen, frozen_none, none, grid, decayed, args, header, steps))
    print("\n".join(claims(sweep, frozen, none, grid, args.gammas, decayed, steps)))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    _runs.run_main(main)
