"""The paper's Figure 8 drawn from a stored comparison: best-so-far validation accuracy against the trial index.

Each replicate study's best-so-far curve is drawn faintly; over them, per search space, the mean over
replicates with its bootstrap confidence band, and on the target line each space's mean trials-to-target with
its interval. The input is :func:`tuner.analysis.reports.comparison_view`, so the figure shows exactly the numbers the
JSON API reports. Figures are built on matplotlib's Agg canvas without pyplot, so rendering keeps no global
figure state and may run in a server's worker threads.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bnn_errors import InvalidInputError

__all__ = ["FORMATS", "figure8", "objective_label", "render", "space_colors"]

FigureFormat = Literal["png", "svg"]
FORMATS: tuple[FigureFormat, ...] = ("png", "svg")
MEDIA_TYPES: dict[FigureFormat, str] = {"png": "image/png", "svg": "image/svg+xml"}

# The paper's two spaces keep their colours whatever order a comparison lists them in; others take the rest.
_FIXED_COLORS = {"latent": "#1f77b4", "filter": "#d62728"}
_OTHER_COLORS = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")

_OBJECTIVE_LABELS = {
    "val_accuracy_last": "validation accuracy (last epoch)",
    "val_accuracy_best": "validation accuracy (best epoch)",
}

# savefig reads its SVG options from the process-wide rcParams; the lock keeps concurrent renders from
# seeing each other's temporary settings.
_RENDER_LOCK = threading.Lock()


def space_colors(spaces: Iterable[str]) -> dict[str, str]:
    """A colour (``#rrggbb``) per search space: fixed ones for latent and filter, a cycle for the rest."""
    colors: dict[str, str] = {}
    others = 0
    for space in spaces:
        if space in _FIXED_COLORS:
            colors[space] = _FIXED_COLORS[space]
        else:
            colors[space] = _OTHER_COLORS[others % len(_OTHER_COLORS)]
            others += 1
    return colors


def objective_label(objective: str) -> str:
    """Words for a study objective's name (``val_accuracy_last`` -> validation accuracy (last epoch))."""
    return _OBJECTIVE_LABELS.get(objective, objective.replace("_", " "))


def figure8(view: Mapping[str, Any]) -> Figure:
    """Figure 8 of a comparison: best-so-far per trial, faint replicates, mean and CI band per space.

    Args:
        view: a comparison as :func:`tuner.analysis.reports.comparison_view` gives it. Before any trial has completed
            the figure is still drawn, with its axes and a note saying there is nothing to plot yet.
    """
    figure = Figure(figsize=(8.0, 5.2), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    spaces = [str(arm) for arm in view["arms"]]
    colors = space_colors(spaces)
    analysis: Mapping[str, Any] | None = view.get("analysis")
    n_trials = int(view["n_trials"])
    drawn = _draw_replicates(ax, view["studies"], colors)
    censored = False
    if analysis is not None:
        _draw_means(ax, analysis, colors)
        censored = _draw_targets(ax, analysis, colors, n_trials)
    ax.set_xlim(0.5, n_trials + (1.5 if censored else 0.5))
    _label(ax, view, analysis, drawn)
    return figure


def render(view: Mapping[str, Any], fmt: str) -> bytes:
    """The bytes of :func:`figure8` as a PNG or SVG file.

    Raises:
        InvalidInputError: ``fmt`` is neither ``"png"`` nor ``"svg"``.
    """
    if fmt not in FORMATS:
        raise InvalidInputError(f"figure format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    figure = figure8(view)
    buffer = io.BytesIO()
    # Dates and software versions in the metadata would make equal figures differ byte for byte.
    metadata = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
    # SVG text stays text (searchable, readable by screen readers); a fixed salt gives stable element ids.
    with _RENDER_LOCK, matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bnn-tune-figure8"}):
        figure.savefig(buffer, format=fmt, dpi=110, metadata=metadata)
    return buffer.getvalue()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _with_nan(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _draw_replicates(ax: Axes, studies: Sequence[Mapping[str, Any]], colors: Mapping[str, str]) -> int:
    """Each replicate's best-so-far curve, faint; returns how many curves have at least one value."""
    drawn = 0
    for study in studies:
        curve = _with_nan(study["best_so_far"])
        if not any(math.isfinite(v) for v in curve):
            continue
        drawn += 1
        trials = range(1, len(curve) + 1)
        ax.plot(
            trials,
            curve,
            color=colors.get(study["arm"], "0.5"),
            alpha=0.22,
            linewidth=0.8,
            marker="o",
            markersize=2.5,
            zorder=1,
            gid=f"replicate-study-{study['id']}",
        )
    return drawn


def _draw_means(ax: Axes, analysis: Mapping[str, Any], colors: Mapping[str, str]) -> None:
    percent = round(100 * float(analysis["confidence"]))
    for space in analysis["spaces"]:
        name = space["name"]
        mean = _with_nan(space["best_so_far_mean"])
        trials = range(1, len(mean) + 1)
        color = colors.get(name, "0.3")
        ax.fill_between(
            trials,
            _with_nan(space["best_so_far_lo"]),
            _with_nan(space["best_so_far_hi"]),
            color=color,
            alpha=0.18,
            linewidth=0,
            zorder=2,
        )
        ax.plot(
            trials,
            mean,
            color=color,
            linewidth=2.2,
            zorder=3,
            label=f"{name}: mean of {space['n_replicates']} replicates, {percent}% CI band",
        )


def _draw_targets(ax: Axes, analysis: Mapping[str, Any], colors: Mapping[str, str], n_trials: int) -> bool:
    """The target line and, on it, each space's mean trials-to-target with its interval.

    Returns whether some replicate never reached the target (its column, n_trials + 1, is then drawn).
    """
    target = float(analysis["target"])
    tolerance_points = 100 * float(analysis["tolerance"])
    ax.axhline(
        target,
        color="0.35",
        linestyle="--",
        linewidth=0.9,
        zorder=2,
        label=f"target {target:.1%}: best found {float(analysis['best_objective']):.1%} "
        f"minus {tolerance_points:.1f} points",
    )
    low, high = ax.get_ylim()
    step = 0.025 * (high - low)  # spaces side by side would hide each other's marks on the one line
    censored_any = any(space["n_reached"] < space["n_replicates"] for space in analysis["spaces"])
    if censored_any:
        # A replicate that never reached the target counts as its trials + 1: that column is set apart.
        ax.axvspan(n_trials + 0.5, n_trials + 1.5, color="0.5", alpha=0.08, linewidth=0, zorder=0)
        ax.text(
            n_trials + 1.0,
            0.5,
            f"not reached: counted as {n_trials + 1}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="center",
            va="center",
            fontsize=8,
            color="0.4",
        )
    for index, space in enumerate(analysis["spaces"]):
        estimate = space["trials_to_target_mean"]
        mean, lo, hi = estimate["mean"], estimate["lo"], estimate["hi"]
        if mean is None:
            continue
        censored = space["n_reached"] < space["n_replicates"]
        bound = "≥ " if censored else ""
        interval = "" if lo is None or hi is None else f" [{lo:.1f}, {hi:.1f}]"
        ax.errorbar(
            [mean],
            [target + step * (index + 1)],
            xerr=None if lo is None or hi is None else [[mean - lo], [hi - mean]],
            fmt="D",
            color=colors.get(space["name"], "0.3"),
            markersize=6,
            capsize=4,
            zorder=4,
            label=f"{space['name']}: trials to target {bound}{mean:.1f}{interval} "
            f"({space['n_reached']}/{space['n_replicates']} reached)",
        )
    return censored_any


def _label(ax: Axes, view: Mapping[str, Any], analysis: Mapping[str, Any] | None, drawn: int) -> None:
    settings = view.get("settings") or {}
    objective = objective_label(str(settings.get("objective", "val_accuracy_last")))
    ax.set_xlabel("trials run (Bayesian-optimization iterations)")
    ax.set_ylabel(f"best {objective} so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.grid(alpha=0.3, linewidth=0.6)
    title = (
        f"Figure 8, {view['task']}: {_count(view['replicates'], 'replicate')} x {_count(view['n_trials'], 'trial')} "
        f"per space ({_count(view['epochs'], 'epoch')} per trial)"
    )
    done, total = int(view["trials_done"]), int(view["trials_total"])
    if done < total:
        title += f"\n{view['state']}: {done} of {total} trials done"
    ax.set_title(title, fontsize=10.5)
    if analysis is None:
        note = (
            "No completed trial yet: nothing to plot."
            if drawn == 0
            else "No mean curves yet: every search space needs a completed trial."
        )
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=11, color="0.3")
        if drawn == 0:
            ax.set_ylim(0.0, 1.0)
        return
    difference = analysis.get("difference")
    if difference is not None and None not in (difference["mean"], difference["lo"], difference["hi"]):
        percent = round(100 * float(analysis["confidence"]))
        ax.text(
            0.99,
            0.02,
            f"trials to target, {difference['space_a']} - {difference['space_b']}: {difference['mean']:+.1f} "
            f"[{difference['lo']:+.1f}, {difference['hi']:+.1f}] ({percent}% CI)",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8.5,
            bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9},
        )
    ax.legend(loc="lower right", fontsize=8, bbox_to_anchor=(1.0, 0.08), framealpha=0.9)
