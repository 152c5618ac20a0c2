"""What a study and a comparison ask for: one definition, its defaults and its checks.

:class:`StudyConfig` and :class:`ComparisonConfig` are the REST request bodies, the source of the CLI's flags, the JSON
stored with each study and comparison, and what the scheduler reads. Every check of a request runs here, once: a bad
value is a pydantic ``ValidationError`` whose ``loc`` names the field (the API answers it as a 422; elsewhere
:func:`validate_config` turns it into an ``InvalidInputError`` with that ``field``). The limits an operator sets
(``BNN_TUNE_MAX_TRIALS_PER_STUDY`` and the like) are checked on submission, where the settings are known.

To add an option: add a documented field to :class:`StudyOptions` and use it where the trial is built
(``tuner.execution.scheduler``); the API, the CLI and the storage pick it up from here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from search_spaces import UnknownSpaceError, get_space
from trainers.task_names import TASKS
from tuner.study.early_stopping import EarlyStopping
from tuner.study.validation import invalid_input

__all__ = [
    "MAX_SEED",
    "OBJECTIVES",
    "ComparisonConfig",
    "Name",
    "Objective",
    "Strategy",
    "StudyConfig",
    "Suggester",
    "StudyOptions",
    "StudyFields",
    "ComparisonFields",
    "arm_name",
    "derive_seed",
    "stored_config",
    "validate_config",
]

MAX_SEED = 2**32 - 1
_MAX_COUNT = 1_000_000

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
"""A task or search-space name as a request may spell it: letters, digits, ``_ . -``, at most 64 characters."""

# A configuration's task and space names: fit their columns; what they may be is the registries' to say (checked on
# submission), so that a stored row reads back whatever the reading process has registered.
_RegisteredName = Annotated[str, StringConstraints(min_length=1, max_length=64)]

Objective = Literal["val_accuracy_last", "val_accuracy_best"]
Strategy = Literal["bo", "random"]
Suggester = Literal["botorch", "ax"]
OBJECTIVES: tuple[Objective, ...] = ("val_accuracy_last", "val_accuracy_best")

# Strict: a string is not a number, 3.0 is not an integer, NaN and infinities are refused, unknown fields are refused,
# and every integer is bounded, so that nothing a client sends can overflow a column.
# The tasks whose data loader deals the non-test data into folds.
_FOLDED_TASKS = ("audio",)

_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


# Stored configurations were checked when they were submitted: reading one back must not depend on which tasks and
# spaces the reading process has registered.
_STORED = "stored"


def _is_stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get(_STORED))


def _known_space(name: str, info: ValidationInfo) -> str:
    if _is_stored(info):
        return name
    try:
        get_space(name)
    except UnknownSpaceError as exc:
        raise ValueError(str(exc)) from None
    return name


class StudyOptions(BaseModel):
    """What every study of a piece of work shares: the task, the budget, and how each trial trains and is scored.

    Fields only: the checks that need the registries or several fields are :class:`_Checks`, so that the reports
    (``tuner.analysis.reports``) can carry the same fields without re-checking stored values.
    """

    model_config = _STRICT

    task: _RegisteredName = Field(default="audio", description=f"the task to train: {', '.join(TASKS)}")
    n_trials: int = Field(default=25, ge=1, le=_MAX_COUNT, description="trials per study (up to the configured limit)")
    epochs: int = Field(default=20, ge=1, le=_MAX_COUNT, description="epochs per trial (up to the configured limit)")
    seed: int = Field(
        default=0, ge=0, le=MAX_SEED, description="seed of the study (a comparison derives its replicates' seeds)"
    )
    parallelism: int = Field(default=1, ge=1, le=_MAX_COUNT, description="trials in flight per study, at most n_trials")
    batch_size: int = Field(default=64, ge=1, le=65_536, description="training minibatch size")
    objective: Objective = Field(
        default="val_accuracy_last",
        description="what the tuner maximizes: the last epoch's validation accuracy, or the best epoch's",
    )
    max_train: int | None = Field(
        default=None, ge=1, le=10_000_000, description="cap on training examples (quick runs); null: all"
    )
    early_stopping: EarlyStopping | None = Field(
        default=None, description="stop weak trials early on their learning curves; null: off"
    )
    width: int | None = Field(
        default=None, ge=1, le=65_536, description="hidden width of the audio net (null: 64); image models ignore it"
    )
    real_lr: float = Field(
        default=1e-3, gt=0, le=1, description="Adam's learning rate for the real-valued layers (first, last, norms)"
    )
    folds: int = Field(
        default=1,
        ge=1,
        le=15,
        description="k-fold cross-validation over the non-test recordings, split by take (audio); 1: the fixed "
        "split (takes 5-9 validate)",
    )
    repeats: int = Field(
        default=1,
        ge=1,
        le=16,
        validate_default=True,  # its check looks at folds and early stopping too
        description="training seeds per fold; a trial trains folds x repeats members",
    )
    strategy: Strategy = Field(
        default="bo",
        description="how trials are chosen: bo (Sobol start, then BoTorch) or random (Sobol for every trial)",
    )
    suggester: Suggester = Field(
        default="botorch",
        description="how Bayesian optimization computes a suggestion: botorch (BoTorch called directly, tenths of a "
        "second) or ax (Ax's Client, seconds; the earlier path, kept to check the other against)",
    )


class StudyFields(StudyOptions):
    """The fields of a study's configuration (:class:`StudyConfig` adds the checks)."""

    space: _RegisteredName = Field(default="filter", description="a registered search space: latent, filter, bop, ...")


