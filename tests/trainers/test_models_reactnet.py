"""ReActNetA: MobileNet-V1 layout of binary blocks with RSign and RPReLU, real stem and classifier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from bnn_errors import InvalidInputError
from trainers.layers import BinaryConv2d, BinaryLayer, BinaryOptions
from trainers.models import ReActNetA, RPReLU, RSign

# (input channels, output channels, stride) of the 13 blocks: MobileNet-V1's layout.
_BLOCKS = [
    (32, 64, 1),
    (64, 128, 2),
    (128, 128, 1),
    (128, 256, 2),
    (256, 256, 1),
    (256, 512, 2),
    *[(512, 512, 1)] * 5,
    (512, 1024, 2),
    (1024, 1024, 1),
]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Small inputs: a second thread only adds synchronisation, which costs dearly on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model() -> ReActNetA:
    torch.manual_seed(0)
    return ReActNetA(num_classes=1000)


def _binary_layers(model: nn.Module) -> list[BinaryLayer]:
    return [m for m in model.modules() if isinstance(m, BinaryLayer)]


def test_forward_shapes_on_small_and_odd_inputs(model: ReActNetA) -> None:
    model.train()
    for size in (32, 40):
        assert model(torch.randn(2, 3, size, size)).shape == (2, 1000)


def test_block_channels_and_strides(model: ReActNetA) -> None:
    model.eval()
    shapes: list[tuple[int, ...]] = []
    hooks = [b.register_forward_hook(lambda _m, _i, out: shapes.append(out.shape[1:])) for b in model.features]
    try:
        with torch.no_grad():
            model(torch.randn(1, 3, 64, 64))
    finally:
        for hook in hooks:
            hook.remove()
    side = 32  # the stem's stride 2
    expected = []
    for _, out_channels, stride in _BLOCKS:
        side //= stride
        expected.append((out_channels, side, side))
    assert shapes == expected


def test_real_stem_and_classifier_binary_blocks(model: ReActNetA) -> None:
    real_convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and not isinstance(m, BinaryLayer)]
    assert len(real_convs) == 1
    stem = real_convs[0]
    assert (stem.in_channels, stem.out_channels, stem.kernel_size, stem.stride) == (3, 32, (3, 3), (2, 2))
    assert isinstance(model.classifier, nn.Linear) and not isinstance(model.classifier, BinaryLayer)
    assert (model.classifier.in_features, model.classifier.out_features) == (1024, 1000)
    binary = _binary_layers(model)
    doubling = sum(out_channels == 2 * in_channels for in_channels, out_channels, _ in _BLOCKS)
    assert doubling == 5
    assert len(binary) == 2 * len(_BLOCKS) + doubling
    assert all(isinstance(m, BinaryConv2d) and m.bias is None for m in binary)
    assert sum(m.kernel_size == (3, 3) for m in binary) == len(_BLOCKS)
    assert sum(isinstance(m, RSign) for m in model.modules()) == 2 * len(_BLOCKS)
    assert sum(isinstance(m, RPReLU) for m in model.modules()) == 2 * len(_BLOCKS)
    assert sum(isinstance(m, nn.AvgPool2d) for m in model.modules()) == 4


def test_binary_convs_see_binary_inputs(model: ReActNetA) -> None:
    model.eval()
    seen: list[torch.Tensor] = []
    binary = _binary_layers(model)
    hooks = [layer.register_forward_pre_hook(lambda _m, args: seen.append(args[0])) for layer in binary]
    try:
        with torch.no_grad():
            model(torch.randn(2, 3, 32, 32))
    finally:
        for hook in hooks:
            hook.remove()
    assert len(seen) == len(binary)
    assert all(set(torch.unique(x).tolist()) <= {-1.0, 1.0} for x in seen)


def test_parameter_count(model: ReActNetA) -> None:
    expected = 3 * 32 * 9 + 2 * 32 + 1024 * 1000 + 1000
    for c_in, c_out, _ in _BLOCKS:
        expected += 9 * c_in * c_in + c_in * c_out  # binary 3x3 and 1x1 convs (the latter duplicated if doubling)
        expected += 2 * c_in + 2 * c_out  # BatchNorms
        expected += 2 * c_in  # RSign thresholds
        expected += 3 * c_in + 3 * c_out  # RPReLU shifts and slopes
    assert sum(p.numel() for p in model.parameters()) == expected


def test_backward_gives_finite_gradients_on_every_parameter(model: ReActNetA) -> None:
    model.train()
    model.zero_grad(set_to_none=True)
    torch.autograd.backward(nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3])))
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert all(layer.weight.grad.abs().sum() > 0 for layer in _binary_layers(model))  # type: ignore[union-attr]
    model.zero_grad(set_to_none=True)


def test_effective_weights_are_binary(model: ReActNetA) -> None:
    for layer in _binary_layers(model):
        w = layer.weight
        # Among 28 million uniform draws a few land on exactly 0: those take their fixed tie sign.
        torch.testing.assert_close(layer.binary_weight(), torch.where(w == 0, layer.tie_signs, torch.sign(w)))


def test_options_scaling_clipping_and_zero_init() -> None:
    torch.manual_seed(0)
    model = ReActNetA(num_classes=5, binary=BinaryOptions(init_scale=0.0, ste_clip=True))
    binary = _binary_layers(model)
    assert all(layer.ste_clip and not layer.scaling for layer in binary)
    assert all((layer.weight == 0).all() for layer in binary)
    out = model(torch.randn(4, 3, 32, 32))
    assert torch.isfinite(out).all()
    assert (out.std(dim=0) > 0).all()


def test_invalid_num_classes_raises() -> None:
    with pytest.raises(InvalidInputError, match="num_classes"):
        ReActNetA(num_classes=-1)
