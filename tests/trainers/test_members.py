"""A trial's members: the k-fold split by take, the members' specs and seeds, and the objective with its SEM."""

from __future__ import annotations

import math

import pytest
import torch

from bnn_errors import InvalidInputError
from trainers.data import TensorSplit, load_task_data
from trainers.data._audio import take_folds
from trainers.members import member_seed, member_specs, objective_with_sem, train_members
from trainers.trial import TrialSpec

# FSDD's layout: 6 speakers x 10 digits x 50 takes.
TAKES = torch.arange(50).repeat(60)


@pytest.mark.parametrize("folds", [2, 3, 5, 9])
def test_folds_never_share_a_take_and_the_test_takes_stay_fixed(folds: int) -> None:
    seen: list[set[int]] = []
    for fold in range(folds):
        train, val, test = take_folds(TAKES, folds, fold)
        val_takes, train_takes = set(TAKES[val].tolist()), set(TAKES[train].tolist())
        assert set(TAKES[test].tolist()) == set(range(5))
        assert not val_takes & train_takes and not (val_takes | train_takes) & set(range(5))
        assert val_takes | train_takes == set(range(5, 50))
        assert all(len(TAKES[val][TAKES[val] == t]) == 60 for t in val_takes)  # a take is validated whole
        seen.append(val_takes)
    assert set().union(*seen) == set(range(5, 50)) and sum(map(len, seen)) == 45  # every take in one fold


def test_folds_of_the_real_recordings() -> None:
    fixed = load_task_data("audio")
    sizes = [len(load_task_data("audio", folds=5, fold=f).val) for f in range(5)]
    assert sizes == [540] * 5 and len(fixed.val) == 300
    fold = load_task_data("audio", folds=5, fold=2)
    assert (len(fold.train), len(fold.test)) == (2160, 300)
    assert isinstance(fold.test, TensorSplit) and isinstance(fixed.test, TensorSplit)
    assert torch.equal(fold.test.y, fixed.test.y)
    with pytest.raises(InvalidInputError, match="fold"):
        load_task_data("audio", folds=5, fold=5)
    with pytest.raises(InvalidInputError, match="folds"):
        load_task_data("cifar10", folds=2)


def test_member_specs_are_every_fold_with_every_repeat() -> None:
    spec = TrialSpec(seed=11, epochs=2)
    members = member_specs(spec, folds=3, repeats=2)
    assert [(m.fold, m.folds) for m in members] == [(0, 3), (0, 3), (1, 3), (1, 3), (2, 3), (2, 3)]
    assert [m.seed for m in members[:2]] == [11, member_seed(11, 1)] and member_seed(11, 1) != 11
    assert member_specs(spec) == [spec]  # one member: the trial as it always was
    assert {m.seed for m in members} == {11, member_seed(11, 1)}  # repeat r has the same seed in every fold


def test_objective_mean_and_standard_error() -> None:
    assert objective_with_sem([0.9]) == (0.9, None)
    mean, sem = objective_with_sem([0.90, 0.92, 0.94])
    assert mean == pytest.approx(0.92) and sem == pytest.approx(0.02 / math.sqrt(3))


def test_members_of_one_fold_train_as_one_batch_and_give_every_member_a_curve() -> None:
    spec = TrialSpec(hyperparameters={"alpha": 1e-3, "gamma": 0.1}, epochs=2, max_train=300, seed=3, device="cpu")
    members = member_specs(spec, folds=2, repeats=2)
    seen: list[int] = []
    outcomes = train_members(members, on_epoch=lambda k, point: seen.append(k))
    assert sorted(seen) == [0, 0, 1, 1, 2, 2, 3, 3]
    results = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(results) == 4 and all(len(r.points) == 2 for r in results)
    # A batch's members share its wall clock: two batches (one per fold), two different clocks.
    assert len({round(r.seconds, 9) for r in results}) == 2
