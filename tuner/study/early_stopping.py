"""Optional early stopping of trials on their learning curves (beyond the paper; off by default).

Percentile stopping: after epoch ``e`` (at least ``min_epochs``), a trial stops if its validation accuracy is below the
``percentile``-th percentile of the values that the study's finished trials (completed or themselves stopped) had at
epoch ``e``, provided at least ``min_trials`` such peers exist. ``{"rule": "median"}`` is the 50th percentile. A stopped
trial ends in state ``early_stopped`` with the objective of the epochs it ran, and counts towards the study's budget.

A study asks for it with ``early_stopping``: ``{"rule": "median" | "percentile", "percentile": 50, "min_epochs": 1,
"min_trials": 3}`` (every key but ``rule`` optional).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bnn_errors import InvalidInputError

__all__ = ["EarlyStopping"]

_KEYS = {"rule", "percentile", "min_epochs", "min_trials"}


@dataclass(frozen=True)
class EarlyStopping:
    """The stopping rule of a study; see the module docstring."""

    percentile: float = 50.0
    min_epochs: int = 1
    min_trials: int = 3
    metric: str = "val_accuracy"

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> EarlyStopping | None:
        """The rule a study's ``early_stopping`` setting asks for; None when it is unset.

        Raises:
            InvalidInputError: an unknown rule or key, or a value out of its range (named in the message).
        """
        if config is None:
            return None
        unknown = sorted(set(config) - _KEYS)
        if unknown:
            raise InvalidInputError(f"early_stopping: unknown keys {unknown}; allowed: {sorted(_KEYS)}")
        rule = config.get("rule")
        if rule not in ("median", "percentile"):
            raise InvalidInputError(f"early_stopping.rule must be 'median' or 'percentile', got {rule!r}")
        percentile = config.get("percentile", 50.0)
        if rule == "median" and percentile != 50.0:
            raise InvalidInputError("early_stopping.percentile applies to the 'percentile' rule only")
        if isinstance(percentile, bool) or not isinstance(percentile, int | float) or not 0 < percentile < 100:
            raise InvalidInputError(f"early_stopping.percentile must be in (0, 100), got {percentile!r}")
        min_epochs = config.get("min_epochs", 1)
        min_trials = config.get("min_trials", 3)
        for name, value in (("min_epochs", min_epochs), ("min_trials", min_trials)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
                raise InvalidInputError(f"early_stopping.{name} must be an integer in [1, 10000], got {value!r}")
        return cls(percentile=float(percentile), min_epochs=min_epochs, min_trials=min_trials)

    def should_stop(self, epoch: int, value: float, peers: Sequence[float]) -> bool:
        """Whether a trial whose metric is ``value`` at ``epoch`` stops, given the finished peers' values there."""
        finite = [p for p in peers if math.isfinite(p)]
        if epoch < self.min_epochs or len(finite) < self.min_trials:
            return False
        return value < float(np.percentile(finite, self.percentile))
