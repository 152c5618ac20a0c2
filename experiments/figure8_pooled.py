"""Figure 8 across runs: trials to fixed accuracy targets, per run and with the runs' replicates pooled.

Each Figure 8 run sets its target as the best validation accuracy found anywhere in that run minus a tolerance, so
two runs with different seeds are judged against different targets (the maximum of a thousand noisy evaluations).
This script reads the committed ``trials.csv`` of several runs (``experiments/figure8.py`` writes them) and asks the
same question at fixed, absolute targets: how many trials does each space need to reach 93.5%, 94%, 94.5%, 95%
validation accuracy? It reports every run alone and all runs' replicates pooled, with bootstrap intervals
(``tuner.analysis.compare_spaces``), and writes ``report.md``, ``pooled.csv`` and ``pooled.png`` / ``.svg``.

Pure analysis of stored results: seconds, no training. Command for the committed report (seed-0 and seed-1 runs):

    .venv/bin/python experiments/figure8_pooled.py docs/results/figure8 docs/results/figure8/seed1
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from _runs import REPOSITORY, RESULTS, header_lines, pct, run_main, save_figure, write_csv
from tuner.analysis.statistics import compare_spaces

SPACES = ("latent", "filter")
TARGETS = (0.935, 0.94, 0.945, 0.95)
DEFAULT_OUT = RESULTS / "figure8" / "pooled"

Curves = dict[str, list[list[float | None]]]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Figure 8 runs judged at fixed targets, alone and pooled.")
    p.add_argument("runs", nargs="+", type=Path, help="folders holding a Figure 8 run's trials.csv")
    p.add_argument("--targets", type=float, nargs="+", default=list(TARGETS), help="validation accuracies, (0, 1)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    for target in args.targets:
        if not 0 < target < 1:
            p.error(f"--targets must lie in (0, 1), got {target}")
    return args


def read_curves(run: Path) -> Curves:
    """Each space's objective sequences, one per replicate study in trial order (None for a trial without one)."""
    studies: dict[tuple[str, str], dict[int, float | None]] = defaultdict(dict)
    with (run / "trials.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            counted = row["state"] in ("completed", "early_stopped") and row["objective"] != ""
            studies[row["space"], row["study_id"]][int(row["trial"])] = float(row["objective"]) if counted else None
    curves: Curves = {space: [] for space in SPACES}
    for (space, _), trials in sorted(studies.items()):
        if space in curves:
            curves[space].append([trials[n] for n in sorted(trials)])
    return curves


def best(curves: Curves) -> float:
    return max(v for rows in curves.values() for row in rows for v in row if v is not None and math.isfinite(v))


def at_target(scope: str, curves: Curves, target: float) -> dict[str, Any] | None:
    """Trials to ``target`` per space and their difference; None when nothing reached the target."""
    top = best(curves)
    if top < target:
        return None
    summary = compare_spaces(curves, tolerance=top - target)
    spaces = {s.name: s for s in summary.spaces}
    diff = summary.difference
    assert diff is not None
    row: dict[str, Any] = {"scope": scope, "target": target, "replicates": len(curves[SPACES[0]])}
    for name in SPACES:
        space = spaces[name]
        row[f"{name}_mean_trials"] = space.trials_to_target_mean.mean
        row[f"{name}_lo"] = space.trials_to_target_mean.lo
        row[f"{name}_hi"] = space.trials_to_target_mean.hi
        row[f"{name}_reached"] = space.n_reached
    row.update(difference=diff.mean, lo=diff.lo, hi=diff.hi, fraction_positive=diff.fraction_positive)
    return row


def plot(rows: Sequence[dict[str, Any]], scopes: Sequence[str], targets: Sequence[float]) -> Figure:
    figure = Figure(figsize=(8, 4.5))
    ax = figure.subplots()
    width = 0.8 / len(scopes)
    for i, scope in enumerate(scopes):
        mine = {r["target"]: r for r in rows if r["scope"] == scope}
        xs = [j + (i - (len(scopes) - 1) / 2) * width for j, t in enumerate(targets) if t in mine]
        ys = [mine[t]["difference"] for t in targets if t in mine]
        lo = [mine[t]["difference"] - mine[t]["lo"] for t in targets if t in mine]
        hi = [mine[t]["hi"] - mine[t]["difference"] for t in targets if t in mine]
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=4, label=scope)
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.axhline(10, color="gray", linestyle=":", label="paper: ~10 trials")
    ax.set_xticks(range(len(targets)), [pct(t) for t in targets])
    ax.set(
        xlabel="target validation accuracy",
        ylabel="trials to target, latent - filter",
        title="Figure 8 at fixed targets (mean, 95% bootstrap CI)",
    )
    ax.legend(fontsize=8)
    return figure