class ComparisonFields(StudyOptions):
    """The fields of a comparison's configuration (:class:`ComparisonConfig` adds the checks)."""

    spaces: list[_RegisteredName] = Field(
        default=["latent", "filter"], min_length=1, max_length=16, description="the search spaces compared"
    )
    replicates: int = Field(
        default=20, ge=1, le=_MAX_COUNT, description="studies per space (up to the configured limit)"
    )
    targets: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default=[],
        max_length=8,
        description="objective values fixed before the run (e.g. quantiles of a calibration run's random "
        "configurations): the paired trials-to-target comparison is judged at each, Holm-corrected across them",
    )
    random_spaces: list[_RegisteredName] = Field(
        default=[],
        max_length=16,
        description="spaces that also get a random-search arm (Sobol for every trial, named <space>-random), so "
        "that what Bayesian optimization adds is measured in the same run",
    )


class _Checks(BaseModel):
    """The checks of a configuration that need the registries or another field (a pydantic ``loc`` names the field)."""

    @field_validator("task", check_fields=False)
    @classmethod
    def _known_task(cls, task: str, info: ValidationInfo) -> str:
        if task not in TASKS and not _is_stored(info):
            raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
        return task

    @field_validator("folds", check_fields=False)
    @classmethod
    def _folds_of_the_task(cls, folds: int, info: ValidationInfo) -> int:
        if folds > 1 and info.data.get("task") not in _FOLDED_TASKS:
            raise ValueError(f"k-fold validation is implemented for the tasks {', '.join(_FOLDED_TASKS)} only")
        return folds

    @field_validator("repeats", check_fields=False)
    @classmethod
    def _one_member_to_stop_early(cls, repeats: int, info: ValidationInfo) -> int:
        # Early stopping compares one curve with its peers'; trials of several members have a curve each.
        if info.data.get("early_stopping") is not None and repeats * info.data.get("folds", 1) > 1:
            raise ValueError("early stopping needs trials of one member (folds = repeats = 1)")
        return repeats

    @field_validator("parallelism", check_fields=False)
    @classmethod
    def _within_budget(cls, parallelism: int, info: ValidationInfo) -> int:
        n_trials = info.data.get("n_trials")
        if n_trials is not None and parallelism > n_trials:
            raise ValueError(f"must be at most n_trials ({n_trials}), got {parallelism}")
        return parallelism

    @field_validator("space", check_fields=False)
    @classmethod
    def _known(cls, space: str, info: ValidationInfo) -> str:
        return _known_space(space, info)

    @field_validator("spaces", "random_spaces", check_fields=False)
    @classmethod
    def _distinct_and_known(cls, spaces: list[str], info: ValidationInfo) -> list[str]:
        if len(set(spaces)) != len(spaces):
            raise ValueError(f"must not repeat a space, got {spaces}")
        for space in spaces:
            _known_space(space, info)
        return spaces


