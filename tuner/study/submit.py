"""Submitting work: check a validated study or comparison against the operator's limits and store it, queued.

The configuration checked itself when it was built (:mod:`tuner.study.config`); what is left are the limits the
settings set (most trials, epochs, replicates). A request over one raises ``InvalidInputError`` with the field, and
the database is left untouched.
"""

from __future__ import annotations

from bnn_errors import InvalidInputError
from tuner.settings import Settings
from tuner.storage import ComparisonRecord, Storage, StudyRecord
from tuner.study.config import ComparisonConfig, StudyConfig, StudyOptions

__all__ = ["check_limits", "submit_comparison", "submit_study"]


def _check_limit(field: str, value: int, limit: int, variable: str) -> None:
    if value > limit:
        raise InvalidInputError(
            f"{field} must be in [1, {limit}] (the limit set by {variable}), got {value}", field=field
        )


def check_limits(config: StudyOptions, settings: Settings) -> None:
    """Refuse a configuration over the limits of ``settings``; raises ``InvalidInputError`` naming the field."""
    _check_limit("n_trials", config.n_trials, settings.max_trials_per_study, "BNN_TUNE_MAX_TRIALS_PER_STUDY")
    _check_limit("epochs", config.epochs, settings.max_epochs, "BNN_TUNE_MAX_EPOCHS")
    if isinstance(config, ComparisonConfig):
        _check_limit("replicates", config.replicates, settings.max_replicates, "BNN_TUNE_MAX_REPLICATES")


def submit_study(storage: Storage, settings: Settings, config: StudyConfig) -> StudyRecord:
    """Store one study, queued. Raises ``InvalidInputError`` naming a field over its configured limit."""
    check_limits(config, settings)
    return storage.create_study(config)


def submit_comparison(
    storage: Storage, settings: Settings, config: ComparisonConfig
) -> tuple[ComparisonRecord, list[StudyRecord]]:
    """Store a comparison and its ``replicates`` studies per space, in one transaction.

    Raises ``InvalidInputError`` naming a field over its configured limit.
    """
    check_limits(config, settings)
    return storage.create_comparison(config)
