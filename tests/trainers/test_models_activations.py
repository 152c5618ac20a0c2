"""ApproxSign, RSign and RPReLU: forward values and gradients against their formulas."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.models import RPReLU, RSign, approx_sign


def _approx_sign_curve(x: torch.Tensor) -> torch.Tensor:
    """Bi-Real Net's ApproxSign curve, whose derivative the ApproxSign backward must be."""
    return torch.where(x < -1, -1.0, torch.where(x < 0, 2 * x + x**2, torch.where(x < 1, 2 * x - x**2, 1.0)))


def _grad(x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    torch.autograd.backward(approx_sign(x).sum())
    assert x.grad is not None
    return x.grad


def test_approx_sign_forward_is_sign_with_zero_to_plus_one() -> None:
    x = torch.tensor([-2.0, -0.5, -1e-30, 0.0, 1e-30, 0.5, 3.0])
    assert approx_sign(x).tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]


def test_approx_sign_gradient_matches_piecewise_formula() -> None:
    x = torch.tensor([-1.5, -1.0, -0.75, -0.25, 0.0, 0.25, 0.75, 1.0, 1.5], dtype=torch.float64)
    expected = [0.0, 0.0, 0.5, 1.5, 2.0, 1.5, 0.5, 0.0, 0.0]
    assert _grad(x).tolist() == pytest.approx(expected, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=-2.0, max_value=2.0).filter(lambda v: min(abs(v), abs(abs(v) - 1)) > 1e-4))
def test_approx_sign_gradient_is_derivative_of_its_curve(value: float) -> None:
    # Central differences of the curve in float64, away from the kinks at -1, 0, 1.
    x = torch.tensor([value], dtype=torch.float64)
    eps = 1e-6
    numeric = (_approx_sign_curve(x + eps) - _approx_sign_curve(x - eps)) / (2 * eps)
    assert _grad(x).item() == pytest.approx(numeric.item(), abs=1e-6)


def test_approx_sign_gradient_scales_the_incoming_gradient() -> None:
    x = torch.tensor([-0.5, 0.5], dtype=torch.float64, requires_grad=True)
    torch.autograd.backward((approx_sign(x) * torch.tensor([3.0, -2.0], dtype=torch.float64)).sum())
    assert x.grad is not None
    assert x.grad.tolist() == pytest.approx([3.0, -2.0])


def test_rsign_threshold_moves_the_sign_per_channel_and_learns() -> None:
    rsign = RSign(2)
    with torch.no_grad():
        rsign.threshold[0, 1] = 0.5
    x = torch.full((1, 2, 1, 1), 0.25, requires_grad=True)
    out = rsign(x)
    assert out.flatten().tolist() == [1.0, -1.0]
    torch.autograd.backward(out.sum())
    assert rsign.threshold.grad is not None
    # d sign(x - t) / d t is minus the ApproxSign slope at x - t: 2 - 2 * 0.25 and 2 - 2 * 0.25.
    assert rsign.threshold.grad.flatten().tolist() == pytest.approx([-1.5, -1.5])


def test_rprelu_matches_its_formula() -> None:
    rprelu = RPReLU(2)
    with torch.no_grad():
        rprelu.shift_in.copy_(torch.tensor([0.5, -1.0]).view(1, 2, 1, 1))
        rprelu.slope.copy_(torch.tensor([0.25, 0.1]))
        rprelu.shift_out.copy_(torch.tensor([1.0, 2.0]).view(1, 2, 1, 1))
    x = torch.tensor([[0.0, 3.0], [-3.0, 0.0]]).view(2, 2, 1, 1)  # sample, channel
    expected = [0.25 * (0.0 - 0.5) + 1.0, (3.0 + 1.0) + 2.0, 0.25 * (-3.0 - 0.5) + 1.0, (0.0 + 1.0) + 2.0]
    assert rprelu(x).flatten().tolist() == pytest.approx(expected)


def test_rprelu_starts_as_a_prelu() -> None:
    x = torch.randn(3, 4, 2, 2)
    torch.testing.assert_close(RPReLU(4)(x), torch.nn.functional.prelu(x, torch.full((4,), 0.25)))
