"""bnn-tune's Python API: tune a BNN optimizer's hyperparameters with Bayesian optimization, and compare spaces.

::

    from tuner import ComparisonConfig, run_comparison

    report = run_comparison(ComparisonConfig(spaces=["latent", "filter"], replicates=5), "sqlite:///bnn-tune.db")
    print(report.analysis.difference if report.analysis else "no trial completed")

Configurations (:class:`StudyConfig`, :class:`ComparisonConfig`) check themselves when built; :func:`run_study` and
:func:`run_comparison` store them, run them to the end and return typed reports. The search spaces are those of
``search_spaces`` (:func:`get_space`, :func:`register_space`). The running functions import PyTorch and Ax when
first used, so that the configurations and reports load without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search_spaces import SearchSpace, get_space, list_spaces, register_space
from tuner.analysis.reports import (
    AnalysisReport,
    ComparisonReport,
    StudyDetailReport,
    StudyReport,
    TrialReport,
)
from tuner.study.config import ComparisonConfig, StudyConfig, derive_seed
from tuner.study.early_stopping import EarlyStopping
from tuner.study.states import StudyState, TrialState

if TYPE_CHECKING:
    from tuner.run import run_comparison, run_study

__all__ = [
    "AnalysisReport",
    "ComparisonConfig",
    "ComparisonReport",
    "EarlyStopping",
    "SearchSpace",
    "StudyConfig",
    "StudyDetailReport",
    "StudyReport",
    "StudyState",
    "TrialReport",
    "TrialState",
    "derive_seed",
    "get_space",
    "list_spaces",
    "register_space",
    "run_comparison",
    "run_study",
]

_LAZY = {"run_study", "run_comparison"}


def __getattr__(name: str) -> Any:
    # The runners pull in the scheduler, and with it PyTorch and Ax: loaded on first use only.
    if name in _LAZY:
        from tuner import run

        return getattr(run, name)
    raise AttributeError(f"module 'tuner' has no attribute {name!r}")
