"""The Figure 8 report in words: a markdown page from a :class:`tuner.analysis.figure8.Figure8Summary`.

The page answers the paper's question (does the filter space reach a good network about 10 trials sooner?) with the
summary's numbers: the verdict, the best-so-far and trials-to-target tables, the final best accuracies, the
tolerance sensitivity, and the controls (spread of random configurations, validation noise, frozen binary weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tuner.analysis.figure8 import (
    PAPER_TRIALS_SAVED,
    Figure8Summary,
    MeanEstimate,
    ToleranceRow,
    Verdict,
    validation_noise,
    validation_recordings,
    verdict,
)
from tuner.analysis.reports import AnalysisReport, EstimateReport

__all__ = ["FULL_RUN", "report_markdown", "verdict_sentence"]

# The sizes of the full run in docs/results/figure8; a report of any other size is marked REDUCED.
FULL_RUN: Mapping[str, int] = {"replicates": 20, "trials": 25, "epochs": 20}


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def _pts(value: float | None) -> str:
    """A difference of accuracies in points (``0.031`` -> ``3.1``)."""
    return "-" if value is None else f"{100 * value:.1f}"


def _ci(estimate: MeanEstimate | EstimateReport, *, percent: bool = True, digits: int = 1) -> str:
    return _interval(estimate.mean, estimate.lo, estimate.hi, percent=percent, digits=digits)


def _interval(mean: float | None, lo: float | None, hi: float | None, *, percent: bool = True, digits: int = 1) -> str:
    if mean is None:
        return "-"
    if percent:
        return f"{_pct(mean, digits)} [{_pct(lo, digits)}, {_pct(hi, digits)}]"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def verdict_sentence(analysis: AnalysisReport, n_trials: int) -> str:
    """A plain sentence on whether the filter space needed about 10 fewer trials than the latent one."""
    reading = verdict(analysis.difference)
    diff = analysis.difference
    if reading is Verdict.UNKNOWN or diff is None:
        return "No trials-to-target difference could be computed (a space has no completed trial)."
    numbers = f"{diff.space_a} - {diff.space_b} = {diff.mean:+.1f} trials, 95% CI [{diff.lo:+.1f}, {diff.hi:+.1f}]"
    if reading is Verdict.YES:
        return (
            f"Yes, on this run: the filter space reached the target in fewer trials ({numbers}), "
            f"about as many as the paper's ~{PAPER_TRIALS_SAVED:.0f}."
        )
    if reading is Verdict.PARTLY:
        return (
            f"Partly: the filter space reached the target in fewer trials ({numbers}), but fewer than the "
            f"paper's ~{PAPER_TRIALS_SAVED:.0f}."
        )
    if reading is Verdict.OPPOSITE:
        return f"No, the opposite: the latent space reached the target in fewer trials ({numbers})."
    ceiling = (
        f" With {n_trials} trials per study the difference cannot exceed {n_trials}, so a ~10-trial gain"
        " would need nearly every latent study to miss the target."
        if n_trials < 2 * PAPER_TRIALS_SAVED
        else ""
    )
    return f"Not shown: the interval of the difference contains 0 ({numbers}).{ceiling}"


def report_markdown(summary: Figure8Summary, header: Mapping[str, str]) -> str:
    """The markdown report of the experiment: header, verdict, tables and controls."""
    view = summary.view
    analysis = view.analysis
    spaces = list(view.arms)
    n_trials = view.n_trials
    reduced = (view.replicates, n_trials, view.epochs) != tuple(FULL_RUN.values())
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
        verdict_sentence(analysis, n_trials),
        "",
        *_in_short(summary, spaces, analysis),
    ]
    if reduced:
        lines += [
            f"This is a reduced run ({view.replicates} replicates x {n_trials} trials x {view.epochs} epochs "
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
        f"## Trials to target (target = best found {_pct(analysis.best_objective)} minus "
        f"{100 * analysis.tolerance:.1f} points = {_pct(analysis.target)})",
        "",
        "| space | mean trials to target [95% CI] | reached | per replicate (- = never, counted as trials + 1) |",
        "|---|---|---:|---|",
    ]
    for space in analysis.spaces:
        per = ", ".join("-" if t is None else str(t) for t in space.trials_to_target)
        bound = "≥ " if space.n_reached < space.n_replicates else ""
        lines.append(
            f"| {space.name} | {bound}{_ci(space.trials_to_target_mean, percent=False)} "
            f"| {space.n_reached}/{space.n_replicates} | {per} |"
        )
    diff = analysis.difference
    if diff is not None and diff.mean is not None:
        lines += [
            "",
            f"Difference {diff.space_a} - {diff.space_b}: {diff.mean:+.1f} trials "
            f"[{diff.lo:+.1f}, {diff.hi:+.1f}]; share of bootstrap draws above 0: "
            f"{diff.fraction_positive:.2f}.",
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
    for name in spaces:
        data = summary.space(name)
        per = ", ".join(f"{_pct(r.best_val)} / {_pct(r.best_test)}" for r in data.studies)
        lines.append(f"| {name} | {_ci(data.best_val)} | {_ci(data.best_test)} | {per} |")
    lines += [
        "",
        "## Sensitivity to the target tolerance",
        "",
        *_tolerance_table(summary.sensitivity),
        "",
        *_controls(summary, spaces, analysis),
    ]
    return "\n".join(lines) + "\n"


def _best_so_far_table(analysis: AnalysisReport, spaces: Sequence[str]) -> list[str]:
    by_name = {s.name: s for s in analysis.spaces}
    length = max(len(by_name[s].best_so_far_mean) for s in spaces if s in by_name)
    lines = ["| trial | " + " | ".join(f"{s}: mean [95% CI]" for s in spaces) + " |"]
    lines.append("|---:|" + "---|" * len(spaces))
    for i in range(length):
        cells = []
        for s in spaces:
            space = by_name.get(s)
            if space is None or i >= len(space.best_so_far_mean):
                cells.append("-")
                continue
            cells.append(_interval(space.best_so_far_mean[i], space.best_so_far_lo[i], space.best_so_far_hi[i]))
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return lines


def _tolerance_table(sensitivity: Sequence[ToleranceRow]) -> list[str]:
    if not sensitivity:
        return ["(not computed: a space has no completed trial)"]
    a, b = sensitivity[0].space_a, sensitivity[0].space_b
    lines = [
        f"| tolerance | target | {a}: mean trials (reached) | {b}: mean trials (reached) | {a} - {b} [95% CI] |"
        " share of draws > 0 |",
        "|---:|---:|---:|---:|---|---:|",
    ]
    for row in sensitivity:
        lines.append(
            f"| {row.tolerance:.3f} | {_pct(row.target)} | {row.mean_trials_a:.1f} ({row.n_reached_a}) "
            f"| {row.mean_trials_b:.1f} ({row.n_reached_b}) | {row.difference:+.1f} "
            f"[{row.lo:+.1f}, {row.hi:+.1f}] | {row.fraction_positive:.2f} |"
        )
    return lines


def _in_short(summary: Figure8Summary, spaces: Sequence[str], analysis: AnalysisReport) -> list[str]:
    """The verdict read across tolerances, with where a head start comes from and where the spaces end."""
    sensitivity = summary.sensitivity
    if not sensitivity or len(spaces) != 2:
        return []
    a, b = sensitivity[0].space_a, sensitivity[0].space_b
    excluding = [r for r in sensitivity if r.excludes_zero]
    largest = max(sensitivity, key=lambda r: abs(r.difference))
    by_name = {s.name: s for s in analysis.spaces}
    sobol = {s: summary.space(s).sobol_spread for s in spaces}
    best = {s: summary.space(s).best_val for s in spaces}
    lines = [
        f"- **Across tolerances** ({a} - {b} trials to target): "
        + ", ".join(f"{100 * r.tolerance:.1f} pts: {r.difference:+.1f} [{r.lo:+.1f}, {r.hi:+.1f}]" for r in sensitivity)
        + f". The interval excludes 0 at {len(excluding)} of {len(sensitivity)} tolerances; the largest difference "
        f"is {largest.difference:+.1f} trials (tolerance {100 * largest.tolerance:.1f} pts), against the "
        f"paper's ~{PAPER_TRIALS_SAVED:.0f}.",
    ]
    if all(sobol[s].mean is not None for s in spaces):
        first = {s: by_name[s].best_so_far_mean[0] for s in spaces if s in by_name and by_name[s].best_so_far_mean}
        lines.append(
            f"- **Random configurations**: {b} {_pct(sobol[b].mean)} (std {_pts(sobol[b].std)} pts) against "
            f"{a} {_pct(sobol[a].mean)} (std {_pts(sobol[a].std)} pts) over the Sobol points. The space "
            "whose random points are better starts ahead"
            + (f" (mean of the first trial: {b} {_pct(first[b])}, {a} {_pct(first[a])})" if len(first) == 2 else "")
            + ": a head start from a better-placed, smaller space, which trials-to-target counts as well.",
        )
    if all(best[s].mean is not None for s in spaces):
        lines.append(
            f"- **Where the studies end**: best validation accuracy {a} {_ci(best[a])}, {b} {_ci(best[b])} after "
            f"{summary.view.n_trials} trials: "
            + (
                "the same, within the intervals."
                if best[a].overlaps(best[b])
                else "different: the intervals do not overlap."
            ),
        )
    return [*lines, ""]


def _controls(summary: Figure8Summary, spaces: Sequence[str], analysis: AnalysisReport) -> list[str]:
    best = analysis.best_objective
    noise = validation_noise(best, summary.view.folds)
    finals = {s.name: s.final_best.mean for s in analysis.spaces}
    gap = None
    if len(spaces) == 2:
        first, second = finals.get(spaces[0]), finals.get(spaces[1])
        gap = abs(first - second) if first is not None and second is not None else None
    lines = [
        "## Controls",
        "",
        f"### Spread of random configurations (the first {summary.n_initial} completed trials of every study are "
        "Sobol points)",
        "",
        "| space | n | mean | std | min | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for space in spaces:
        s = summary.space(space).sobol_spread
        shown = "-" if s.std is None else f"{_pts(s.std)} pts"
        lines.append(f"| {space} | {s.n} | {_pct(s.mean)} | {shown} | {_pct(s.min)} | {_pct(s.max)} |")
    stds = {space: summary.space(space).sobol_spread.std for space in spaces}
    spreads = [f"{space} {std / noise:.1f}x" for space, std in stds.items() if std is not None]
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
        f"With {validation_recordings(summary.view.folds)} validation recordings per trial, an accuracy near the best "
        f"({_pct(best)}) has a binomial standard error of {100 * noise:.1f} points (95%: +-{196 * noise:.1f}). "
        + (
            f"The two spaces' mean final best differ by {100 * gap:.1f} points, "
            + ("less than" if gap < noise else "more than")
            + " one standard error of a single evaluation. "
            if gap is not None
            else ""
        )
        + f"The target tolerance ({100 * analysis.tolerance:.1f} points) is "
        + (
            "below that noise: the trial that first comes within it is partly the one with the luckiest evaluation. "
            if analysis.tolerance < noise
            else "above that evaluation noise (training noise comes on top; see the objective's measured noise). "
        )
        + "A best-so-far curve only goes up, so noise makes late maxima of many draws look like progress. "
        "The tolerance table above shows how much the trials-to-target answer moves with the tolerance.",
        "",
    ]
    return lines + _frozen_lines(summary, spaces, noise)


def _frozen_lines(summary: Figure8Summary, spaces: Sequence[str], noise: float) -> list[str]:
    frozen = summary.frozen
    lines = ["", "### Frozen-weights control (binary weights frozen at random init)", ""]
    if not frozen.val.n:
        return [*lines, "Not run (`--frozen-seeds 0`)."]
    val, test = frozen.val, frozen.test
    lines += [
        "The same net trained with `bnn-tune train --optimizer frozen`: only the real-valued first layer, classifier "
        "and batch norm learn (Adam); every binary weight keeps the sign it was initialized with. "
        f"{val.n} seeds ({', '.join(str(r.seed) for r in frozen.runs)}), same epochs and data.",
        "",
        "| | n | validation mean (min, max) | test mean (min, max) |",
        "|---|---:|---|---|",
        f"| frozen binary weights | {val.n} | {_pct(val.mean)} ({_pct(val.min)}, {_pct(val.max)}) "
        f"| {_pct(test.mean)} ({_pct(test.min)}, {_pct(test.max)}) |",
    ]
    for space in spaces:
        data = summary.space(space)
        sobol = data.sobol_spread
        lines.append(
            f"| {space}: random configurations (Sobol) | {sobol.n} | {_pct(sobol.mean)} "
            f"({_pct(sobol.min)}, {_pct(sobol.max)}) | - |"
        )
        lines.append(
            f"| {space}: best per study (tuned) | {data.best_val.n} | {_ci(data.best_val)} | {_ci(data.best_test)} |"
        )
    tuned = [mean for s in spaces if (mean := summary.space(s).best_val.mean) is not None]
    if tuned and val.mean is not None:
        gap = min(tuned) - val.mean
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