def report(rows: Sequence[dict[str, Any]], scopes: Sequence[str], header: dict[str, str]) -> str:
    lines = header_lines("Figure 8 at fixed targets: each run alone and the runs pooled", header)
    lines += [
        "Each run's own report judges it against the best accuracy found in that run minus a tolerance; the best of a "
        "thousand evaluations on 300 validation recordings is itself noisy, so two runs get different targets. Here "
        "every run and the pooled replicates face the same absolute targets. A replicate that never reaches a target "
        "counts as trials + 1 (so means are lower bounds when not all reached it).",
        "",
        "![Figure 8 at fixed targets](pooled.png)",
        "",
        "| scope | target | replicates per space | latent: mean trials (reached) | filter: mean trials (reached) "
        "| latent - filter [95% CI] | share of draws > 0 |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scope']} | {pct(r['target'])} | {r['replicates']} | {r['latent_mean_trials']:.1f} "
            f"({r['latent_reached']}) | {r['filter_mean_trials']:.1f} ({r['filter_reached']}) | "
            f"{r['difference']:+.1f} [{r['lo']:+.1f}, {r['hi']:+.1f}] | {r['fraction_positive']:.2f} |"
        )
    pooled = [r for r in rows if r["scope"] == scopes[-1]]
    if pooled:
        shown = [r for r in pooled if r["lo"] > 0]
        largest = max(pooled, key=lambda r: r["difference"])
        lines += [
            "",
            f"Pooled over {pooled[0]['replicates']} replicates per space, the filter space reaches "
            f"{len(shown)} of {len(pooled)} targets in fewer trials with an interval above 0; the largest "
            f"difference is {largest['difference']:+.1f} trials [{largest['lo']:+.1f}, {largest['hi']:+.1f}] at "
            f"{pct(largest['target'])}. The paper's ~10 trials "
            + (
                "lies inside that interval."
                if largest["lo"] <= 10 <= largest["hi"]
                else "lies outside every pooled interval."
                if all(not (r["lo"] <= 10 <= r["hi"]) for r in pooled)
                else "lies inside some pooled intervals but not the largest one."
            ),
        ]
    return "\n".join(lines) + "\n"


def _name(run: Path) -> str:
    resolved = run.resolve()
    return str(resolved.relative_to(REPOSITORY) if resolved.is_relative_to(REPOSITORY) else run)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    runs = {_name(run): read_curves(run) for run in args.runs}
    pooled: Curves = {space: [row for curves in runs.values() for row in curves[space]] for space in SPACES}
    scopes = [*runs, "pooled"]
    rows = []
    for scope, curves in [*runs.items(), ("pooled", pooled)]:
        for target in args.targets:
            row = at_target(scope, curves, target)
            if row is not None:
                rows.append(row)
    write_csv(out / "pooled.csv", rows)
    save_figure(plot(rows, scopes, args.targets), out, "pooled")
    header = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": ", ".join(f"`{name}` ({len(c[SPACES[0]])} replicates per space)" for name, c in runs.items()),
        "command": "`python experiments/figure8_pooled.py " + " ".join(runs) + "`",
        "wall time": "seconds (analysis of stored trials only)",
    }
    (out / "report.md").write_text(report(rows, scopes, header))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    run_main(main)
