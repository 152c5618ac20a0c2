"""The optimizers' contracts: argument checks, flip counting, hyperparameter decay, parameter routing."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from bnn_errors import InvalidInputError
from trainers.layers import BinaryConv2d, BinaryLayer, BinaryLinear
from trainers.optim import (
    SCHEDULES,
    Bop,
    FilterOptimizer,
    HyperparameterDecay,
    LatentSGD,
    build_optimizers,
    decay_factor,
    split_parameters,
)


def _theta(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.where(torch.rand(shape) < 0.5, -1.0, 1.0))


# --- argument checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "argument", "value"),
    [
        (lambda v: FilterOptimizer([_theta(3)], alpha=v, gamma=0.1), "alpha", 0.0),
        (lambda v: FilterOptimizer([_theta(3)], alpha=v, gamma=0.1), "alpha", 1.5),
        (lambda v: FilterOptimizer([_theta(3)], alpha=v, gamma=0.1), "alpha", math.nan),
        (lambda v: FilterOptimizer([_theta(3)], alpha=0.1, gamma=v), "gamma", 0.0),
        (lambda v: FilterOptimizer([_theta(3)], alpha=0.1, gamma=v), "gamma", -0.5),
        (lambda v: FilterOptimizer([_theta(3)], alpha=0.1, gamma=v), "gamma", math.nan),
        (lambda v: LatentSGD([_theta(3)], lr=v, momentum=0.9, weight_decay=0.0), "lr", 0.0),
        (lambda v: LatentSGD([_theta(3)], lr=v, momentum=0.9, weight_decay=0.0), "lr", -1.0),
        (lambda v: LatentSGD([_theta(3)], lr=0.1, momentum=v, weight_decay=0.0), "momentum", 1.0),
        (lambda v: LatentSGD([_theta(3)], lr=0.1, momentum=v, weight_decay=0.0), "momentum", -0.1),
        (lambda v: LatentSGD([_theta(3)], lr=0.1, momentum=0.9, weight_decay=v), "weight_decay", -1e-4),
        (lambda v: LatentSGD([_theta(3)], lr=0.1, momentum=0.9, weight_decay=0.0, clip=v), "clip", 0.0),
        (lambda v: Bop([_theta(3)], threshold=v, gamma=0.1), "threshold", 0.0),
        (lambda v: Bop([_theta(3)], threshold=1e-3, gamma=v), "gamma", 1.01),
    ],
)
def test_out_of_range_hyperparameter_raises_naming_it(build, argument, value):
    with pytest.raises(ValueError, match=rf"^{argument} must be in .*, got {value}$") as caught:
        build(value)
    assert isinstance(caught.value, InvalidInputError)


def test_param_group_values_are_checked_too():
    with pytest.raises(InvalidInputError, match="alpha"):
        FilterOptimizer([{"params": [_theta(3)], "alpha": 2.0}], alpha=0.1, gamma=0.1)
    optimizer = FilterOptimizer([_theta(3)], alpha=0.1, gamma=0.1)
    with pytest.raises(InvalidInputError, match="gamma"):
        optimizer.add_param_group({"params": [_theta(2)], "gamma": 0.0})
    optimizer.add_param_group({"params": [_theta(2)], "alpha": 0.5})
    assert [g["alpha"] for g in optimizer.param_groups] == [0.1, 0.5]


def test_boundary_values_are_accepted():
    FilterOptimizer([_theta(3)], alpha=1.0, gamma=1.0)
    LatentSGD([_theta(3)], lr=1e-9, momentum=0.0, weight_decay=0.0, clip=None)
    Bop([_theta(3)], threshold=1e-12, gamma=1.0)


# --- the step contract -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda p: FilterOptimizer([p], alpha=0.5, gamma=0.5),
        lambda p: LatentSGD([p], lr=0.1, momentum=0.5, weight_decay=0.1),
        lambda p: Bop([p], threshold=1e-3, gamma=0.5),
    ],
)
def test_step_returns_the_closure_loss_and_skips_parameters_without_grad(make):
    p, untouched = _theta(4), _theta(4)
    before = untouched.detach().clone()
    optimizer = make(p)
    optimizer.add_param_group({"params": [untouched]})

    def closure() -> float:
        p.grad = torch.ones_like(p)
        return 3.5

    assert optimizer.step(closure) == 3.5
    assert optimizer.step() is None
    assert torch.equal(untouched, before)
    assert untouched not in optimizer.state
    assert set(optimizer.state[p]) >= {"m"}


def test_filter_step_sets_minus_sign_of_f_and_breaks_ties_at_random_repeatably():
    torch.manual_seed(7)
    p = _theta(4000)
    optimizer = FilterOptimizer([p], alpha=0.5, gamma=0.5)
    p.grad = torch.zeros_like(p)  # f stays exactly 0: every weight is a tie
    optimizer.step()
    ties = p.detach().clone()
    assert set(torch.unique(ties).tolist()) == {-1.0, 1.0}
    assert abs(float(ties.mean())) < 0.1
    optimizer.step()
    assert torch.equal(p, ties), "a weight whose filter stays at zero must keep its tie sign"
    torch.manual_seed(7)
    q = _theta(4000)
    again = FilterOptimizer([q], alpha=0.5, gamma=0.5)
    q.grad = torch.zeros_like(q)
    again.step()
    assert torch.equal(q, ties), "ties must repeat under torch.manual_seed"
    r = _theta(4000)
    other = FilterOptimizer([r], alpha=0.5, gamma=0.5, generator=torch.Generator().manual_seed(123))
    r.grad = torch.zeros_like(r)
    other.step()
    assert not torch.equal(r, ties)
    g = torch.randn(4000)
    p.grad = g
    optimizer.step()
    assert torch.equal(p, -torch.sign(optimizer.state[p]["f"]))


def test_latent_sgd_clips_and_follows_eq_5():
    w = nn.Parameter(torch.tensor([0.5, -0.5, 0.0], dtype=torch.float64))
    optimizer = LatentSGD([w], lr=1.0, momentum=0.5, weight_decay=0.1, clip=0.6)
    w.grad = torch.tensor([-2.0, 1.0, 0.1], dtype=torch.float64)
    optimizer.step()
    m = 0.5 * w.grad
    w0 = torch.tensor([0.5, -0.5, 0.0], dtype=torch.float64)
    expected = w0 - 1.0 * (m + 0.1 * w0)
    torch.testing.assert_close(w.detach(), expected.clamp(-0.6, 0.6))
    assert w[0] == 0.6 and w[1] == -0.6


def test_bop_flips_only_past_the_threshold_against_the_sign():
    theta = nn.Parameter(torch.tensor([1.0, 1.0, -1.0, -1.0, 1.0]))
    optimizer = Bop([theta], threshold=0.5, gamma=1.0)
    theta.grad = torch.tensor([0.6, -0.6, -0.6, 0.6, 0.5])  # m = grad with gamma = 1
    optimizer.step()
    assert theta.tolist() == [-1.0, 1.0, 1.0, -1.0, 1.0]
    assert optimizer.flips.ratio() == pytest.approx(2 / 5)


def test_state_dict_round_trip_continues_the_same_trajectory():
    torch.manual_seed(0)
    grads = [torch.randn(6) for _ in range(6)]
    p = _theta(6)
    q = nn.Parameter(p.detach().clone())
    first = FilterOptimizer([p], alpha=0.3, gamma=0.4)
    for g in grads[:3]:
        p.grad = g
        first.step()
    q.data.copy_(p.detach())
    second = FilterOptimizer([q], alpha=0.3, gamma=0.4)
    second.load_state_dict(copy.deepcopy(first.state_dict()))  # as if saved to disk: no shared tensors
    for g in grads[3:]:
        p.grad, q.grad = g, g.clone()
        first.step()
        second.step()
    assert torch.equal(p, q)


# --- flip counting ---------------------------------------------------------------------------------------


def _optimizer(name: str, p: nn.Parameter) -> torch.optim.Optimizer:
    if name == "filter":
        return FilterOptimizer([p], alpha=0.3, gamma=0.5)
    if name == "bop":
        return Bop([p], threshold=0.05, gamma=0.5)
    return LatentSGD([p], lr=0.5, momentum=0.5, weight_decay=0.5)


def _binary(name: str, p: torch.Tensor) -> torch.Tensor:
    # LatentSGD's binary weight is sign(w) with 0 counted as +1; the others hold theta itself.
    return torch.where(p >= 0, 1.0, -1.0) if name == "latent" else p.detach().clone()


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(["filter", "bop", "latent"]),
    shapes=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=3),
    steps=st.integers(1, 12),
    seed=st.integers(0, 2**31),
)
def test_flip_counter_matches_a_brute_force_count(name, shapes, steps, seed):
    generator = torch.Generator().manual_seed(seed)
    params = [nn.Parameter(torch.where(torch.rand(s, generator=generator) < 0.5, -1.0, 1.0)) for s in shapes]
    if name == "latent":
        for p in params:
            p.data.mul_(torch.rand(p.shape, generator=generator)).mul_(0.1)
        params[0].data.view(-1)[0] = 0.0  # exactly zero: counted as +1
    optimizer = _optimizer(name, params[0])
    for p in params[1:]:
        optimizer.add_param_group({"params": [p]})
    weights = sum(p.numel() for p in params)
    brute_force = 0
    for _ in range(steps):
        before = [_binary(name, p) for p in params]
        for p in params:
            p.grad = torch.randn(p.shape, generator=generator)
        optimizer.step()
        brute_force += sum(int((_binary(name, p) != b).sum()) for p, b in zip(params, before, strict=True))
    counter = optimizer.flips  # type: ignore[attr-defined]
    assert counter.steps == steps
    assert counter.ratio() == pytest.approx(brute_force / (steps * weights), abs=1e-12)
    assert 0.0 <= counter.ratio() <= 1.0
    counter.reset()
    assert counter.ratio() == 0.0 and counter.steps == 0
    before = [_binary(name, p) for p in params]
    for p in params:
        p.grad = -10.0 * _binary(name, p)  # a strong push that keeps every sign
    optimizer.step()
    kept = sum(int((_binary(name, p) != b).sum()) for p, b in zip(params, before, strict=True))
    assert counter.ratio() == pytest.approx(kept / weights)


def test_flip_ratio_is_one_when_every_weight_flips():
    p, q = _theta(600, 500), _theta(7)  # 300,000 flips in one tensor: the count must stay exact
    optimizer = FilterOptimizer([p, q], alpha=1.0, gamma=1.0)
    p.grad, q.grad = p.detach().clone(), q.detach().clone()  # -sign(f) = -theta everywhere
    optimizer.step()
    assert optimizer.flips.ratio() == 1.0


def test_filter_reads_weights_that_are_not_binary_as_their_sign():
    p = nn.Parameter(torch.tensor([0.3, -2.0, 0.0, 5.0]))
    optimizer = FilterOptimizer([p], alpha=1.0, gamma=1.0)
    p.grad = torch.tensor([-1.0, -1.0, 1.0, 1.0])  # new theta: +1, +1, -1, -1
    optimizer.step()
    assert p.tolist() == [1.0, 1.0, -1.0, -1.0]
    assert optimizer.flips.ratio() == pytest.approx(3 / 4)  # signs before: +1, -1, +1 (0 as +1), +1


# --- hyperparameter decay --------------------------------------------------------------------------------


def test_decay_factor_schedules():
    assert decay_factor("cosine", 0, 10) == 1.0
    assert decay_factor("cosine", 10, 10) == pytest.approx(0.0, abs=1e-12)
    assert decay_factor("cosine", 5, 10) == pytest.approx(0.5)
    assert decay_factor("linear", 5, 10) == 0.5
    assert decay_factor("linear", 20, 10) == 0.0
    assert decay_factor("none", 7, 10) == 1.0
    assert set(SCHEDULES) == {"cosine", "linear", "none"}
    with pytest.raises(InvalidInputError, match="schedule"):
        decay_factor("step", 1, 10)
    with pytest.raises(InvalidInputError, match="total"):
        decay_factor("linear", 1, 0)


@pytest.mark.parametrize(
    ("schedule", "at_half", "at_end"), [("cosine", 0.5, 0.0), ("linear", 0.5, 0.0), ("none", 1, 1)]
)
def test_alpha_decay_on_the_filter_optimizer(schedule, at_half, at_end):
    optimizer = FilterOptimizer([_theta(3)], alpha=0.02, gamma=0.1)
    optimizer.add_param_group({"params": [_theta(2)], "alpha": 0.2})
    decay = HyperparameterDecay(optimizer, total_steps=10, schedule=schedule)
    assert decay.key == "alpha"
    for _ in range(5):
        decay.step()
    assert decay.values() == pytest.approx([0.02 * at_half, 0.2 * at_half])
    for _ in range(5):
        decay.step()
    assert decay.values() == pytest.approx([0.02 * at_end, 0.2 * at_end], abs=1e-15)
    decay.step()  # past the end the value stays put
    assert decay.values() == pytest.approx([0.02 * at_end, 0.2 * at_end], abs=1e-15)


def test_decay_defaults_and_resume():
    latent = LatentSGD([_theta(3)], lr=0.1, momentum=0.9, weight_decay=1e-4)
    assert HyperparameterDecay(latent, 4).key == "lr"
    bop = Bop([_theta(3)], threshold=1e-3, gamma=0.1)
    with pytest.raises(InvalidInputError, match="key"):
        HyperparameterDecay(bop, 4)
    threshold_decay = HyperparameterDecay(bop, 4, "linear", key="threshold")
    threshold_decay.step()
    assert bop.param_groups[0]["threshold"] == pytest.approx(0.75e-3)
    with pytest.raises(InvalidInputError, match="no key 'alpha'"):
        HyperparameterDecay(latent, 4, key="alpha")
    with pytest.raises(InvalidInputError, match="total_steps"):
        HyperparameterDecay(latent, 0)
    with pytest.raises(InvalidInputError, match="schedule"):
        HyperparameterDecay(latent, 4, "exponential")
    decay = HyperparameterDecay(latent, 4, "linear")
    decay.step()
    resumed = HyperparameterDecay(LatentSGD([_theta(3)], lr=0.1, momentum=0.9, weight_decay=1e-4), 4, "linear")
    resumed.load_state_dict(decay.state_dict())
    assert resumed.values() == decay.values() == [pytest.approx(0.075)]


def test_torch_lr_schedulers_work_on_latent_sgd():
    optimizer = LatentSGD([_theta(3)], lr=0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


# --- routing a model's parameters ---------------------------------------------------------------------------


class _Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = BinaryConv2d(3, 4, 3, bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.fc = BinaryLinear(4, 5, bias=True)
        self.head = nn.Linear(5, 2)
        self.tied = nn.Linear(5, 4, bias=False)
        self.tied.weight = self.fc.weight  # shared: still binary, listed once

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.fc(self.bn(self.conv(x)).mean(dim=(2, 3))))
        return logits


def test_split_parameters_partitions_the_model():
    model = _Mixed()
    binary, real = split_parameters(model)
    assert [id(p) for p in binary] == [id(model.conv.weight), id(model.fc.weight)]
    binary_ids, real_ids = {id(p) for p in binary}, {id(p) for p in real}
    assert not binary_ids & real_ids
    assert binary_ids | real_ids == {id(p) for p in model.parameters()}
    assert len(binary) + len(real) == len(list(model.parameters()))
    assert id(model.conv.bias) in real_ids and id(model.fc.bias) in real_ids


@pytest.mark.parametrize(
    ("name", "hyperparameters", "kind"),
    [
        ("filter", {"alpha": 1e-3, "gamma": 1e-2}, FilterOptimizer),
        ("bop", {"threshold": 1e-6, "gamma": 1e-3}, Bop),
        ("latent", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}, LatentSGD),
        ("latent", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "clip": 1.0}, LatentSGD),
    ],
)
def test_build_optimizers(name, hyperparameters, kind):
    torch.manual_seed(0)
    model = _Mixed()
    latent_before = model.conv.weight.detach().clone()
    bnn, adam = build_optimizers(model, name, hyperparameters, real_lr=0.01)
    assert isinstance(bnn, kind)
    assert isinstance(adam, torch.optim.Adam)
    assert adam.defaults["lr"] == 0.01 and adam.defaults["fused"] is True
    assert {id(p) for p in bnn.param_groups[0]["params"]} == {id(model.conv.weight), id(model.fc.weight)}
    layers = [m for m in model.modules() if isinstance(m, BinaryLayer)]
    if name == "latent":
        assert torch.equal(model.conv.weight, latent_before)
        assert bnn.param_groups[0]["clip"] == hyperparameters.get("clip")
    else:
        assert all(torch.all(layer.weight.abs() == 1) for layer in layers)
    loss = model(torch.randn(2, 3, 5, 5)).sum()
    loss.backward()
    for optimizer in (bnn, adam):
        optimizer.step()


@pytest.mark.parametrize(
    ("name", "hyperparameters", "message"),
    [
        ("sgd", {}, "unknown optimizer 'sgd'; known: filter, latent, bop"),
        ("filter", {"alpha": 0.1}, "missing gamma"),
        ("filter", {"alpha": 0.1, "gamma": 0.1, "lr": 0.1}, "unknown lr"),
        ("latent", {"lr": 0.1, "momentum": 0.9}, "missing weight_decay"),
        ("bop", {"threshold": 0.1, "gamma": 2.0}, "gamma must be in"),
    ],
)
def test_build_optimizers_rejects_bad_requests(name, hyperparameters, message):
    with pytest.raises(InvalidInputError, match=message):
        build_optimizers(_Mixed(), name, hyperparameters)


def test_build_optimizers_needs_binary_layers():
    with pytest.raises(InvalidInputError, match="no binary layers"):
        build_optimizers(nn.Linear(3, 2), "filter", {"alpha": 0.1, "gamma": 0.1})


def test_latent_sgd_refuses_a_step_size_beyond_float32() -> None:
    weight = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(InvalidInputError, match="lr and lr \\* weight_decay"):
        LatentSGD([weight], lr=1e300, momentum=0.9, weight_decay=0.1)
    with pytest.raises(InvalidInputError, match="float32"):
        LatentSGD([weight], lr=1e30, momentum=0.9, weight_decay=1e10)
