"""A trial's members: one configuration trained ``folds x repeats`` times, and the objective with its noise.

One training run scored on one validation split is as noisy as the differences between configurations. A trial's
objective is therefore the mean over its members: fold f of a k-fold split of the non-test data (the test split
stays fixed), trained with repeat r's seed. Members that can share a batched model (the same fold, see
:data:`trainers.batched.BATCH_FIELDS`) train as one, whatever trial they belong to.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from itertools import groupby

from bnn_errors import BnnTuneError, InvalidInputError
from trainers.batched import batch_key, train_batch, worth_batching
from trainers.trial import EpochPoint, TrialResult, TrialSpec, train_trial

__all__ = ["MemberOutcome", "member_seed", "member_specs", "objective_value", "objective_with_sem", "train_members"]

MemberOutcome = TrialResult | BnnTuneError
"""How a member ended: its result, or the error it failed with (a diverged member fails alone)."""

# A stride that keeps repeat seeds apart from the next trials' seeds (trial k uses study_seed * 1009 + k).
_REPEAT_STRIDE = 104_729


def member_seed(seed: int, repeat: int) -> int:
    """The training seed of repeat ``repeat`` of a member whose first repeat trains with ``seed``."""
    return (seed + repeat * _REPEAT_STRIDE) % (2**31)


def member_specs(spec: TrialSpec, folds: int = 1, repeats: int = 1) -> list[TrialSpec]:
    """The members of a trial like ``spec``: every fold of ``folds``, each trained with ``repeats`` seeds.

    Ordered fold-major (fold 0 repeat 0, fold 0 repeat 1, ...). With ``folds = repeats = 1`` the one member is
    ``spec`` on the fixed split, so a single-member trial is the trial as it always was.

    Raises:
        InvalidInputError: ``folds`` or ``repeats`` below 1 (through ``TrialSpec``'s own checks).
    """
    if repeats < 1:
        raise InvalidInputError(f"repeats must be >= 1, got {repeats}")
    return [
        dataclasses.replace(spec, folds=folds, fold=fold, seed=member_seed(spec.seed, repeat))
        for fold in range(folds)
        for repeat in range(repeats)
    ]


def train_members(
    specs: Sequence[TrialSpec],
    on_epoch: Callable[[int, EpochPoint], None] | None = None,
    *,
    batch: bool = True,
    cuda_available: bool = False,
) -> list[MemberOutcome]:
    """Train every spec; element k is member k's result or the error it failed with.

    With ``batch``, consecutive runs of specs that can share a batched model (equal batch keys, where batching
    gains: :func:`~trainers.batched.worth_batching`) train as one; the rest one by one. ``on_epoch(k, point)`` is
    called after every epoch of member k.
    """
    outcomes: list[MemberOutcome | None] = [None] * len(specs)
    order = sorted(range(len(specs)), key=lambda k: repr(batch_key(specs[k])))
    for _, group in groupby(order, key=lambda k: repr(batch_key(specs[k]))):
        members = list(group)
        first = specs[members[0]]
        if batch and len(members) > 1 and worth_batching(first, cuda_available=cuda_available):
            results = _train_together([specs[k] for k in members], members, on_epoch)
        else:
            results = [_train_alone(specs[k], k, on_epoch) for k in members]
        for k, result in zip(members, results, strict=True):
            outcomes[k] = result
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


def _train_together(
    specs: list[TrialSpec], indices: list[int], on_epoch: Callable[[int, EpochPoint], None] | None
) -> list[MemberOutcome]:
    def report(k: int, point: EpochPoint) -> None:
        if on_epoch is not None:
            on_epoch(indices[k], point)

    try:
        return list(train_batch(specs, on_epoch=report))
    except BnnTuneError as exc:  # an error of the whole batch fails every member
        return [exc] * len(specs)


def _train_alone(spec: TrialSpec, k: int, on_epoch: Callable[[int, EpochPoint], None] | None) -> MemberOutcome:
    def report(point: EpochPoint) -> None:
        if on_epoch is not None:
            on_epoch(k, point)

    try:
        return train_trial(spec, on_epoch=report)
    except BnnTuneError as exc:
        return exc


def objective_value(points: Sequence[EpochPoint], objective: str) -> float:
    """One member's objective from its curve: last-epoch or best-epoch validation accuracy.

    Raises:
        ValueError: an unknown objective.
    """
    if objective == "val_accuracy_last":
        return points[-1].val_accuracy
    if objective == "val_accuracy_best":
        return max(p.val_accuracy for p in points)
    raise ValueError(f"objective must be val_accuracy_last or val_accuracy_best; got {objective!r}")


def objective_with_sem(values: Sequence[float]) -> tuple[float, float | None]:
    """The mean of the members' objectives and its standard error (None for one member: unknown, not zero)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    return mean, statistics.stdev(values) / math.sqrt(len(values))
