"""The paper's Figure 7 on FSDD: latent-weight SGD and the filter optimizer with matched hyperparameters.

For each latent configuration (lr, momentum, weight_decay) in the magnitude-independent setting (w0 = 0, no clipping,
no STE clipping, no scaling) and each seed, trains ``bnn-tune train --optimizer latent`` and ``--optimizer filter``
with (alpha, gamma) = ``latent_to_filter(lr, weight_decay, momentum)``, same seed, same epochs, default cosine decay
(which decays lr for latent and alpha for filter: the same sequence of alpha_t = lr_t * weight_decay). A control
trains the same latent configuration magnitude-dependently (w0 = 1, STE clipping, channel scaling) against the same
filter run. Writes ``report.md``, ``figure7.png`` and ``figure7.svg``, ``runs.csv`` (one row per run),
``curves.csv`` (one row per run and epoch) and ``pairs.csv`` (one row per compared pair).

Full run in docs/results/figure7/: machine Intel Xeon, 2 CPU cores shared with other work, no GPU (torch 2.13.0 CPU);
seeds 0, 1, 2; 3 configurations x 3 seeds x 3 runs (latent, filter, control) of 20 epochs = 27 runs; wall time
17.1 min (about 38 s a run: the cores were shared with a Figure 8 run and another experiment). Command:

    .venv/bin/python experiments/figure7.py

``--replot`` rewrites the figure, ``pairs.csv`` and the report from the CSV files without training.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

import _runs
from search_spaces import latent_to_filter

DEFAULT_OUT = _runs.RESULTS / "figure7"
# (lr, momentum, weight_decay): alpha = lr * weight_decay of 1e-3, 1e-4 and 1e-2, gamma = 1 - momentum of 0.1, 0.01
# and 0.5; FSDD trains with alpha in [1e-4, 1e-2].
CONFIGS: tuple[tuple[float, float, float], ...] = ((0.1, 0.9, 1e-2), (1.0, 0.99, 1e-4), (0.05, 0.5, 0.2))
VALIDATION_RECORDINGS = 300
KINDS = ("latent", "filter", "control")
CURVE_KEYS = ("config", "seed", "kind", "optimizer", "lr", "momentum", "weight_decay", "alpha", "gamma")


@dataclass(frozen=True)
class Config:
    """One latent configuration and the filter hyperparameters it maps onto."""

    index: int
    lr: float
    momentum: float
    weight_decay: float

    @property
    def alpha_gamma(self) -> tuple[float, float]:
        """(alpha, gamma) = (lr * weight_decay, 1 - momentum)."""
        return latent_to_filter(self.lr, self.weight_decay, self.momentum)

    @property
    def label(self) -> str:
        """The configuration in both parameterizations."""
        alpha, gamma = self.alpha_gamma
        return f"lr={self.lr:g}, mom={self.momentum:g}, wd={self.weight_decay:g} (alpha={alpha:.3g}, gamma={gamma:.3g})"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The experiment's command-line arguments."""
    p = argparse.ArgumentParser(description="Figure 7 on FSDD: latent SGD against the filter optimizer, matched.")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per configuration (default 3)")
    p.add_argument("--configs", type=int, default=len(CONFIGS), help="use the first N configurations (default all)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--max-train", type=int, default=None, help="cap on training recordings (quick checks only)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default docs/results/figure7)")
    p.add_argument(
        "--replot",
        action="store_true",
        help="train nothing: rewrite the figure and report from runs.csv and curves.csv in --out (header kept)",
    )
    args = p.parse_args(argv)
    for name in ("seeds", "configs", "epochs"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.configs > len(CONFIGS):
        p.error(f"--configs must be at most {len(CONFIGS)}")
    return args


def run_flags(config: Config, kind: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """The ``bnn-tune train`` flags of one run: the latent run, its matched filter run, or the control."""
    alpha, gamma = config.alpha_gamma
    common = {"task": "audio", "epochs": args.epochs, "seed": seed, "max_train": args.max_train}
    if kind == "filter":
        # w0 = 0 for the filter too: its start signs are then the layers' tie signs, as for latent weights at zero.
        return {"optimizer": "filter", "alpha": alpha, "gamma": gamma, "init_scale": 0.0, **common}
    latent = {"optimizer": "latent", "lr": config.lr, "momentum": config.momentum}
    latent["weight_decay"] = config.weight_decay
    if kind == "latent":
        return {**latent, "init_scale": 0.0, **common}
    return {**latent, "init_scale": 1.0, "ste_clip": True, "scaling": True, **common}


def plan(args: argparse.Namespace) -> list[tuple[Config, str, int]]:
    """Every run: configuration x seed x kind."""
    configs = [Config(i, *c) for i, c in enumerate(CONFIGS[: args.configs])]
    return [(c, kind, seed) for c in configs for seed in range(args.seeds) for kind in KINDS]


def pair_difference(a: _runs.Run, b: _runs.Run) -> dict[str, Any]:
    """How far two runs' curves are apart: max |difference| over epochs, and whether they are identical."""
    pa, pb = a.points, b.points
    val = [abs(x["val_accuracy"] - y["val_accuracy"]) for x, y in zip(pa, pb, strict=True)]
    test = [abs(x["test_accuracy"] - y["test_accuracy"]) for x, y in zip(pa, pb, strict=True)]
    flip = [abs(x["flip_ratio"] - y["flip_ratio"]) for x, y in zip(pa, pb, strict=True)]
    # Relative to the larger of the two: flip ratios span orders of magnitude over a run.
    rel = [d / max(x["flip_ratio"], y["flip_ratio"], 1e-12) for d, x, y in zip(flip, pa, pb, strict=True)]
    loss = [abs(x["train_loss"] - y["train_loss"]) for x, y in zip(pa, pb, strict=True)]
    # The first epoch whose accuracies or training loss differ; flip counts are left out (see the report).
    diverged = next((x["epoch"] for x, d, t, lo in zip(pa, val, test, loss, strict=True) if d or t or lo), None)
    return {
        "max_abs_val_diff": max(val),
        "max_val_diff_recordings": round(max(val) * VALIDATION_RECORDINGS),
        "max_abs_test_diff": max(test),
        "max_abs_flip_diff": max(flip),
        "max_rel_flip_diff": max(rel),
        "rel_flip_diff_epoch_1": rel[0],
        "max_rel_flip_diff_after_epoch_1": max(rel[1:], default=0.0),
        "max_abs_train_loss_diff": max(loss),
        "same_final_val": pa[-1]["val_accuracy"] == pb[-1]["val_accuracy"],
        "same_final_test": pa[-1]["test_accuracy"] == pb[-1]["test_accuracy"],
        "first_differing_epoch": diverged,
    }


def pair_rows(
    configs: Sequence[Config], runs: dict[tuple[int, str, int], _runs.Run], seeds: int
) -> list[dict[str, Any]]:
    """One row per (configuration, seed, comparison): latent vs filter, and control vs filter."""
    rows = []
    for config in configs:
        alpha, gamma = config.alpha_gamma
        for seed in range(seeds):
            for kind in ("latent", "control"):
                a, b = runs[(config.index, kind, seed)], runs[(config.index, "filter", seed)]
                rows.append(
                    {
                        "config": config.index,
                        "lr": config.lr,
                        "momentum": config.momentum,
                        "weight_decay": config.weight_decay,
                        "alpha": alpha,
                        "gamma": gamma,
                        "seed": seed,
                        "comparison": f"{kind} vs filter",
                        f"final_val_{kind}": a.result["val_accuracy"],
                        "final_val_filter": b.result["val_accuracy"],
                        **pair_difference(a, b),
                    }
                )
    return rows


def run_rows(runs: dict[tuple[int, str, int], _runs.Run]) -> list[dict[str, Any]]:
    """One row per run: its identity, its flags and its last-epoch metrics."""
    rows = []
    for (index, kind, seed), run in runs.items():
        r = run.result
        rows.append(
            {
                "config": index,
                "kind": kind,
                "seed": seed,
                "command": shlex.join(_runs.train_command(run.flags)),
                **{k: run.flags.get(k) for k in CURVE_KEYS[3:]},
                **run.last_metrics,
                "flip_ratio_last": r["flip_ratio"],
            }
        )
    return rows


def curve_rows(runs: dict[tuple[int, str, int], _runs.Run]) -> list[dict[str, Any]]:
    """One row per run and epoch: the run's identity and hyperparameters, then the epoch's metrics."""
    return [
        {"config": index, "kind": kind, "seed": seed, **{k: run.flags.get(k) for k in CURVE_KEYS[3:]}, **point}
        for (index, kind, seed), run in runs.items()
        for point in run.points
    ]


def _mean_curve(runs: Sequence[_runs.Run], key: str) -> tuple[np.ndarray, np.ndarray]:
    epochs = np.array([p["epoch"] for p in runs[0].points])
    values = np.array([[p[key] for p in run.points] for run in runs], dtype=float)
    return epochs, values.mean(axis=0)


def plot(configs: Sequence[Config], runs: dict[tuple[int, str, int], _runs.Run], seeds: int) -> Figure:
    """Val accuracy and flip ratio per epoch (mean over seeds): latent solid, filter dashed, control dotted."""
    figure = Figure(figsize=(12, 4.6))
    axes = figure.subplots(1, 2)
    styles = {"latent": "-", "filter": "--", "control": ":"}
    for config in configs:
        colour = f"C{config.index}"
        for kind, style in styles.items():
            group = [runs[(config.index, kind, s)] for s in range(seeds)]
            name = {"latent": "latent w0=0", "filter": "filter", "control": "latent w0=1, STE clip, scaling"}[kind]
            for ax, key in zip(axes, ("val_accuracy", "flip_ratio"), strict=True):
                epochs, mean = _mean_curve(group, key)
                ax.plot(
                    epochs,
                    100 * mean if key == "val_accuracy" else mean,
                    style,
                    color=colour,
                    # Latent wide and pale, filter thin on top: where the two are equal the dashes run inside it.
                    lw=4.0 if kind == "latent" else 1.5,
                    alpha=0.35 if kind == "latent" else 1.0,
                    label=f"{name}: {config.label}" if key == "val_accuracy" else None,
                )
    axes[0].set(xlabel="epoch", ylabel="validation accuracy (%)", title="Validation accuracy (mean over seeds)")
    axes[1].set(xlabel="epoch", ylabel="flip ratio per step", yscale="log", title="Flip ratio (mean over seeds)")
    for ax in axes:
        ax.grid(alpha=0.3)
    figure.legend(loc="lower center", ncol=len(configs), fontsize=7, bbox_to_anchor=(0.5, -0.18))
    figure.suptitle("Latent SGD (solid) vs filter with alpha = lr*wd, gamma = 1-momentum (dashed); control dotted")
    return figure


def summary_table(configs: Sequence[Config], pairs: Sequence[dict[str, Any]]) -> list[str]:
    """Per configuration and comparison: the largest curve differences over seeds and epochs."""
    lines = [
        "| configuration | comparison | max abs val diff (recordings) | max abs test diff | max rel flip-ratio diff "
        "(epoch 1 / later) | same final val, seeds | first differing epoch per seed |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for config in configs:
        for comparison in ("latent vs filter", "control vs filter"):
            rows = [r for r in pairs if r["config"] == config.index and r["comparison"] == comparison]
            first_rel = max(r["rel_flip_diff_epoch_1"] for r in rows)
            later = max(r["max_rel_flip_diff_after_epoch_1"] for r in rows)
            first = ", ".join(
                "-" if r["first_differing_epoch"] is None else str(r["first_differing_epoch"]) for r in rows
            )
            lines.append(
                f"| {config.label} | {comparison} | {100 * max(r['max_abs_val_diff'] for r in rows):.1f} pts "
                f"({max(r['max_val_diff_recordings'] for r in rows)}) | "
                f"{100 * max(r['max_abs_test_diff'] for r in rows):.1f} pts | {first_rel:.2g} / {later:.2g} | "
                f"{sum(r['same_final_val'] for r in rows)}/{len(rows)} | {first} |"
            )
    return lines


def final_table(configs: Sequence[Config], runs: dict[tuple[int, str, int], _runs.Run], seeds: int) -> list[str]:
    """Final validation accuracy of every run, per configuration and seed."""
    lines = [
        "| configuration | seed | latent w0=0 | filter | control (w0=1, STE clip, scaling) |",
        "|---|---:|---:|---:|---:|",
    ]
    for config in configs:
        for s in range(seeds):
            vals = [_runs.pct(runs[(config.index, kind, s)].result["val_accuracy"]) for kind in KINDS]
            lines.append(f"| {config.label} | {s} | {' | '.join(vals)} |")
    return lines


def verdict(pairs: Sequence[dict[str, Any]]) -> str:
    """Whether the matched pairs gave the same curves, and whether the control differs, in one paragraph."""
    matched = [r for r in pairs if r["comparison"] == "latent vs filter"]
    control = [r for r in pairs if r["comparison"] == "control vs filter"]
    identical = sum(r["first_differing_epoch"] is None for r in matched)
    worst = max(r["max_abs_val_diff"] for r in matched)
    later_flip = max(r["max_rel_flip_diff_after_epoch_1"] for r in matched)
    text = (
        f"Matched pairs: {identical} of {len(matched)} latent/filter pairs have identical validation and test "
        f"accuracy and training loss at every epoch; the largest validation-accuracy difference over all pairs and "
        f"epochs is {100 * worst:.1f} points ({round(worst * VALIDATION_RECORDINGS)} recordings), and the largest "
        f"relative flip-ratio difference after epoch 1 is {later_flip:.2g}. "
    )
    if identical == len(matched):
        text += (
            "So yes: with w0 = 0 and no clipping or scaling, latent SGD and the filter are the same optimizer here. "
        )
    else:
        differing = [r for r in matched if r["first_differing_epoch"] is not None]
        first = min(int(r["first_differing_epoch"]) for r in differing)
        finals = [abs(r["final_val_latent"] - r["final_val_filter"]) for r in differing]
        p = float(np.mean([r["final_val_filter"] for r in matched]))
        noise = (p * (1 - p) / VALIDATION_RECORDINGS) ** 0.5
        text += (
            f"The {len(differing)} pairs that differ are identical for their first {first - 1} or more epochs, then "
            f"part (first differing epoch: {', '.join(str(r['first_differing_epoch']) for r in differing)}); their "
            f"final validation accuracies differ by {100 * float(np.mean(finals)):.1f} points on average (at most "
            f"{100 * max(finals):.1f}), against a standard error of {100 * noise:.1f} points for one evaluation. "
            "This is what float32 rounding "
            "predicts: latent SGD computes w - lr * (m + wd * w) and the filter (1 - alpha) * f + alpha * m, the same "
            "update in exact arithmetic but not bit for bit; a weight whose state is near zero can then take "
            "different signs, and from there the two nets train apart. So the two optimizers are equivalent up to "
            "rounding, and their curves are the same within noise. "
        )
    control_diff = sum(r["first_differing_epoch"] is not None for r in control)
    gaps = [r["max_abs_val_diff"] for r in control]
    finals = [r["final_val_control"] - r["final_val_filter"] for r in control]
    text += (
        f"Magnitude-dependent control (w0 = 1, STE clipping, channel scaling, same lr, momentum and weight decay): "
        f"{control_diff} of {len(control)} runs differ from the filter run of the same seed; the largest "
        f"validation-accuracy gap over epochs is {100 * float(np.mean(gaps)):.1f} points on average over these pairs "
        f"(up to {100 * max(gaps):.1f}), and the final validation accuracy differs by "
        f"{100 * float(np.mean(finals)):+.1f} points on average (control minus filter)."
    )
    return text


def report(
    configs: Sequence[Config],
    runs: dict[tuple[int, str, int], _runs.Run],
    pairs: Sequence[dict[str, Any]],
    args: argparse.Namespace,
    header: dict[str, str],
) -> str:
    """The report: header, verdict, tables and the figure."""
    lines = _runs.header_lines("Figure 7 on FSDD: latent SGD and the filter optimizer, matched", header)
    lines += [
        "## Do latent SGD and the filter give the same curves?",
        "",
        verdict(pairs),
        "",
        "The paper (Quist, Li, van Gemert, ICLR 2023, Figure 7) shows that latent-weight SGD with momentum mu, weight "
        "decay lambda and learning rate eta, started from zero latent weights without clipping or scaling, follows "
        "the same curves as the filter optimizer with alpha = eta * lambda and gamma = 1 - mu. Every run here is "
        f"AudioFC (width 64) on FSDD, {args.epochs} epochs, batch 64, cosine decay (of lr for latent, of alpha for "
        "the filter: the same alpha_t sequence), with the pair sharing the seed (same init, tie signs, data order). "
        "The filter runs get `--init-scale 0` as well: the filter's start signs are then the binary layers' tie "
        "signs, which is what latent weights at exactly zero give (with the default init scale the filter would "
        "start from the signs of a uniform init, a different random net). "
        "Accuracies are on 300 validation / 300 test recordings.",
        "",
        "The flip ratio of epoch 1 may differ slightly even in identical runs: from w0 = 0 the latent optimizer counts "
        "a flip for each weight whose latent value turns negative (0 counts as +1), while the filter starts from the "
        "layers' tie signs and counts a flip where the first filter output disagrees with them. The weights the net "
        "uses are the same; only the bookkeeping of the first step differs.",
        "",
        "![Figure 7](figure7.png)",
        "",
        "## Largest differences between the curves, over seeds and epochs",
        "",
        *summary_table(configs, pairs),
        "",
        "## Final validation accuracy per run",
        "",
        *final_table(configs, runs, args.seeds),
        "",
        "Files: `runs.csv` (one row per run, with its command), `curves.csv` (one row per run and epoch), `pairs.csv` "
        "(one row per compared pair and seed).",
    ]
    return "\n".join(lines) + "\n"


def script_command(args: argparse.Namespace) -> list[str]:
    """This script's command line for ``args``."""
    command = ["python", "experiments/figure7.py"]
    for name in ("seeds", "configs", "epochs", "max_train"):
        value = getattr(args, name)
        if value is not None and value != parse_args([]).__dict__[name]:
            command += [f"--{name.replace('_', '-')}", str(value)]
    out = args.out.resolve()
    if out != DEFAULT_OUT:
        command += ["--out", str(out)]
    return command


def load_runs(out: Path) -> dict[tuple[int, str, int], _runs.Run]:
    """The runs a previous full run wrote to ``runs.csv`` and ``curves.csv``."""
    with (out / "curves.csv").open(newline="") as handle:
        curves = list(csv.DictReader(handle))
    with (out / "runs.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    point_keys = ("train_loss", "train_accuracy", "val_accuracy", "test_accuracy", "flip_ratio", "seconds")
    runs = {}
    for row in rows:
        key = (int(row["config"]), row["kind"], int(row["seed"]))
        points = [
            {"epoch": int(c["epoch"]), **{k: float(c[k]) for k in point_keys}}
            for c in curves
            if (int(c["config"]), c["kind"], int(c["seed"])) == key
        ]
        result: dict[str, Any] = {k: float(row[k]) for k in ("val_accuracy", "test_accuracy", "best_val_accuracy")}
        result.update(flip_ratio=float(row["flip_ratio_last"]), train_loss=float(row["train_loss"]), points=points)
        runs[key] = _runs.Run(flags=_runs.flags_from_command(row["command"]), result=result)
    return runs


def replot(args: argparse.Namespace, out: Path) -> int:
    """Rewrite the figure, pairs.csv and the report from the CSV files of an earlier run."""
    runs = load_runs(out)
    args.seeds = 1 + max(seed for _, _, seed in runs)
    args.epochs = len(next(iter(runs.values())).points)
    indices = sorted({index for index, _, _ in runs})
    configs = [Config(i, *CONFIGS[i]) for i in indices]
    pairs = pair_rows(configs, runs, args.seeds)
    _runs.write_csv(out / "pairs.csv", pairs)
    _runs.save_figure(plot(configs, runs, args.seeds), out, "figure7")
    (out / "report.md").write_text(report(configs, runs, pairs, args, _runs.stored_header(out / "report.md")))
    print(verdict(pairs))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Train every run and write the outputs."""
    args = parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.replot:
        return replot(args, out)
    started = time.monotonic()
    todo = plan(args)
    finished = _runs.train_all([run_flags(c, kind, seed, args) for c, kind, seed in todo], label="figure7")
    runs = {(c.index, kind, seed): run for (c, kind, seed), run in zip(todo, finished, strict=True)}
    configs = list(dict.fromkeys(c for c, _, _ in todo))
    pairs = pair_rows(configs, runs, args.seeds)
    seconds = time.monotonic() - started
    header = {
        "machine": _runs.machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": ", ".join(str(s) for s in range(args.seeds)),
        "command": f"`{shlex.join(script_command(args))}`",
        "wall time": f"{seconds / 60:.1f} min ({len(todo)} runs of `bnn-tune train --json`, one after another)",
        "model": "AudioFC, width 64; FSDD, 300 validation and 300 test recordings",
    }
    _runs.write_csv(out / "runs.csv", run_rows(runs))
    _runs.write_csv(out / "curves.csv", curve_rows(runs))
    _runs.write_csv(out / "pairs.csv", pairs)
    _runs.save_figure(plot(configs, runs, args.seeds), out, "figure7")
    (out / "report.md").write_text(report(configs, runs, pairs, args, header))
    print(verdict(pairs))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    _runs.run_main(main)
