"""The paper's identities, checked numerically: latent SGD from w0 = 0 is the filter (Eq 3 = Eq 17), the two
cascaded averages are one second-order IIR filter (Eq 16), and latent SGD is invariant to a rescaling of the
initial weights that the learning rate and weight decay undo (Fig. 3)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from trainers.optim import FilterOptimizer, LatentSGD

shapes = st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple)
rates = st.floats(1e-3, 1.0)


def _gradients(shape: tuple[int, ...], steps: int, seed: int, dtype: torch.dtype) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator, dtype=torch.float64).to(dtype) for _ in range(steps)]


def _random_signs(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    return torch.where(torch.rand(shape) < 0.5, -1.0, 1.0).to(dtype)


def _agreements(
    lr: float, weight_decay: float, momentum: float, grads: list[torch.Tensor]
) -> tuple[int, int, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Run LatentSGD from w0 = 0 and the matching filter on one gradient stream; count equal signs."""
    shape, dtype = grads[0].shape, grads[0].dtype
    w = nn.Parameter(torch.zeros(shape, dtype=dtype))
    theta = nn.Parameter(_random_signs(shape, dtype))
    latent = LatentSGD([w], lr=lr, momentum=momentum, weight_decay=weight_decay)
    filt = FilterOptimizer([theta], alpha=lr * weight_decay, gamma=1.0 - momentum)
    equal = total = 0
    states = []
    for g in grads:
        w.grad, theta.grad = g.clone(), g.clone()
        latent.step()
        filt.step()
        equal += int((torch.sign(w) == theta).sum())
        total += g.numel()
        states.append((w.detach().clone(), filt.state[theta]["f"].clone()))
    return equal, total, states


@settings(max_examples=40, deadline=None)
@given(
    lr=rates,
    weight_decay=rates,
    momentum=st.floats(0.0, 0.99),
    shape=shapes,
    steps=st.integers(1, 30),
    seed=st.integers(0, 2**31),
)
def test_latent_sgd_from_zero_is_the_filter_float64(lr, weight_decay, momentum, shape, steps, seed):
    grads = _gradients(shape, steps, seed, torch.float64)
    equal, total, states = _agreements(lr, weight_decay, momentum, grads)
    assert equal == total
    for w, f in states:  # the proof's invariant: w_t = -f_t / weight_decay
        torch.testing.assert_close(w, -f / weight_decay, rtol=1e-9, atol=1e-300)


@settings(max_examples=15, deadline=None)
@given(
    lr=rates,
    weight_decay=rates,
    momentum=st.floats(0.0, 0.99),
    seed=st.integers(0, 2**31),
)
def test_latent_sgd_from_zero_is_the_filter_float32(lr, weight_decay, momentum, seed):
    grads = _gradients((32, 32), 60, seed, torch.float32)
    equal, total, _ = _agreements(lr, weight_decay, momentum, grads)
    assert equal / total >= 0.999


def test_latent_sgd_with_torch_sgd_order_is_not_the_filter():
    """The test can fail: torch.optim.SGD (weight decay before momentum) breaks the identity."""
    grads = _gradients((64,), 50, 0, torch.float64)
    w = nn.Parameter(torch.zeros(64, dtype=torch.float64))
    theta = nn.Parameter(_random_signs((64,), torch.float64))
    sgd = torch.optim.SGD([w], lr=0.5, momentum=0.9, weight_decay=0.5, dampening=0.9)
    filt = FilterOptimizer([theta], alpha=0.25, gamma=0.1)
    mismatches = 0
    for g in grads:
        w.grad, theta.grad = g.clone(), g.clone()
        sgd.step()
        filt.step()
        mismatches += int((torch.sign(w) != theta).sum())
    assert mismatches > 0


@settings(max_examples=40, deadline=None)
@given(alpha=rates, gamma=rates, steps=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_cascaded_averages_are_a_second_order_iir_filter(alpha, gamma, steps, seed):
    """Eq 16: f_t = (2 - alpha - gamma) f_{t-1} - (1 - alpha)(1 - gamma) f_{t-2} + alpha * gamma * g_t."""
    grads = _gradients((5,), steps, seed, torch.float64)
    theta = nn.Parameter(_random_signs((5,), torch.float64))
    filt = FilterOptimizer([theta], alpha=alpha, gamma=gamma)
    f_prev = f_prev2 = torch.zeros(5, dtype=torch.float64)
    scale = float(torch.stack(grads).abs().max())
    for g in grads:
        theta.grad = g.clone()
        filt.step()
        f_iir = (2 - alpha - gamma) * f_prev - (1 - alpha) * (1 - gamma) * f_prev2 + alpha * gamma * g
        torch.testing.assert_close(filt.state[theta]["f"], f_iir, rtol=1e-9, atol=1e-12 * scale)
        f_prev2, f_prev = f_prev, f_iir


@settings(max_examples=60, deadline=None)
@given(
    lr=rates,
    weight_decay=rates,
    momentum=st.floats(0.0, 0.99),
    s=st.floats(0.1, 10.0),
    shape=shapes,
    steps=st.integers(1, 40),
    seed=st.integers(0, 2**31),
)
def test_latent_sgd_is_invariant_to_rescaled_init(lr, weight_decay, momentum, s, shape, steps, seed):
    """lr * s and weight_decay / s from w0 follow the binary trajectory of lr, weight_decay from w0 / s."""
    grads = _gradients(shape, steps, seed, torch.float64)
    w0 = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    scaled = nn.Parameter(w0.clone())
    plain = nn.Parameter(w0 / s)
    scaled_opt = LatentSGD([scaled], lr=lr * s, momentum=momentum, weight_decay=weight_decay / s)
    plain_opt = LatentSGD([plain], lr=lr, momentum=momentum, weight_decay=weight_decay)
    for g in grads:
        scaled.grad, plain.grad = g.clone(), g.clone()
        scaled_opt.step()
        plain_opt.step()
        assert torch.equal(torch.sign(scaled), torch.sign(plain))
        torch.testing.assert_close(scaled.detach(), s * plain.detach(), rtol=1e-9, atol=1e-12)