class StudyConfig(StudyFields, _Checks):
    """A study: Bayesian optimization of one search space on one task, ``n_trials`` trials long."""

    @property
    def arm(self) -> str:
        """The study's arm within a comparison: its space, or ``<space>-random`` for a random-search study."""
        return arm_name(self.space, self.strategy)


class ComparisonConfig(ComparisonFields, _Checks):
    """A comparison: ``replicates`` studies of each space; replicate r of every space gets the same seed.

    The study options are the template of every replicate study; ``seed`` is the master seed from which replicate r's
    seed is derived (:func:`derive_seed`).
    """

    @classmethod
    def of(cls, template: StudyOptions, spaces: list[str], replicates: int) -> ComparisonConfig:
        """A comparison of ``spaces`` whose studies take their options (and master seed) from ``template``.

        Raises:
            InvalidInputError: a space is unknown or repeated, or ``replicates`` is out of range (field named).
        """
        options = template.model_dump(exclude={"space"})
        return validate_config(cls, {**options, "spaces": spaces, "replicates": replicates})

    @property
    def arms(self) -> list[str]:
        """The comparison's arms: one per space (``strategy``), then one random-search arm per random space."""
        return [arm_name(s, self.strategy) for s in self.spaces] + [arm_name(s, "random") for s in self.random_spaces]

    def study(self, space: str, replicate: int, strategy: Strategy | None = None) -> StudyConfig:
        """The configuration of replicate ``replicate`` of ``space``: the template with its derived seed.

        Replicate r of every arm, random-search arms included, gets the same seed (common random numbers).
        """
        # Every option of a study, whatever the comparison adds to them; the seed is the replicate's own.
        options = self.model_dump(include=set(StudyOptions.model_fields) - {"seed"})
        values = {**options, "space": space, "seed": derive_seed(self.seed, replicate)}
        if strategy is not None:
            values["strategy"] = strategy
        return StudyConfig.model_validate(values, context={_STORED: True})

    def studies(self) -> list[tuple[int, StudyConfig]]:
        """Every replicate study, arm by arm: ``(replicate, config)``."""
        bo = [(r, self.study(space, r)) for space in self.spaces for r in range(self.replicates)]
        random = [(r, self.study(space, r, "random")) for space in self.random_spaces for r in range(self.replicates)]
        return bo + random


def arm_name(space: str, strategy: Strategy) -> str:
    """An arm's name: the space's for Bayesian optimization, ``<space>-random`` for random search."""
    return space if strategy == "bo" else f"{space}-random"


def derive_seed(master_seed: int, replicate: int) -> int:
    """The seed of replicate ``replicate`` of a comparison, derived from its master seed.

    Replicate r of every space gets the same seed (common random numbers: the spaces are compared on the same
    initializations and data orders), and different replicates get statistically independent seeds.
    """
    state = np.random.SeedSequence([master_seed, replicate]).generate_state(1, dtype=np.uint32)
    return int(state[0])


ConfigT = TypeVar("ConfigT", bound=StudyOptions)


def stored_config(kind: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """A configuration read back from the database (checked on submission; registries are not consulted again)."""
    return kind.model_validate(values, context={_STORED: True})


def validate_config(kind: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """``values`` as a ``kind``; raises ``InvalidInputError`` whose ``field`` names the first bad field."""
    try:
        return kind.model_validate(values)
    except ValidationError as exc:
        raise invalid_input(exc) from exc
