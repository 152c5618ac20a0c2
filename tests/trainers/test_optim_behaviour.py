"""Behaviour of the BNN optimizers on a real small binary network (in the style of larq's optimizer tests):
binary weights stay binary, every weight can change, and the network learns a separable task."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from trainers.layers import BinaryLayer, BinaryLinear, sign_ste
from trainers.optim import BinaryOptimizer, build_optimizers

HYPERPARAMETERS = {
    "filter": {"alpha": 0.01, "gamma": 0.1},
    "bop": {"threshold": 1e-4, "gamma": 0.01},
    "latent": {"lr": 0.01, "momentum": 0.9, "weight_decay": 1.0},
}


class TinyBNN(nn.Module):
    """Real inputs -> binary linear -> BN -> sign -> binary linear -> BN -> 2 logits."""

    def __init__(self, features: int = 16, hidden: int = 64) -> None:
        super().__init__()
        self.fc1 = BinaryLinear(features, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = BinaryLinear(hidden, 2)
        self.bn2 = nn.BatchNorm1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.bn2(self.fc2(sign_ste(self.bn1(self.fc1(x)))))
        return logits


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: thread start-up and contention on a shared machine cost more than they save."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _separable(n: int, features: int, direction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian points at least 0.5 away from the hyperplane through 0 normal to ``direction``."""
    x = torch.randn(4 * n, features)
    margin = x @ direction / direction.norm()
    keep = margin.abs() > 0.5
    return x[keep][:n], (margin[keep][:n] > 0).long()


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x).argmax(dim=1) == y).float().mean())
    model.train()
    return accuracy


def _binary_layers(model: nn.Module) -> list[BinaryLayer]:
    return [m for m in model.modules() if isinstance(m, BinaryLayer)]


@pytest.mark.parametrize("name", ["filter", "bop"])
def test_small_bnn_learns_a_separable_task_with_binary_weights(name):
    torch.manual_seed(0)
    direction = torch.randn(16)
    x_train, y_train = _separable(512, 16, direction)
    x_test, y_test = _separable(512, 16, direction)
    model = TinyBNN()
    optimizers = build_optimizers(model, name, HYPERPARAMETERS[name], real_lr=1e-2)
    accuracy_before = _accuracy(model, x_test, y_test)
    start = time.perf_counter()
    for _ in range(12):
        for batch in torch.split(torch.randperm(len(x_train)), 64):
            loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
            for optimizer in optimizers:
                optimizer.zero_grad()
            torch.autograd.backward(loss)
            for optimizer in optimizers:
                optimizer.step()
            for layer in _binary_layers(model):
                assert torch.all(layer.weight.abs() == 1), "a binary weight left {-1, +1}"
    seconds = time.perf_counter() - start
    accuracy = _accuracy(model, x_test, y_test)
    assert accuracy_before < 0.8
    assert accuracy >= 0.9, f"{name}: test accuracy {accuracy:.3f}"
    bnn = optimizers[0]
    assert isinstance(bnn, BinaryOptimizer)
    assert 0.0 < bnn.flips.ratio() < 0.5
    assert seconds < 5.0


@pytest.mark.parametrize("name", ["filter", "bop", "latent"])
def test_every_binary_weight_can_flip(name):
    """A loss whose gradient is theta itself pushes every weight to the other sign: all must get there."""
    torch.manual_seed(1)
    model = TinyBNN()
    bnn = build_optimizers(model, name, HYPERPARAMETERS[name])[0]
    layers = _binary_layers(model)
    start = [layer.binary_weight().detach().clone() for layer in layers]
    flipped = [torch.zeros_like(s, dtype=torch.bool) for s in start]
    for _ in range(2000):
        bnn.zero_grad()
        loss = sum((layer.binary_weight() * layer.binary_weight().detach()).sum() for layer in layers)
        assert isinstance(loss, torch.Tensor)
        torch.autograd.backward(loss)
        bnn.step()
        for done, s, layer in zip(flipped, start, layers, strict=True):
            done |= layer.binary_weight() != s
        if all(bool(done.all()) for done in flipped):
            break
    assert all(bool(done.all()) for done in flipped)
