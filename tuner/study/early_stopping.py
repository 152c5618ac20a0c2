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
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from tuner.study.validation import invalid_input

__all__ = ["EarlyStopping"]

# The metric the rule reads: the study's objective is computed from it.
METRIC = "val_accuracy"


class EarlyStopping(BaseModel):
    """The stopping rule of a study; see the module docstring."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)

    rule: Literal["median", "percentile"] = Field(description="median, or percentile with its percentile")
    percentile: float | None = Field(
        default=None, gt=0, lt=100, description="a trial below this percentile of its peers stops (percentile rule)"
    )
    min_epochs: int = Field(default=1, ge=1, le=10_000, description="epochs a trial runs before it may stop")
    min_trials: int = Field(default=3, ge=1, le=10_000, description="finished peers needed before any trial stops")

    @field_validator("percentile")
    @classmethod
    def _only_with_its_rule(cls, percentile: float | None, info: ValidationInfo) -> float | None:
        if info.data.get("rule") == "median" and percentile not in (None, 50.0):
            raise ValueError("applies to the 'percentile' rule only")
        return percentile

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | EarlyStopping | None) -> EarlyStopping | None:
        """The rule a study's ``early_stopping`` setting asks for; None when it is unset.

        Raises:
            InvalidInputError: an unknown rule or key, or a value out of its range (the field is named).
        """
        if config is None or isinstance(config, EarlyStopping):
            return config
        try:
            return cls.model_validate(dict(config))
        except ValidationError as exc:
            raise invalid_input(exc, "early_stopping.") from exc

    @property
    def cutoff_percentile(self) -> float:
        """The percentile below which a trial stops (50 for the median rule)."""
        return 50.0 if self.percentile is None else self.percentile

    @property
    def metric(self) -> str:
        """The metric of the learning curve the rule compares."""
        return METRIC

    def should_stop(self, epoch: int, value: float, peers: Sequence[float]) -> bool:
        """Whether a trial whose metric is ``value`` at ``epoch`` stops, given the finished peers' values there."""
        finite = [p for p in peers if math.isfinite(p)]
        if epoch < self.min_epochs or len(finite) < self.min_trials:
            return False
        return value < float(np.percentile(finite, self.cutoff_percentile))
