"""Figure 8 as a reviewer would read it: paired differences at fixed targets, the horizontal reading, and the
chosen configurations' test accuracy.

Replicate r of every arm shares its seed, so arms are compared pair by pair (:mod:`tuner.analysis.paired`). The
targets are the comparison's own, fixed before the run (``ComparisonConfig.targets``), and Holm-corrected across
them; the horizontal reading asks how many trials the latent-type arm needs to match what the filter arm had after k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bnn_errors import InvalidInputError
from tuner.analysis.figure8 import StudyResult
from tuner.analysis.meta import ValidationTest, validation_test
from tuner.analysis.paired import FixedTargetRow, HorizontalRow, fixed_target_table, horizontal
from tuner.analysis.reports import objective_sequence
from tuner.storage import Storage

__all__ = ["ArmPair", "PairedFigure8", "arm_pairs", "curves_by_arm", "paired_figure8", "paired_markdown"]

Curves = list[list[float | None]]

# Which arm each question compares with which, the first minus the second in trials to target.
_QUESTIONS = (
    ("latent", "filter", "the paper's claim: filter needs fewer trials than latent"),
    ("latent_matched", "filter", "the parametrization alone: the same (alpha, gamma) box, two parametrizations"),
    ("latent", "latent_matched", "the box alone: the same parametrization, two boxes"),
    ("filter-random", "filter", "what Bayesian optimization adds in the filter space"),
    ("latent-random", "latent", "what Bayesian optimization adds in the latent space"),
)
HORIZONTAL_KS = (3, 5, 10)


@dataclass(frozen=True)
class ArmPair:
    """One question of the comparison: arm ``a`` minus arm ``b``, at every fixed target, and read horizontally."""

    a: str
    b: str
    question: str
    targets: tuple[FixedTargetRow, ...]
    horizontal: tuple[HorizontalRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the arms, the question, one row per target and one per k."""
        return {
            "arm_a": self.a,
            "arm_b": self.b,
            "question": self.question,
            "targets": [row.to_dict() for row in self.targets],
            "horizontal": {str(row.k): row.to_dict() for row in self.horizontal},
        }


