"""The batched BNN optimizers against K single optimizers: same weights, same states, same flip counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bnn_errors import InvalidInputError
from trainers.batched import (
    BatchedBop,
    BatchedFilter,
    BatchedFrozen,
    BatchedLatentSGD,
    BatchedMixed,
    MemberFlips,
    member_views,
)
from trainers.optim import Bop, FilterOptimizer, HyperparameterDecay, LatentSGD, decay_factor

SHAPES = [(5, 7), (3, 5)]


# Batched and single paths agree exactly only at one torch thread (the same reduction order).
pytestmark = pytest.mark.usefixtures("one_thread")


def _signs(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.where(torch.rand(shape, generator=generator) < 0.5, -1.0, 1.0).double()


def _members(kind: str, members: int, generator: torch.Generator) -> list[list[nn.Parameter]]:
    """Start weights per member: +-1 for filter and Bop, latent weights (some exactly 0) for latent SGD."""
    out = []
    for _ in range(members):
        if kind == "latent":
            weights = [torch.randn(s, generator=generator, dtype=torch.float64) for s in SHAPES]
            weights[0][0, :3] = 0.0
        else:
            weights = [_signs(s, generator) for s in SHAPES]
        out.append([nn.Parameter(w) for w in weights])
    return out


HYPERPARAMETERS = {
    "filter": [{"alpha": 0.3, "gamma": 0.5}, {"alpha": 1e-2, "gamma": 1.0}, {"alpha": 1.0, "gamma": 1e-3}],
    "latent": [
        {"lr": 0.5, "momentum": 0.9, "weight_decay": 0.1, "clip": 1.0},
        {"lr": 2.0, "momentum": 0.0, "weight_decay": 0.0},
        {"lr": 0.05, "momentum": 0.5, "weight_decay": 3.0, "clip": 0.2},
    ],
    "bop": [
        {"threshold": 1e-3, "gamma": 0.1},
        {"threshold": 0.5, "gamma": 1.0},
        {"threshold": 1e-8, "gamma": 1e-2},
    ],
}


def _single(kind: str, params: list[nn.Parameter], h: dict[str, float]) -> torch.optim.Optimizer:
    if kind == "filter":
        return FilterOptimizer(params, alpha=h["alpha"], gamma=h["gamma"])
    if kind == "latent":
        return LatentSGD(params, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"], clip=h.get("clip"))
    return Bop(params, threshold=h["threshold"], gamma=h["gamma"])


def _column(hs: list[dict[str, float]], name: str, default: float = float("inf")) -> torch.Tensor:
    return torch.tensor([h.get(name, default) for h in hs], dtype=torch.float64)


@pytest.mark.parametrize("kind", ["filter", "latent", "bop"])
def test_each_member_follows_its_single_optimizer(kind: str) -> None:
    generator = torch.Generator().manual_seed(3)
    hs = HYPERPARAMETERS[kind]
    singles = _members(kind, len(hs), generator)
    stacked = [nn.Parameter(torch.stack([m[i].detach() for m in singles])) for i in range(len(SHAPES))]
    optimizers = [_single(kind, params, h) for params, h in zip(singles, hs, strict=True)]
    decay_key = {"filter": "alpha", "latent": "lr"}.get(kind)
    steps = 12
    schedules = [HyperparameterDecay(o, steps, "cosine", key=decay_key) for o in optimizers] if decay_key else []
    batched: BatchedFilter | BatchedLatentSGD | BatchedBop
    if kind == "filter":
        # the tie signs the single optimizers drew, so that weights whose filter is exactly 0 agree too
        with torch.no_grad():
            for o, params in zip(optimizers, singles, strict=True):
                assert isinstance(o, FilterOptimizer)
                for p in params:
                    o._state(p)
        ties = [
            torch.stack([o.state[m[i]]["tie_sign"] for o, m in zip(optimizers, singles, strict=True)])
            for i in range(len(SHAPES))
        ]
        batched = BatchedFilter(stacked, _column(hs, "alpha"), _column(hs, "gamma"), ties)
    elif kind == "latent":
        batched = BatchedLatentSGD(
            stacked,
            _column(hs, "lr"),
            _column(hs, "momentum"),
            _column(hs, "weight_decay"),
            _column(hs, "clip"),
        )
    else:
        batched = BatchedBop(stacked, _column(hs, "threshold"), _column(hs, "gamma"))

    for t in range(steps):
        grads = [torch.randn(len(hs), *s, generator=generator, dtype=torch.float64) for s in SHAPES]
        # exact zeros keep a filter state at 0 for a while: the tie signs decide there
        grads[1][:, 0, :] = 0.0
        for k, params in enumerate(singles):
            for p, g in zip(params, grads, strict=True):
                p.grad = g[k].clone()
            optimizers[k].step()
        for p, g in zip(stacked, grads, strict=True):
            p.grad = g
        batched.step(decay_factor("cosine", t, steps) if decay_key else 1.0)
        for schedule in schedules:
            schedule.step()
        for i, p in enumerate(stacked):
            expected = torch.stack([m[i].detach() for m in singles])
            assert torch.equal(p.detach(), expected), f"step {t}, tensor {i}"
    flips = [o.flips.ratio() for o in optimizers]  # type: ignore[attr-defined]
    assert batched.flips.ratios() == pytest.approx(flips, abs=1e-15)
    assert max(flips) > 0


def test_flip_counter_counts_per_member_and_resets() -> None:
    flips = MemberFlips(3, torch.device("cpu"))
    assert flips.ratios() == [0.0, 0.0, 0.0]
    flips.record(torch.tensor([1.0, 0.0, 4.0]), 4)
    flips.record(torch.tensor([1.0, 2.0, 4.0]), 4)
    assert flips.ratios() == [0.25, 0.25, 1.0]
    flips.reset()
    assert flips.ratios() == [0.0, 0.0, 0.0]


def test_filter_sets_weights_to_minus_sign_of_the_filter() -> None:
    theta = nn.Parameter(torch.ones(2, 3, 4))
    ties = [torch.ones(2, 3, 4)]
    opt = BatchedFilter([theta], torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0]), ties)
    theta.grad = torch.ones(2, 3, 4)
    theta.grad[1] = -1.0
    opt.step()
    # alpha = gamma = 1: f is the gradient, theta = -sign(g); member 0 flips all 12 weights, member 1 none
    assert torch.equal(theta.detach()[0], -torch.ones(3, 4)) and torch.equal(theta.detach()[1], torch.ones(3, 4))
    assert opt.flips.ratios() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda p: BatchedFilter(p, torch.tensor([0.1, 0.0]), torch.tensor([0.1, 0.1]), [torch.ones(2, 3)]),
            "alpha of member 1",
        ),
        (
            lambda p: BatchedFilter(p, torch.tensor([0.1]), torch.tensor([0.1, 0.1]), [torch.ones(2, 3)]),
            "alpha must have one value",
        ),
        (
            lambda p: BatchedFilter(p, torch.tensor([0.1, 0.1]), torch.tensor([0.1, 0.1]), [torch.ones(3)]),
            "tie_signs",
        ),
        (
            lambda p: BatchedLatentSGD(p, torch.tensor([0.1, 1.0]), torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])),
            "momentum of member 0",
        ),
        (
            lambda p: BatchedLatentSGD(p, torch.ones(2), torch.zeros(2), torch.tensor([0.0, -1.0])),
            "weight_decay of member 1",
        ),
        (
            lambda p: BatchedLatentSGD(p, torch.ones(2), torch.zeros(2), torch.zeros(2), torch.tensor([0.0, 1.0])),
            "clip of member 0",
        ),
        (lambda p: BatchedBop(p, torch.tensor([float("nan"), 1.0]), torch.ones(2)), "threshold of member 0"),
        (lambda p: BatchedBop([], torch.ones(2), torch.ones(2)), "no parameters"),
    ],
)
def test_rejects_bad_hyperparameters(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match=message):
        build([nn.Parameter(torch.ones(2, 3))])


def test_step_needs_gradients() -> None:
    opt = BatchedBop([nn.Parameter(torch.ones(2, 3))], torch.ones(2), torch.ones(2))
    with pytest.raises(InvalidInputError, match="gradient"):
        opt.step()


def _mixed_parts(params: list[nn.Parameter]) -> list[tuple[int, BatchedFilter | BatchedBop]]:
    """Members 0-1 by the filter, member 2 by Bop."""
    hs = HYPERPARAMETERS["filter"][:2]
    ties = [torch.ones(2, *s, dtype=torch.float64) for s in SHAPES]
    filter_ = BatchedFilter(member_views(params, 0, 2), _column(hs, "alpha"), _column(hs, "gamma"), ties)
    bop = BatchedBop(member_views(params, 2, 3), torch.tensor([1e-3]), torch.tensor([0.1]))
    return [(0, filter_), (2, bop)]


def test_mixed_updates_each_part_as_that_optimizer_alone() -> None:
    generator = torch.Generator().manual_seed(5)
    start = [torch.stack([_signs(s, generator) for _ in range(3)]) for s in SHAPES]
    mixed_params = [nn.Parameter(w.clone()) for w in start]
    mixed = BatchedMixed(mixed_params, _mixed_parts(mixed_params))
    alone_params = [nn.Parameter(w.clone()) for w in start]
    alone = _mixed_parts(alone_params)
    for t in range(6):
        grads = [torch.randn(3, *s, generator=generator, dtype=torch.float64) for s in SHAPES]
        for p, g in zip(mixed_params, grads, strict=True):
            p.grad = g
        factor = decay_factor("cosine", t, 6)
        mixed.step(factor)
        for first, part in alone:
            for view, g in zip(part.params, grads, strict=True):
                view.grad = g[first : first + part.members].clone()
            part.step(factor)
        for p, q in zip(mixed_params, alone_params, strict=True):
            assert torch.equal(p.detach(), q.detach()), f"step {t}"
    expected = [r for _, part in alone for r in part.flips.ratios()]
    assert mixed.flips.ratios() == pytest.approx(expected, abs=1e-15) and min(expected) > 0


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (lambda ps: _mixed_parts(ps)[:1], "cover 2 of 3 members"),
        (lambda ps: _mixed_parts(ps)[::-1], "start at 2, expected 0|starts at 2, expected 0"),
        (
            lambda ps: [(0, BatchedFrozen([p.detach().clone()[0:2] for p in ps])), _mixed_parts(ps)[1]],
            "not built on its members' weights",
        ),
    ],
)
def test_mixed_rejects_parts_that_do_not_tile_the_members(parts, message: str) -> None:  # type: ignore[no-untyped-def]
    params = [nn.Parameter(torch.ones(3, *s, dtype=torch.float64)) for s in SHAPES]
    with pytest.raises(InvalidInputError, match=message):
        BatchedMixed(params, parts(params))


def test_frozen_changes_nothing_and_counts_no_flips() -> None:
    theta = nn.Parameter(torch.ones(2, 3))
    opt = BatchedFrozen([theta])
    theta.grad = torch.randn(2, 3)
    opt.step()
    assert torch.equal(theta.detach(), torch.ones(2, 3)) and opt.flips.ratios() == [0.0, 0.0]
