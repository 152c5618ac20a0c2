"""BiRealNet20: ResNet-20 layout with a Bi-Real shortcut around every binary 3x3 conv."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from bnn_errors import InvalidInputError
from trainers.layers import BinaryConv2d, BinaryLayer, BinaryOptions
from trainers.models import BiRealNet20
from trainers.models._birealnet import _BiRealConv


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Small inputs: a second thread only adds synchronisation, which costs dearly on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _binary_layers(model: nn.Module) -> list[BinaryLayer]:
    return [m for m in model.modules() if isinstance(m, BinaryLayer)]


def _units(model: BiRealNet20) -> list[_BiRealConv]:
    units = [unit for unit in model.features if isinstance(unit, _BiRealConv)]
    assert len(units) == len(model.features)
    return units


def _real_convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d) and not isinstance(m, BinaryLayer)]


def test_forward_shapes() -> None:
    torch.manual_seed(0)
    model = BiRealNet20()
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 10)
    assert model.features(model.stem(x)).shape == (2, 64, 8, 8)
    assert BiRealNet20(num_classes=3)(torch.randn(2, 3, 17, 17)).shape == (2, 3)


def test_layout_18_binary_3x3_convs_and_real_ends() -> None:
    model = BiRealNet20()
    binary = _binary_layers(model)
    assert len(binary) == 18
    assert all(isinstance(m, BinaryConv2d) and m.kernel_size == (3, 3) and m.bias is None for m in binary)
    assert [m.out_channels for m in binary] == [16] * 6 + [32] * 6 + [64] * 6
    assert sum(m.stride == (2, 2) for m in binary) == 2
    real = _real_convs(model)
    assert (real[0].in_channels, real[0].out_channels, real[0].kernel_size) == (3, 16, (3, 3))
    # The two downsampling shortcuts: real 1x1 convs behind an average pooling.
    assert [(m.in_channels, m.out_channels, m.kernel_size) for m in real[1:]] == [
        (16, 32, (1, 1)),
        (32, 64, (1, 1)),
    ]
    assert sum(isinstance(m, nn.AvgPool2d) for m in model.modules()) == 2
    assert isinstance(model.classifier, nn.Linear) and not isinstance(model.classifier, BinaryLayer)
    assert (model.classifier.in_features, model.classifier.out_features) == (64, 10)


def test_parameter_count() -> None:
    model = BiRealNet20()
    convs3x3 = 9 * (6 * 16 * 16 + 32 * 16 + 5 * 32 * 32 + 64 * 32 + 5 * 64 * 64)
    batch_norms = 2 * (16 + 6 * 16 + 6 * 32 + 6 * 64 + 32 + 64)
    expected = 3 * 16 * 9 + convs3x3 + 16 * 32 + 32 * 64 + batch_norms + 64 * 10 + 10
    assert sum(p.numel() for p in model.parameters()) == expected


def test_every_binary_conv_has_its_own_shortcut() -> None:
    torch.manual_seed(0)
    model = BiRealNet20().eval()
    units = _units(model)
    assert len(units) == 18
    with torch.no_grad():
        x = model.stem(torch.randn(2, 3, 32, 32))
        for unit in units:
            (conv,) = [m for m in unit.modules() if isinstance(m, BinaryConv2d)]
            expected = unit.bn(conv(torch.where(x >= 0, 1.0, -1.0))) + unit.shortcut(x)
            x = unit(x)
            torch.testing.assert_close(x, expected)


def test_shortcuts_are_the_real_valued_path() -> None:
    # With the BatchNorm after every binary conv zeroed, each unit reduces to its shortcut: identities, and
    # the two AvgPool + 1x1 conv + BN downsamplings.
    torch.manual_seed(0)
    model = BiRealNet20().eval()
    units = _units(model)
    with torch.no_grad():
        for unit in units:
            unit.bn.weight.zero_()
            unit.bn.bias.zero_()
        stem = model.stem(torch.randn(2, 3, 32, 32))
        pool, conv, bn = units[6].shortcut.children()
        assert isinstance(pool, nn.AvgPool2d) and isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
        expected = units[12].shortcut(bn(conv(nn.functional.avg_pool2d(stem, 2))))
        torch.testing.assert_close(model.features(stem), expected)


def test_backward_gives_finite_gradients_on_every_parameter() -> None:
    torch.manual_seed(0)
    model = BiRealNet20()
    torch.autograd.backward(nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3])))
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert all(layer.weight.grad.abs().sum() > 0 for layer in _binary_layers(model))  # type: ignore[union-attr]


@pytest.mark.parametrize("scaling", [False, True])
def test_effective_weights_are_binary(scaling: bool) -> None:
    torch.manual_seed(0)
    for layer in _binary_layers(BiRealNet20(binary=BinaryOptions(scaling=scaling))):
        w = layer.weight
        scale = w.abs().mean(dim=(1, 2, 3), keepdim=True) if scaling else torch.ones(1)
        effective = layer.binary_weight()
        torch.testing.assert_close(effective, torch.where(w == 0, layer.tie_signs, torch.sign(w)) * scale)
        assert (effective.abs() == scale.expand_as(w)).all()


def test_binary_options_reach_every_binary_layer() -> None:
    options = BinaryOptions(init_scale=0.5, ste_clip=True, scaling=True)
    for layer in _binary_layers(BiRealNet20(binary=options)):
        assert layer.ste_clip and layer.scaling
        assert layer.weight.abs().max() <= 0.5


def test_zero_init_scale_gives_varied_output() -> None:
    torch.manual_seed(0)
    model = BiRealNet20(binary=BinaryOptions(init_scale=0.0))
    assert all((layer.weight == 0).all() for layer in _binary_layers(model))
    out = model(torch.randn(4, 3, 32, 32))
    assert torch.isfinite(out).all()
    assert (out.std(dim=0) > 0).all()


def test_invalid_num_classes_raises() -> None:
    with pytest.raises(InvalidInputError, match="num_classes"):
        BiRealNet20(num_classes=0)
