"""The paper's Figure 8 on FSDD, run through bnn-tune itself: latent (6 hyperparameters) against filter (alpha, gamma).

Runs ``bnn-tune compare --json`` as a subprocess on a dedicated SQLite database in the output folder (default
Ray executor), then writes from the stored rows: ``report.md``, ``figure8.png`` and ``figure8.svg``
(:func:`tuner.analysis.figures.render`), ``trials.csv`` (one row per trial), ``curves.csv`` (one row per trial and
epoch), ``tolerance.csv`` (trials-to-target difference for several tolerances) and ``summary.json`` (every number of the
report). With ``--comparison ID`` it only rewrites the outputs from a comparison already in the database, keeping the
frozen control of ``frozen.csv`` when that file holds the seeds asked for.

Full run in docs/results/figure8/: machine Intel Xeon, 2 CPU cores shared with other experiments, no GPU (torch
2.13.0 CPU); seed 0; 2 spaces x 20 replicates x 25 trials x 20 epochs, trials batched per round (``--batch-trials``)
on the default Ray executor, suggestions one study after another; wall time 47.6 min (47.3 min from the comparison's
creation to its last trial), then 3.4 min for the frozen control's 20 seeds. Command:

    .venv/bin/python experiments/figure8.py --replicates 20 --trials 25 --epochs 20 --seed 0 --batch-trials

Reduced runs beside it: ``r5-t12-e10/`` (5 x 12 x 10, 6.1 min) and ``r5-t25-e20/`` (5 x 25 x 20, 7.9 min), each
with the command in its report header.

The audio net is AudioFC at its default width of 64: ``bnn-tune compare`` has no width option, so this script has
none either.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from _runs import REPOSITORY, RESULTS, Run, bnn_tune, machine, pct, run_main, train_all, write_csv
from api.routes.export import studies_csv
from bnn_errors import GiveUpError, InvalidInputError
from tuner.analysis.figures import FORMATS, render
from tuner.analysis.reports import UNCOUNTED_STATES, comparison_view, objective_sequence, points_by_epoch
from tuner.analysis.statistics import bootstrap_mean_ci, tolerance_sensitivity
from tuner.execution.scheduler import N_INITIAL
from tuner.storage import Storage, StudyRecord, TrialRecord

DEFAULT_OUT = RESULTS / "figure8"
SPACES = ("latent", "filter")
TOLERANCES = (0.005, 0.01, 0.02, 0.03)
FULL_RUN = {"replicates": 20, "trials": 25, "epochs": 20}
# FSDD's validation split is takes 5-9 of 6 speakers x 10 digits: 300 recordings.
VALIDATION_RECORDINGS = 300
# The paper's claim: the filter space reaches a good network about 10 trials sooner.
PAPER_TRIALS_SAVED = 10.0


@dataclass(frozen=True)
class StudyResult:
    """One replicate study's best trial by its objective, with that trial's test accuracy at the same epoch."""

    space: str
    replicate: int
    best_val: float | None
    best_test: float | None
    sobol_objectives: tuple[float, ...]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The experiment's command-line arguments."""
    p = argparse.ArgumentParser(description="Figure 8 on FSDD: latent vs filter search space, through bnn-tune.")
    p.add_argument("--replicates", type=int, default=5, help="studies per space (full run: 20)")
    p.add_argument("--trials", type=int, default=12, help="trials per study (full run: 25)")
    p.add_argument("--epochs", type=int, default=10, help="epochs per trial (full run: 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-train", type=int, default=None, help="cap on training recordings (quick checks only)")
    p.add_argument("--executor", choices=("ray", "inline"), default="ray", help="where trials run (default ray)")
    p.add_argument(
        "--batch-trials",
        action="store_true",
        help="train each scheduler round's trials as batched models (bnn-tune compare --batch-trials)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default docs/results/figure8)")
    p.add_argument(
        "--suggestion-workers",
        type=int,
        default=None,
        help="processes computing the studies' next trials in parallel (bnn-tune compare --suggestion-workers)",
    )
    p.add_argument(
        "--frozen-seeds",
        type=int,
        default=10,
        help="seeds of the frozen-binary-weights control, trained with bnn-tune train --optimizer frozen (0: skip)",
    )
    p.add_argument(
        "--comparison",
        type=int,
        default=None,
        help="only rewrite the outputs of this stored comparison (the frozen control of frozen.csv is kept when it "
        "holds the seeds asked for)",
    )
    args = p.parse_args(argv)
    for name in ("replicates", "trials", "epochs"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.frozen_seeds < 0:
        p.error("--frozen-seeds must be at least 0")
    return args


def compare_command(args: argparse.Namespace) -> list[str]:
    """The ``bnn-tune compare`` command line the experiment runs."""
    command = [
        "bnn-tune",
        "compare",
        "--task",
        "audio",
        "--spaces",
        ",".join(SPACES),
        "--replicates",
        str(args.replicates),
        "--trials",
        str(args.trials),
        "--epochs",
        str(args.epochs),
        "--seed",
        str(args.seed),
        "--executor",
        args.executor,
        "--json",
    ]
    if args.max_train is not None:
        command += ["--max-train", str(args.max_train)]
    if args.batch_trials:
        command.append("--batch-trials")
    if args.suggestion_workers is not None:
        command += ["--suggestion-workers", str(args.suggestion_workers)]
    return command


def run_comparison(command: Sequence[str], database_url: str) -> int:
    """Run ``bnn-tune compare`` on the database; return the new comparison's id.

    The progress bar goes to this process's stderr; stdout's last line is the comparison as JSON.

    Raises:
        GiveUpError: the command failed or printed no comparison.
    """
    with tempfile.TemporaryDirectory(prefix="f8ray-", ignore_cleanup_errors=True) as ray_tmp:
        env = dict(os.environ, BNN_TUNE_DATABASE_URL=database_url)
        env.setdefault("RAY_AUTH_MODE", "disabled")
        # Ray's socket paths must stay short: a temp folder, not one under the output folder.
        env.setdefault("RAY_TMPDIR", ray_tmp)
        done = subprocess.run(
            [*bnn_tune(), *command[1:]], cwd=REPOSITORY, env=env, stdout=subprocess.PIPE, text=True, check=False
        )
    lines = done.stdout.strip().splitlines()
    result: Any = json.loads(lines[-1]) if lines else {}
    if done.returncode != 0 or not isinstance(result, dict) or "id" not in result:
        reason = result.get("error") if isinstance(result, dict) else None
        raise GiveUpError(f"bnn-tune compare failed (exit status {done.returncode}): {reason or 'no result'}")
    return int(result["id"])


def _objective_epoch(points: list[dict[str, float]], objective: str) -> dict[str, float] | None:
    """The epoch the objective was read from: the last one, or the one with the best validation accuracy."""
    if not points:
        return None
    if objective == "val_accuracy_best":
        return max(points, key=lambda p: p.get("val_accuracy", -math.inf))
    return points[-1]


def _sobol_trials(trials: Sequence[TrialRecord], n_trials: int) -> list[TrialRecord]:
    """The study's completed Sobol trials: Ax counts only successful ones towards its initial quasi-random points."""
    completed = [t for t in sorted(trials, key=lambda t: t.number) if t.state == "completed"]
    return completed[: min(N_INITIAL, n_trials)]


def study_result(study: StudyRecord, trials: Sequence[TrialRecord], curves: Mapping[int, Any]) -> StudyResult:
    """The best-by-validation trial of one study and the test accuracy it reached."""
    completed = [t for t in trials if t.state == "completed" and t.objective is not None]
    best = max(completed, key=lambda t: t.objective or 0.0, default=None)
    best_test = None
    if best is not None:
        epoch = _objective_epoch(points_by_epoch(curves.get(best.id, [])), study.objective)
        best_test = None if epoch is None else epoch.get("test_accuracy")
    sobol = tuple(float(t.objective) for t in _sobol_trials(trials, study.n_trials) if t.objective is not None)
    return StudyResult(
        space=study.space,
        replicate=study.replicate if study.replicate is not None else -1,
        best_val=None if best is None else best.objective,
        best_test=best_test,
        sobol_objectives=sobol,
    )


def write_trials_csv(path: Path, storage: Storage, studies: Sequence[StudyRecord]) -> None:
    """One row per trial: its parameters, objective, last-epoch metrics, and whether it was a Sobol point."""
    rows: list[dict[str, Any]] = []
    for study in studies:
        trials = sorted(storage.trials(study.id), key=lambda t: t.number)
        curves = storage.curves(study.id)
        sobol = {t.id for t in _sobol_trials(trials, study.n_trials)}
        best = -math.inf
        for trial in trials:
            points = points_by_epoch(curves.get(trial.id, []))
            last = points[-1] if points else {}
            if trial.objective is not None and trial.state not in UNCOUNTED_STATES:
                best = max(best, trial.objective)
            row: dict[str, Any] = {
                "study_id": study.id,
                "space": study.space,
                "replicate": study.replicate,
                "trial": trial.number,
                "state": trial.state,
                "sobol": trial.id in sobol,
                "objective": trial.objective,
                "best_so_far": None if math.isinf(best) else best,
                "epochs_run": len(points),
                "val_accuracy_last": last.get("val_accuracy"),
                "test_accuracy_last": last.get("test_accuracy"),
                "flip_ratio_last": last.get("flip_ratio"),
                "error": (trial.error or "").splitlines()[0] if trial.error else None,
            }
            row.update({f"param_{k}": v for k, v in trial.parameters.items()})
            rows.append(row)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def _estimate(values: Sequence[float | None]) -> dict[str, float | int | None]:
    present = [v for v in values if v is not None]
    if not present:
        return {"mean": None, "lo": None, "hi": None, "n": 0}
    mean, lo, hi = bootstrap_mean_ci(np.array(present))
    return {"mean": float(mean), "lo": float(lo), "hi": float(hi), "n": len(present)}


def _spread(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    data = np.array(values)
    return {
        "n": int(data.size),
        "mean": float(data.mean()),
        "std": float(data.std(ddof=1)) if data.size > 1 else 0.0,
        "min": float(data.min()),
        "max": float(data.max()),
    }


def summarize(storage: Storage, comparison_id: int) -> dict[str, Any]:
    """Every number of the report, from the stored comparison."""
    view = comparison_view(storage, comparison_id)
    studies = storage.comparison_studies(comparison_id)
    results: list[StudyResult] = []
    curves_by_space: dict[str, list[list[float | None]]] = {space: [] for space in view["spaces"]}
    finished: list[datetime] = []
    for study in studies:
        trials = storage.trials(study.id)
        results.append(study_result(study, trials, storage.curves(study.id)))
        sequence = objective_sequence(trials)
        if sequence:
            curves_by_space[study.space].append(sequence)
        finished += [t.finished_at for t in trials if t.finished_at is not None]
    per_space: dict[str, Any] = {}
    for space in view["spaces"]:
        mine = sorted((r for r in results if r.space == space), key=lambda r: r.replicate)
        per_space[space] = {
            "best_val": _estimate([r.best_val for r in mine]),
            "best_test": _estimate([r.best_test for r in mine]),
            "per_replicate": [{"replicate": r.replicate, "val": r.best_val, "test": r.best_test} for r in mine],
            "sobol_spread": _spread([v for r in mine for v in r.sobol_objectives]),
        }
    sensitivity = tolerance_sensitivity(curves_by_space, TOLERANCES) if all(curves_by_space.values()) else []
    created = storage.get_comparison(comparison_id).created_at
    wall = (max(finished) - created).total_seconds() if finished and created is not None else None
    return {"view": view, "spaces": per_space, "sensitivity": sensitivity, "run_seconds": wall}


def _ci(estimate: Mapping[str, Any], *, percent: bool = True, digits: int = 1) -> str:
    if estimate.get("mean") is None:
        return "-"
    if percent:
        return f"{pct(estimate['mean'], digits)} [{pct(estimate['lo'], digits)}, {pct(estimate['hi'], digits)}]"
    return f"{estimate['mean']:.{digits}f} [{estimate['lo']:.{digits}f}, {estimate['hi']:.{digits}f}]"


def verdict(analysis: Mapping[str, Any], n_trials: int) -> str:
    """A plain sentence on whether the filter space needed about 10 fewer trials than the latent one."""
    diff = analysis.get("difference")
    if diff is None or None in (diff["mean"], diff["lo"], diff["hi"]):
        return "No trials-to-target difference could be computed (a space has no completed trial)."
    a, b = diff["space_a"], diff["space_b"]
    numbers = f"{a} - {b} = {diff['mean']:+.1f} trials, 95% CI [{diff['lo']:+.1f}, {diff['hi']:+.1f}]"
    if b == "filter" and diff["lo"] > 0:
        if diff["mean"] >= 0.75 * PAPER_TRIALS_SAVED:
            return (
                f"Yes, on this run: the filter space reached the target in fewer trials ({numbers}), "
                f"about as many as the paper's ~{PAPER_TRIALS_SAVED:.0f}."
            )
        return (
            f"Partly: the filter space reached the target in fewer trials ({numbers}), but fewer than the "
            f"paper's ~{PAPER_TRIALS_SAVED:.0f}."
        )
    if b == "filter" and diff["hi"] < 0:
        return f"No, the opposite: the latent space reached the target in fewer trials ({numbers})."
    ceiling = (
        f" With {n_trials} trials per study the difference cannot exceed {n_trials}, so a ~10-trial gain"
        " would need nearly every latent study to miss the target."
        if n_trials < 2 * PAPER_TRIALS_SAVED
        else ""
    )
    return f"Not shown: the interval of the difference contains 0 ({numbers}).{ceiling}"


def _best_so_far_table(analysis: Mapping[str, Any], spaces: Sequence[str]) -> list[str]:
    by_name = {s["name"]: s for s in analysis["spaces"]}
    length = max(len(by_name[s]["best_so_far_mean"]) for s in spaces if s in by_name)
    lines = ["| trial | " + " | ".join(f"{s}: mean [95% CI]" for s in spaces) + " |"]
    lines.append("|---:|" + "---|" * len(spaces))
    for i in range(length):
        cells = []
        for s in spaces:
            space = by_name.get(s)
            if space is None or i >= len(space["best_so_far_mean"]):
                cells.append("-")
                continue
            estimate = {k: space[f"best_so_far_{k}"][i] for k in ("mean", "lo", "hi")}
            cells.append(_ci(estimate))
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return lines


def _tolerance_table(sensitivity: Sequence[Mapping[str, Any]]) -> list[str]:
    if not sensitivity:
        return ["(not computed: a space has no completed trial)"]
    first = sensitivity[0]
    a, b = first["space_a"], first["space_b"]
    lines = [
        f"| tolerance | target | {a}: mean trials (reached) | {b}: mean trials (reached) | {a} - {b} [95% CI] |"
        " share of draws > 0 |",
        "|---:|---:|---:|---:|---|---:|",
    ]
    for row in sensitivity:
        lines.append(
            f"| {row['tolerance']:.3f} | {pct(row['target'])} | {row['mean_trials_a']:.1f} ({row['n_reached_a']}) "
            f"| {row['mean_trials_b']:.1f} ({row['n_reached_b']}) | {row['difference']:+.1f} "
            f"[{row['lo']:+.1f}, {row['hi']:+.1f}] | {row['fraction_positive']:.2f} |"
        )
    return lines


def report_markdown(summary: Mapping[str, Any], header: Mapping[str, str]) -> str:
    """The markdown report of the experiment: header, verdict, tables and controls."""
    view = summary["view"]
    analysis = view["analysis"]
    spaces = list(view["spaces"])
    n_trials = int(view["n_trials"])
    reduced = (view["replicates"], n_trials, view["epochs"]) != tuple(FULL_RUN.values())
    lines = [
        "# Figure 8 on FSDD: latent-weight space against filter space" + (" (REDUCED run)" if reduced else ""),
        "",
        *(f"- **{key}**: {value}" for key, value in header.items()),
        "",
    ]
    if analysis is None:
        return "\n".join([*lines, "No trial completed: nothing to analyse.", ""])
    lines += [
        "## Does the paper's finding hold?",
        "",
        verdict(analysis, n_trials),
        "",
        *_in_short(summary, spaces, analysis),
    ]
    if reduced:
        lines += [
            f"This is a reduced run ({view['replicates']} replicates x {n_trials} trials x {view['epochs']} epochs "
            f"instead of {FULL_RUN['replicates']} x {FULL_RUN['trials']} x {FULL_RUN['epochs']}); its intervals are "
            "wide and its trial budget caps the trials-to-target difference. It is evidence, not the answer.",
            "",
        ]
    lines += [
        "![Figure 8](figure8.png)",
        "",
        f"## Best validation accuracy so far, per trial index (mean over replicates, {len(spaces)} spaces)",
        "",
        *_best_so_far_table(analysis, spaces),
        "",
        f"## Trials to target (target = best found {pct(analysis['best_objective'])} minus "
        f"{100 * analysis['tolerance']:.1f} points = {pct(analysis['target'])})",
        "",
        "| space | mean trials to target [95% CI] | reached | per replicate (- = never, counted as trials + 1) |",
        "|---|---|---:|---|",
    ]
    for space in analysis["spaces"]:
        per = ", ".join("-" if t is None else str(t) for t in space["trials_to_target"])
        bound = "≥ " if space["n_reached"] < space["n_replicates"] else ""
        lines.append(
            f"| {space['name']} | {bound}{_ci(space['trials_to_target_mean'], percent=False)} "
            f"| {space['n_reached']}/{space['n_replicates']} | {per} |"
        )
    diff = analysis.get("difference")
    if diff is not None and diff["mean"] is not None:
        lines += [
            "",
            f"Difference {diff['space_a']} - {diff['space_b']}: {diff['mean']:+.1f} trials "
            f"[{diff['lo']:+.1f}, {diff['hi']:+.1f}]; share of bootstrap draws above 0: "
            f"{diff['fraction_positive']:.2f}.",
        ]
    lines += [
        "",
        "## Final best validation and test accuracy per space",
        "",
        "Each study's best trial by validation accuracy (the objective); its test accuracy at the same epoch. "
        "Means over replicates with 95% bootstrap intervals.",
        "",
        "| space | best validation [95% CI] | its test accuracy [95% CI] | per replicate (val / test) |",
        "|---|---|---|---|",
    ]
    for space in spaces:
        data = summary["spaces"][space]
        per = ", ".join(f"{pct(r['val'])} / {pct(r['test'])}" for r in data["per_replicate"])
        lines.append(f"| {space} | {_ci(data['best_val'])} | {_ci(data['best_test'])} | {per} |")
    lines += [
        "",
        "## Sensitivity to the target tolerance",
        "",
        *_tolerance_table(summary["sensitivity"]),
        "",
        *_controls(summary, spaces, analysis),
    ]
    return "\n".join(lines) + "\n"


def _in_short(summary: Mapping[str, Any], spaces: Sequence[str], analysis: Mapping[str, Any]) -> list[str]:
    """The verdict read across tolerances, with where a head start comes from and where the spaces end."""
    sensitivity = summary["sensitivity"]
    if not sensitivity or len(spaces) != 2:
        return []
    a, b = sensitivity[0]["space_a"], sensitivity[0]["space_b"]
    excluding = [r for r in sensitivity if r["lo"] > 0 or r["hi"] < 0]
    largest = max(sensitivity, key=lambda r: abs(r["difference"]))
    by_name = {s["name"]: s for s in analysis["spaces"]}
    sobol = {s: summary["spaces"][s]["sobol_spread"] for s in spaces}
    best = {s: summary["spaces"][s]["best_val"] for s in spaces}
    lines = [
        f"- **Across tolerances** ({a} - {b} trials to target): "
        + ", ".join(
            f"{100 * r['tolerance']:.1f} pts: {r['difference']:+.1f} [{r['lo']:+.1f}, {r['hi']:+.1f}]"
            for r in sensitivity
        )
        + f". The interval excludes 0 at {len(excluding)} of {len(sensitivity)} tolerances; the largest difference "
        f"is {largest['difference']:+.1f} trials (tolerance {100 * largest['tolerance']:.1f} pts), against the "
        f"paper's ~{PAPER_TRIALS_SAVED:.0f}.",
    ]
    if all(sobol[s]["mean"] is not None for s in spaces):
        first = {s: by_name[s]["best_so_far_mean"][0] for s in spaces if by_name.get(s, {}).get("best_so_far_mean")}
        lines.append(
            f"- **Random configurations**: {b} {pct(sobol[b]['mean'])} (std {100 * sobol[b]['std']:.1f} pts) against "
            f"{a} {pct(sobol[a]['mean'])} (std {100 * sobol[a]['std']:.1f} pts) over the Sobol points. The space "
            "whose random points are better starts ahead"
            + (f" (mean of the first trial: {b} {pct(first[b])}, {a} {pct(first[a])})" if len(first) == 2 else "")
            + ": a head start from a better-placed, smaller space, which trials-to-target counts as well.",
        )
    if all(best[s]["mean"] is not None for s in spaces):
        lines.append(
            f"- **Where the studies end**: best validation accuracy {a} {_ci(best[a])}, {b} {_ci(best[b])} after "
            f"{summary['view']['n_trials']} trials: "
            + (
                "the same, within the intervals."
                if best[a]["lo"] <= best[b]["hi"] and best[b]["lo"] <= best[a]["hi"]
                else "different: the intervals do not overlap."
            ),
        )
    return [*lines, ""]


def _controls(summary: Mapping[str, Any], spaces: Sequence[str], analysis: Mapping[str, Any]) -> list[str]:
    best = float(analysis["best_objective"])
    noise = math.sqrt(best * (1.0 - best) / VALIDATION_RECORDINGS)
    finals = {s["name"]: s["final_best"]["mean"] for s in analysis["spaces"]}
    gap = abs(finals[spaces[0]] - finals[spaces[1]]) if len(spaces) == 2 and None not in finals.values() else None
    lines = [
        "## Controls",
        "",
        f"### Spread of random configurations (the first {N_INITIAL} completed trials of every study are Sobol points)",
        "",
        "| space | n | mean | std | min | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for space in spaces:
        s = summary["spaces"][space]["sobol_spread"]
        std = "-" if s["std"] is None else f"{100 * s['std']:.1f} pts"
        lines.append(f"| {space} | {s['n']} | {pct(s['mean'])} | {std} | {pct(s['min'])} | {pct(s['max'])} |")
    spreads = [
        f"{space} {summary['spaces'][space]['sobol_spread']['std'] / noise:.1f}x"
        for space in spaces
        if summary["spaces"][space]["sobol_spread"]["std"] is not None
    ]
    if spreads:
        lines += [
            "",
            "Standard deviation of the random configurations in units of one evaluation's noise (below): "
            + ", ".join(spreads)
            + ". At or below 1x, ranking random configurations by validation accuracy is mostly ranking noise.",
        ]
    lines += [
        "",
        "### Validation noise",
        "",
        f"With {VALIDATION_RECORDINGS} validation recordings, one accuracy near the best ({pct(best)}) has a "
        f"binomial standard error of {100 * noise:.1f} points (95%: +-{196 * noise:.1f}). "
        + (
            f"The two spaces' mean final best differ by {100 * gap:.1f} points, "
            + ("less than" if gap < noise else "more than")
            + " one standard error of a single evaluation. "
            if gap is not None
            else ""
        )
        + f"The target tolerance ({100 * float(analysis['tolerance']):.1f} points) is "
        + ("below" if analysis["tolerance"] < noise else "above")
        + " that noise: the trial that first comes within it is partly the one with the luckiest evaluation, "
        "and a best-so-far curve only goes up, so noise makes late maxima of many draws look like progress. "
        "The tolerance table above shows how much the trials-to-target answer moves with the tolerance.",
        "",
    ]
    return lines + _frozen_lines(summary, spaces, noise)


def _frozen_lines(summary: Mapping[str, Any], spaces: Sequence[str], noise: float) -> list[str]:
    frozen = summary.get("frozen")
    lines = ["", "### Frozen-weights control (binary weights frozen at random init)", ""]
    if not frozen or not frozen["val"]["n"]:
        return [*lines, "Not run (`--frozen-seeds 0`)."]
    val, test = frozen["val"], frozen["test"]
    lines += [
        "The same net trained with `bnn-tune train --optimizer frozen`: only the real-valued first layer, classifier "
        "and batch norm learn (Adam); every binary weight keeps the sign it was initialized with. "
        f"{val['n']} seeds ({', '.join(str(r['seed']) for r in frozen['runs'])}), same epochs and data.",
        "",
        "| | n | validation mean (min, max) | test mean (min, max) |",
        "|---|---:|---|---|",
        f"| frozen binary weights | {val['n']} | {pct(val['mean'])} ({pct(val['min'])}, {pct(val['max'])}) "
        f"| {pct(test['mean'])} ({pct(test['min'])}, {pct(test['max'])}) |",
    ]
    for space in spaces:
        data = summary["spaces"][space]
        sobol = data["sobol_spread"]
        lines.append(
            f"| {space}: random configurations (Sobol) | {sobol['n']} | {pct(sobol['mean'])} "
            f"({pct(sobol['min'])}, {pct(sobol['max'])}) | - |"
        )
        lines.append(
            f"| {space}: best per study (tuned) | {data['best_val']['n']} | {_ci(data['best_val'])} | "
            f"{_ci(data['best_test'])} |"
        )
    tuned = [summary["spaces"][s]["best_val"]["mean"] for s in spaces if summary["spaces"][s]["best_val"]["mean"]]
    if tuned and val["mean"] is not None:
        gap = min(tuned) - val["mean"]
        clearly = "clearly" if gap > 3 * noise else "NOT clearly"
        lines += [
            "",
            f"The tuned nets are {clearly} above the frozen control: the weaker space's mean best validation accuracy "
            f"is {100 * gap:+.1f} points above the frozen mean, {gap / noise:.1f}x one evaluation's standard error "
            f"({100 * noise:.1f} points). The BNN optimizer and its hyperparameters therefore "
            + ("do" if gap > 3 * noise else "may not")
            + " decide the result in this experiment.",
        ]
    return lines


def frozen_control(run: argparse.Namespace) -> list[Run]:
    """The frozen-binary-weights control: ``bnn-tune train --optimizer frozen``, one run per seed."""
    flags = [
        {"task": "audio", "optimizer": "frozen", "epochs": run.epochs, "seed": seed, "max_train": run.max_train}
        for seed in range(run.frozen_seeds)
    ]
    return train_all(flags, label="frozen control")


FROZEN_COLUMNS = ("val_accuracy", "test_accuracy", "best_val_accuracy", "train_accuracy", "total_seconds")


def frozen_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per frozen-control run: its seed and last-epoch metrics (the columns of ``frozen.csv``)."""
    return [{"seed": r.flags["seed"], **{k: r.result[k] for k in FROZEN_COLUMNS}} for r in runs]


def stored_frozen_rows(path: Path, seeds: int) -> list[dict[str, Any]] | None:
    """The rows of a ``frozen.csv`` an earlier run of this script wrote, if they are exactly seeds 0..seeds-1 with
    every column; else None (train the control)."""
    if seeds == 0 or not path.is_file():
        return None
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if [row.get("seed") for row in rows] != [str(seed) for seed in range(seeds)]:
        return None
    try:
        return [{"seed": int(row["seed"]), **{k: float(row[k]) for k in FROZEN_COLUMNS}} for row in rows]
    except (KeyError, TypeError, ValueError):
        return None


def frozen_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The frozen control's rows (see :func:`frozen_rows`) and the spread of their accuracies."""
    return {
        "runs": rows,
        "val": _spread([float(r["val_accuracy"]) for r in rows]),
        "test": _spread([float(r["test_accuracy"]) for r in rows]),
    }


def write_outputs(
    storage: Storage,
    comparison_id: int,
    out: Path,
    header: dict[str, str],
    frozen: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Write the report, the figure, the CSV files and summary.json for a stored comparison; return the summary.

    ``frozen``: the frozen control's rows (:func:`frozen_rows`).
    """
    summary = summarize(storage, comparison_id)
    summary["frozen"] = frozen_summary(list(frozen))
    write_csv(out / "frozen.csv", summary["frozen"]["runs"])
    view = summary["view"]
    if summary["run_seconds"] is not None:
        header.setdefault("wall time of the run", f"{summary['run_seconds'] / 60:.1f} min (stored timestamps)")
    for fmt in FORMATS:
        (out / f"figure8.{fmt}").write_bytes(render(view, fmt))
    studies = storage.comparison_studies(comparison_id)
    write_trials_csv(out / "trials.csv", storage, studies)
    (out / "curves.csv").write_text(studies_csv(storage, studies))
    with (out / "tolerance.csv").open("w", newline="") as handle:
        columns = list(summary["sensitivity"][0]) if summary["sensitivity"] else ["tolerance"]
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(summary["sensitivity"])
    (out / "report.md").write_text(report_markdown(summary, header))
    (out / "summary.json").write_text(json.dumps({"header": header, **summary}, indent=1, default=str) + "\n")
    return summary


def _script_command(args: argparse.Namespace) -> list[str]:
    """The command line of this script that reruns the comparison described by ``args``."""
    command = ["python", "experiments/figure8.py"]
    for name in ("replicates", "trials", "epochs", "seed", "max_train"):
        if getattr(args, name) is not None:
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.executor != "ray":
        command += ["--executor", args.executor]
    if args.batch_trials:
        command.append("--batch-trials")
    if args.suggestion_workers is not None:
        command += ["--suggestion-workers", str(args.suggestion_workers)]
    out = args.out.resolve()
    if out != DEFAULT_OUT:
        command += ["--out", str(out.relative_to(REPOSITORY) if out.is_relative_to(REPOSITORY) else out)]
    return command


def _stored_run(args: argparse.Namespace, storage: Storage, comparison_id: int) -> argparse.Namespace:
    """``args`` with the sizes and seed the stored comparison was actually run with."""
    record = storage.get_comparison(comparison_id)
    return argparse.Namespace(
        **{
            **vars(args),
            "replicates": record.replicates,
            "trials": record.n_trials,
            "epochs": record.epochs,
            "seed": record.seed,
            "max_train": record.settings.get("max_train"),
            "frozen_seeds": args.frozen_seeds,
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison (unless ``--comparison`` names a stored one) and write every output."""
    args = parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{out / 'figure8.db'}"
    started = time.monotonic()
    comparison_id = args.comparison
    if comparison_id is None:
        comparison_id = run_comparison(compare_command(args), database_url)
    script_seconds = time.monotonic() - started
    try:
        storage = Storage(database_url)
    except InvalidInputError as exc:
        raise GiveUpError(f"cannot open {database_url}: {exc}") from exc
    try:
        run = _stored_run(args, storage, comparison_id)
        full = argparse.Namespace(**{**vars(run), **FULL_RUN, "max_train": None})
        shown_url = database_url.replace(str(REPOSITORY) + "/", "")
        header = {
            "machine": machine(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "seed": str(run.seed),
            "command": f"`{shlex.join(_script_command(run))}`, which runs "
            f"`BNN_TUNE_DATABASE_URL={shown_url} {shlex.join(compare_command(run))}`",
            "full run": f"`{shlex.join(_script_command(full))}`",
            "model": "AudioFC, width 64 (the default; `bnn-tune compare` has no width option)",
            "objective": "validation accuracy at the last epoch; test accuracy reported, never optimized",
            "database": f"`{(out / 'figure8.db').name}` (SQLite, comparison {comparison_id})",
        }
        if args.comparison is None:
            header["wall time of the script"] = f"{script_seconds / 60:.1f} min"
        # Rewriting a stored comparison's outputs keeps the frozen control this folder already holds for it.
        frozen = stored_frozen_rows(out / "frozen.csv", run.frozen_seeds) if args.comparison is not None else None
        if frozen is None:
            frozen = frozen_rows(frozen_control(run))
        summary = write_outputs(storage, comparison_id, out, header, frozen)
    finally:
        storage.close()
    analysis = summary["view"]["analysis"]
    print(verdict(analysis, int(summary["view"]["n_trials"])) if analysis else "no trial completed")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    run_main(main)
