"""Analysis of stored studies: best-so-far curves, trials-to-target statistics, reports and figures.

``figures`` (matplotlib) is imported on its own, so that the statistics load without a plotting library.
"""

from tuner.analysis.statistics import (
    ComparisonSummary,
    Estimate,
    SpaceDifference,
    SpaceSummary,
    best_so_far,
    bootstrap_mean_ci,
    compare_spaces,
    tolerance_sensitivity,
    trials_to_target,
)

__all__ = [
    "ComparisonSummary",
    "Estimate",
    "SpaceDifference",
    "SpaceSummary",
    "best_so_far",
    "bootstrap_mean_ci",
    "compare_spaces",
    "tolerance_sensitivity",
    "trials_to_target",
]
