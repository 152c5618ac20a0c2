"""The BNN optimizers on a CUDA device: flip counts match a brute-force count, and a step never waits for the
device (the flip count stays on the GPU until ``ratio()``).

A device check, not part of ``make test`` (CI has no GPU): run it on a CUDA machine with
``python3 -m pytest benchmarks/device_checks``. It passed on an NVIDIA H200 (torch 2.11, 2026-11-28)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from trainers.layers import BinaryConv2d, BinaryLinear, sign_ste
from trainers.optim import BinaryOptimizer, Bop, FilterOptimizer, LatentSGD, build_optimizers

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="a device check: needs a CUDA device")


@pytest.fixture(autouse=True)
def reset_sync_debug_mode() -> Iterator[None]:
    """Tests switch sync debugging on ("error": any host-device sync raises); switch it off afterwards."""
    yield
    torch.cuda.set_sync_debug_mode("default")


def _binary(optimizer: BinaryOptimizer, p: torch.Tensor) -> torch.Tensor:
    return torch.where(p >= 0, 1.0, -1.0) if isinstance(optimizer, LatentSGD) else p.detach().clone()


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: FilterOptimizer(ps, alpha=0.3, gamma=0.5),
        lambda ps: FilterOptimizer(ps, alpha=0.3, gamma=0.5, generator=torch.Generator("cpu").manual_seed(0)),
        lambda ps: Bop(ps, threshold=0.05, gamma=0.5),
        lambda ps: LatentSGD(ps, lr=0.5, momentum=0.5, weight_decay=0.5, clip=1.0),
    ],
)
def test_flip_counts_on_cuda_match_brute_force_without_syncing(make):
    generator = torch.Generator("cuda").manual_seed(0)
    shapes = [(64, 32, 3, 3), (10, 64), (7,)]
    params = [
        nn.Parameter(torch.where(torch.rand(s, device="cuda", generator=generator) < 0.5, -1.0, 1.0)) for s in shapes
    ]
    optimizer = make(params)
    grads = [[torch.randn(s, device="cuda", generator=generator) for s in shapes] for _ in range(20)]
    brute_force = torch.zeros((), device="cuda")
    for step, step_grads in enumerate(grads):
        # a CPU generator's tie signs are copied to the device when the state is created: one sync, once
        if step == 1 or not isinstance(optimizer, FilterOptimizer) or optimizer.generator is None:
            torch.cuda.set_sync_debug_mode("error")
        before = [_binary(optimizer, p) for p in params]
        for p, g in zip(params, step_grads, strict=True):
            p.grad = g
        optimizer.step()
        for p, b in zip(params, before, strict=True):
            brute_force += (_binary(optimizer, p) != b).sum()
    torch.cuda.set_sync_debug_mode("default")
    weights = sum(p.numel() for p in params)
    assert optimizer.flips.ratio() == pytest.approx(float(brute_force) / (20 * weights), abs=1e-9)
    assert 0.0 < optimizer.flips.ratio() < 1.0


class _ConvBNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = BinaryConv2d(3, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.fc = BinaryLinear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.fc(sign_ste(self.bn(self.conv(x))).mean(dim=(2, 3)))
        return logits


@pytest.mark.parametrize(
    ("name", "hyperparameters"),
    [
        ("filter", {"alpha": 1e-3, "gamma": 1e-2}),
        ("bop", {"threshold": 1e-6, "gamma": 1e-3}),
        ("latent", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}),
    ],
)
def test_training_steps_on_cuda_never_sync(name, hyperparameters):
    torch.manual_seed(0)
    model = _ConvBNN().cuda()
    bnn, adam = build_optimizers(model, name, hyperparameters)
    assert adam.defaults["fused"] is True
    x, y = torch.randn(8, 3, 8, 8, device="cuda"), torch.randint(0, 10, (8,), device="cuda")
    for step in range(3):
        loss = nn.functional.cross_entropy(model(x), y)
        for optimizer in (bnn, adam):
            optimizer.zero_grad()
        torch.autograd.backward(loss)
        if step == 0:  # the first step creates the state (and copies filter tie signs from the CPU)
            bnn.step()
            adam.step()
            continue
        torch.cuda.set_sync_debug_mode("error")
        try:
            bnn.step()
            adam.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert isinstance(bnn, BinaryOptimizer)
    assert 0.0 <= bnn.flips.ratio() <= 1.0