@dataclass(frozen=True)
class PairedFigure8:
    """Every paired number of a Figure 8 comparison, and the test accuracy of each study's chosen configuration."""

    arms: tuple[str, ...]
    targets: tuple[float, ...]
    pairs: tuple[ArmPair, ...]
    validation_test: Mapping[str, ValidationTest]

    def pair(self, a: str, b: str) -> ArmPair | None:
        """The pair ``a`` minus ``b``, if the comparison had both arms."""
        return next((p for p in self.pairs if (p.a, p.b) == (a, b)), None)

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` keys: ``arms``, ``targets``, ``paired_difference`` (the paper's pair, one row per
        target), ``horizontal`` (the paper's pair, by k), ``pairs`` (every question) and ``validation_test``."""
        main = self.pairs[0] if self.pairs else None
        return {
            "arms": list(self.arms),
            "targets": list(self.targets),
            "paired_difference": [] if main is None else main.to_dict()["targets"],
            "horizontal": {} if main is None else main.to_dict()["horizontal"],
            "pairs": [p.to_dict() for p in self.pairs],
            "validation_test": {arm: v.to_dict() for arm, v in self.validation_test.items()},
        }


def curves_by_arm(storage: Storage, comparison_id: int) -> dict[str, Curves]:
    """Each arm's replicate objective sequences, in replicate order (failed trials as None)."""
    arms: dict[str, list[tuple[int, list[float | None]]]] = {}
    for study in storage.comparison_studies(comparison_id):
        arms.setdefault(study.config.arm, []).append(
            (study.replicate or 0, objective_sequence(storage.trials(study.id)))
        )
    return {arm: [seq for _, seq in sorted(rows, key=lambda row: row[0])] for arm, rows in arms.items()}


def arm_pairs(arms: Sequence[str]) -> list[tuple[str, str, str]]:
    """The questions the arms present can answer, in :data:`_QUESTIONS` order."""
    return [(a, b, question) for a, b, question in _QUESTIONS if a in arms and b in arms]


def paired_figure8(
    storage: Storage,
    comparison_id: int,
    studies: Sequence[StudyResult],
    *,
    n_boot: int = 10000,
    seed: int = 0,
) -> PairedFigure8:
    """The paired statistics of a stored comparison; ``studies`` are its studies' best trials (for the test side).

    Raises:
        NotFoundError: no comparison has that id.
    """
    config = storage.get_comparison(comparison_id).config
    curves = curves_by_arm(storage, comparison_id)
    pairs = []
    for a, b, question in arm_pairs(list(curves)):
        targets: list[FixedTargetRow] = []
        if config.targets:
            targets = fixed_target_table(
                curves[a], curves[b], config.targets, n_trials=config.n_trials, n_boot=n_boot, seed=seed
            )
        try:
            # How many more trials a needs to match what b had after k: b is the reference read at k.
            rows = horizontal(
                curves[b], curves[a], [k for k in HORIZONTAL_KS if k <= config.n_trials], n_trials=config.n_trials,
                n_boot=n_boot, seed=seed,
            )  # fmt: skip
        except InvalidInputError:
            rows = []
        pairs.append(ArmPair(a, b, question, tuple(targets), tuple(rows)))
    chosen: dict[str, ValidationTest] = {}
    for arm in curves:
        points = [(s.best_val, s.best_test) for s in studies if s.space == arm]
        known = [(v, t) for v, t in points if v is not None and t is not None]
        if len(known) >= 2:
            chosen[arm] = validation_test(known, n_boot=n_boot, seed=seed)
    return PairedFigure8(
        arms=tuple(config.arms), targets=tuple(config.targets), pairs=tuple(pairs), validation_test=chosen
    )


def _interval(mean: float | None, low: float | None, high: float | None) -> str:
    if mean is None or low is None or high is None:
        return "-"
    return f"{mean:+.1f} [{low:+.1f}, {high:+.1f}]"


def paired_markdown(paired: PairedFigure8) -> str:
    """The report's section on the paired statistics (tables; every number from :class:`PairedFigure8`)."""
    lines = [
        "## Paired statistics",
        "",
        "Replicate r of every arm trains with the same seeds, so each difference below is taken pair by pair and its "
        "95% interval comes from resampling pairs. A replicate that never reaches a target counts as n_trials + 1.",
    ]
    if paired.targets:
        targets = ", ".join(f"{t:.2%}" for t in paired.targets)
        lines += ["", f"Targets, fixed before the run: {targets}. p-values are Holm-corrected across the targets."]
    for pair in paired.pairs:
        lines += ["", f"### {pair.a} minus {pair.b}: {pair.question}", ""]
        if pair.targets:
            lines += [
                "| target | pairs | reached (a, b) | trials to target, a - b [95% CI] | p | p (Holm) |",
                "|---|---|---|---|---|---|",
            ]
            for row in pair.targets:
                d = row.to_dict()
                lines.append(
                    f"| {row.target:.2%} | {row.n_pairs} | {row.n_reached_a}, {row.n_reached_b} | "
                    f"{_interval(d['mean'], d['ci_low'], d['ci_high'])} | {row.p:.3f} | {row.p_holm:.3f} |"
                )
            lines.append("")
        if pair.horizontal:
            lines += [
                f"Horizontally: trials {pair.a} needs to match what {pair.b} had after k trials, minus k "
                "(positive: it needs more).",
                "",
                "| k | pairs | more trials [95% CI] |",
                "|---|---|---|",
            ]
            for h in pair.horizontal:
                d = h.to_dict()
                lines.append(f"| {h.k} | {h.n_pairs} | {_interval(d['mean'], d['ci_low'], d['ci_high'])} |")
    if paired.validation_test:
        lines += [
            "",
            "### The chosen configurations on the test takes",
            "",
            "| arm | studies | validation-test correlation | selection optimism, validation - test [95% CI] |",
            "|---|---|---|---|",
        ]
        for arm, v in paired.validation_test.items():
            d = v.to_dict()
            r = "-" if d["pearson_r"] is None else f"{v.pearson_r:.2f}"
            optimism = (
                f"{100 * v.optimism_mean:+.2f} [{100 * v.optimism_ci_low:+.2f}, {100 * v.optimism_ci_high:+.2f}] points"
            )
            lines.append(f"| {arm} | {v.n} | {r} | {optimism} |")
    return "\n".join(lines) + "\n"
