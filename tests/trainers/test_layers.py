"""Binary layers: the stored-theta fast path gives the same forward and gradient as the general sign path."""

from __future__ import annotations

import pytest
import torch

from bnn_errors import InvalidInputError
from trainers.layers import BinaryLinear, BinaryOptions


@pytest.mark.parametrize(("ste_clip", "scaling"), [(False, False), (True, True)])
def test_binarized_layer_matches_the_sign_path(ste_clip: bool, scaling: bool) -> None:
    torch.manual_seed(0)
    layer = BinaryLinear(8, 4, init_scale=0.5, ste_clip=ste_clip, scaling=scaling)
    x = torch.randn(5, 8)
    layer.binarize_()
    assert layer.holds_binary and bool((layer.weight.abs() == 1).all())
    fast = layer(x)
    fast.sum().backward()
    assert layer.weight.grad is not None
    fast_grad = layer.weight.grad.clone()
    layer.weight.grad = None
    layer.holds_binary = False  # the general path: sign with ties, STE, clipping and scaling
    slow = layer(x)
    slow.sum().backward()
    torch.testing.assert_close(fast, slow)
    torch.testing.assert_close(fast_grad, layer.weight.grad)


def test_negative_init_scale_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="init_scale"):
        BinaryOptions(init_scale=-1.0)
    with pytest.raises(InvalidInputError, match="init_scale"):
        BinaryLinear(2, 2, init_scale=-1.0)
