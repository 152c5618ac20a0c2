"""AudioFC: layout, binary weights and their options, gradients, and a small learning check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from bnn_errors import InvalidInputError
from trainers.layers import BinaryLayer, BinaryLinear, BinaryOptions
from trainers.models import AudioFC


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # These tensors are tiny: a second thread only adds synchronisation, which costs dearly on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _binary_layers(model: nn.Module) -> list[BinaryLayer]:
    return [m for m in model.modules() if isinstance(m, BinaryLayer)]


def _signs(layer: BinaryLayer) -> torch.Tensor:
    """sign(w), with the layer's fixed tie sign where w is exactly 0."""
    return torch.where(layer.weight == 0, layer.tie_signs, torch.sign(layer.weight))


def _split_params(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(latent weights of the binary layers, every other parameter)."""
    latent = [layer.weight for layer in _binary_layers(model)]
    ids = {id(p) for p in latent}
    return latent, [p for p in model.parameters() if id(p) not in ids]


def test_forward_shape_and_flattening() -> None:
    torch.manual_seed(0)
    model = AudioFC(40, num_classes=7, width=16)
    assert model(torch.randn(5, 40)).shape == (5, 7)
    assert model(torch.randn(5, 8, 5)).shape == (5, 7)


def test_layout_three_binary_layers_one_real_linear() -> None:
    model = AudioFC(1280, 10, 64)
    binary = _binary_layers(model)
    real_linears = [m for m in model.modules() if isinstance(m, nn.Linear) and not isinstance(m, BinaryLayer)]
    assert len(binary) == 3
    assert all(isinstance(m, BinaryLinear) for m in binary)
    assert len(real_linears) == 1
    assert real_linears[0].in_features == 1280
    assert [tuple(m.weight.shape) for m in binary] == [(64, 64), (64, 64), (10, 64)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == 4
    assert model.bn4.num_features == 10
    # A BatchNorm follows every linear layer, so none carries a bias.
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Linear))


def test_parameter_counts() -> None:
    def count(width: int) -> int:
        return sum(p.numel() for p in AudioFC(1280, 10, width).parameters())

    # weights 1280*w + 2*w*w + 10*w, BatchNorm affine 2*(3*w + 10)
    assert count(64) == 1280 * 64 + 2 * 64 * 64 + 640 + 2 * (3 * 64 + 10)
    assert count(256) == 1280 * 256 + 2 * 256 * 256 + 2560 + 2 * (3 * 256 + 10)


def test_backward_gives_finite_gradients_on_every_parameter() -> None:
    torch.manual_seed(0)
    model = AudioFC(20, 4, 8)
    torch.autograd.backward(nn.functional.cross_entropy(model(torch.randn(16, 20)), torch.randint(0, 4, (16,))))
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    for layer in _binary_layers(model):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_binary_weights_are_signs_and_are_used_in_forward() -> None:
    torch.manual_seed(0)
    model = AudioFC(12, 3, 6)
    for layer in _binary_layers(model):
        effective = layer.binary_weight()
        assert set(torch.unique(effective).tolist()) <= {-1.0, 1.0}
        torch.testing.assert_close(effective, _signs(layer))
    x = torch.randn(4, 6)
    torch.testing.assert_close(model.fc2(x), x @ _signs(model.fc2).T)


def test_binary_layers_see_binary_inputs() -> None:
    torch.manual_seed(0)
    model = AudioFC(12, 3, 6)
    seen: list[torch.Tensor] = []
    hooks = [layer.register_forward_pre_hook(lambda _m, args: seen.append(args[0])) for layer in _binary_layers(model)]
    try:
        model(torch.randn(8, 12))
    finally:
        for hook in hooks:
            hook.remove()
    assert len(seen) == 3
    assert all(set(torch.unique(x).tolist()) == {-1.0, 1.0} for x in seen)


def test_binary_options_reach_every_binary_layer() -> None:
    options = BinaryOptions(init_scale=0.01, ste_clip=True, scaling=True)
    for layer in _binary_layers(AudioFC(10, 3, 8, binary=options)):
        assert layer.ste_clip and layer.scaling
        assert layer.weight.abs().max() <= 0.01


def test_scaling_multiplies_by_mean_abs_latent_weight_per_output() -> None:
    torch.manual_seed(0)
    layer = BinaryLinear(6, 4, scaling=True)
    scale = layer.weight.abs().mean(dim=1, keepdim=True)
    torch.testing.assert_close(layer.binary_weight(), _signs(layer) * scale)
    for row, s in zip(layer.binary_weight(), scale.flatten(), strict=True):
        assert set(torch.unique(row.abs()).tolist()) == pytest.approx([s.item()])
    for model_layer in _binary_layers(AudioFC(6, 3, 5, binary=BinaryOptions(scaling=True))):
        scale = model_layer.weight.abs().mean(dim=1, keepdim=True)
        torch.testing.assert_close(model_layer.binary_weight(), _signs(model_layer) * scale)


def _set_latent(weight: torch.Tensor, large: torch.Tensor) -> None:
    """Latent weights of magnitude 2 where ``large``, 0.5 elsewhere, signs alternating."""
    signs = torch.where(torch.arange(weight.numel()).view_as(weight) % 2 == 0, 1.0, -1.0)
    with torch.no_grad():
        weight.copy_(signs * torch.where(large, 2.0, 0.5))


@pytest.mark.parametrize("ste_clip", [True, False])
def test_ste_clip_zeroes_gradient_where_latent_weight_exceeds_one(ste_clip: bool) -> None:
    torch.manual_seed(0)
    layer = BinaryLinear(8, 4, ste_clip=ste_clip)
    large = torch.rand(4, 8) < 0.5
    _set_latent(layer.weight, large)
    torch.autograd.backward(layer(torch.randn(16, 8)).pow(2).sum())
    assert layer.weight.grad is not None
    assert (layer.weight.grad[~large] != 0).all()
    assert (layer.weight.grad[large] == 0).all() == ste_clip
    assert (layer.weight.grad[large] != 0).all() != ste_clip


@pytest.mark.parametrize("ste_clip", [True, False])
def test_ste_clip_through_audio_fc(ste_clip: bool) -> None:
    torch.manual_seed(0)
    model = AudioFC(10, 3, 8, binary=BinaryOptions(ste_clip=ste_clip))
    large = torch.rand(8, 8) < 0.5
    _set_latent(model.fc3.weight, large)
    torch.autograd.backward(nn.functional.cross_entropy(model(torch.randn(32, 10)), torch.randint(0, 3, (32,))))
    grad = model.fc3.weight.grad
    assert grad is not None
    assert grad[~large].abs().sum() > 0
    assert (grad[large].abs().sum() == 0) == ste_clip


def test_zero_init_scale_uses_tie_signs_and_gives_varied_output() -> None:
    torch.manual_seed(0)
    model = AudioFC(10, 5, 16, binary=BinaryOptions(init_scale=0.0))
    for layer in _binary_layers(model):
        assert (layer.weight == 0).all()
        torch.testing.assert_close(layer.binary_weight(), layer.tie_signs)
    out = model(torch.randn(32, 10))
    assert torch.isfinite(out).all()
    assert (out.std(dim=0) > 0.1).all()
    assert (out.argmax(dim=1) != out.argmax(dim=1)[0]).any()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"in_features": 0}, "in_features"), ({"num_classes": 0}, "num_classes"), ({"width": -3}, "width")],
)
def test_invalid_sizes_raise(kwargs: dict[str, int], name: str) -> None:
    args = {"in_features": 10, "num_classes": 3, "width": 8} | kwargs
    with pytest.raises(InvalidInputError, match=name):
        AudioFC(args["in_features"], args["num_classes"], args["width"])


def _separable_problem(seed: int) -> tuple[torch.Tensor, ...]:
    """10 Gaussian clusters in 32 dimensions: 512 training and 512 test points."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(10, 32, generator=g)
    y = torch.randint(0, 10, (1024,), generator=g)
    x = centers[y] + 0.5 * torch.randn(1024, 32, generator=g)
    return x[:512], y[:512], x[512:], y[512:]


def _train(model: AudioFC, real: list[nn.Parameter], latent_lr: float, seed: int) -> float:
    """300 steps of Adam on ``real`` and plain SGD on the latent weights; returns the test accuracy."""
    x_train, y_train, x_test, y_test = _separable_problem(seed)
    latent, _ = _split_params(model)
    optimizers = [torch.optim.Adam(real, lr=1e-2), torch.optim.SGD(latent, lr=latent_lr)]
    g = torch.Generator().manual_seed(seed)
    for _ in range(300):
        batch = torch.randint(0, 512, (64,), generator=g)
        loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
        for opt in optimizers:
            opt.zero_grad()
        torch.autograd.backward(loss)
        for opt in optimizers:
            opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(x_test).argmax(dim=1) == y_test).float().mean())


def test_tiny_audio_fc_learns_a_separable_problem() -> None:
    torch.manual_seed(0)
    model = AudioFC(32, 10, 32)
    latent, real = _split_params(model)
    signs_before = [w.detach().sign() for w in latent]
    accuracy = _train(model, real, latent_lr=0.5, seed=0)
    assert accuracy > 0.8  # chance is 0.1
    assert any((w.sign() != s).any() for w, s in zip(latent, signs_before, strict=True))


def test_binary_layers_learn_through_the_ste() -> None:
    # With the real first layer frozen, only the binary layers (and the BatchNorms) can fit the classes.
    def accuracy(latent_lr: float) -> float:
        torch.manual_seed(1)
        model = AudioFC(32, 10, 32, binary=BinaryOptions(init_scale=0.1))
        model.fc1.weight.requires_grad_(False)
        batch_norms = [p for m in model.modules() if isinstance(m, nn.BatchNorm1d) for p in m.parameters()]
        return _train(model, batch_norms, latent_lr, seed=1)

    frozen, trained = accuracy(0.0), accuracy(0.5)
    assert trained > 0.85
    assert trained > frozen + 0.15
