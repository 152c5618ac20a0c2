"""The optimizer registry: the built-in entries, errors that name what is wrong, and a new optimizer as one module
plus one registration."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from pydantic import Field
from torch import Tensor, nn
from torch.optim.optimizer import ParamsT

from bnn_errors import InvalidInputError
from search_spaces import get_space
from trainers.batched import check_batch, train_batch, worth_batching
from trainers.data import TaskData, load_task_data
from trainers.layers import BinaryLinear
from trainers.optim import (
    BinaryOptimizer,
    Bop,
    BopHyperparameters,
    FilterHyperparameters,
    FilterOptimizer,
    FrozenBinary,
    FrozenHyperparameters,
    Hyperparameters,
    LatentHyperparameters,
    LatentSGD,
    OptimizerEntry,
    build_optimizers,
    get_optimizer,
    list_optimizers,
    register_optimizer,
    unregister_optimizer,
)
from trainers.trial import TrialSpec, train_trial

KNOWN = "known: filter, latent, bop, frozen"

# --- a new optimizer: one module (class and hyperparameter model) plus one registration ----------------------


class SignSGDHyperparameters(Hyperparameters):
    """The toy sign-SGD's one hyperparameter."""

    threshold: float = Field(gt=0, description="a weight flips where its gradient pushes against it beyond this")


class SignSGD(BinaryOptimizer):
    """Flip a binary weight theta where its gradient g agrees with its sign and is strong: g * theta > threshold.

    Gradient descent would move theta against g, so a weight the gradient pushes hard enough changes sign.
    """

    def __init__(self, params: ParamsT, threshold: float) -> None:
        super().__init__(params, {"threshold": threshold})

    def _check_group(self, group: dict[str, Any]) -> None:
        if not group["threshold"] > 0:
            raise InvalidInputError(f"threshold must be > 0, got {group['threshold']}")

    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> Tensor | None:
        flipped = torch.zeros((), device=params[0].device)
        for p, g in zip(params, grads, strict=True):
            flip = g * p > group["threshold"]
            p.mul_(torch.where(flip, -1.0, 1.0))
            flipped += flip.sum()
        return flipped


SIGN_SGD = OptimizerEntry(
    name="sign_sgd",
    optimizer=SignSGD,
    hyperparameters=SignSGDHyperparameters,
    decay_key="threshold",
    binarize=True,
    space=None,
)


@pytest.fixture
def sign_sgd() -> Iterator[OptimizerEntry[SignSGDHyperparameters]]:
    register_optimizer(SIGN_SGD)
    try:
        yield SIGN_SGD
    finally:
        unregister_optimizer(SIGN_SGD.name)


@pytest.fixture(scope="module")
def audio() -> TaskData:
    return load_task_data("audio", max_train=160)


# --- the built-ins ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "optimizer", "model", "decay_key", "binarize", "space", "required"),
    [
        ("filter", FilterOptimizer, FilterHyperparameters, "alpha", True, "filter", ("alpha", "gamma")),
        ("latent", LatentSGD, LatentHyperparameters, "lr", False, "latent", ("lr", "momentum", "weight_decay")),
        ("bop", Bop, BopHyperparameters, None, True, "bop", ("threshold", "gamma")),
        ("frozen", FrozenBinary, FrozenHyperparameters, None, True, None, ()),
    ],
)
def test_builtin_optimizers_are_registered_with_their_fields(
    name: str,
    optimizer: type[BinaryOptimizer],
    model: type[Hyperparameters],
    decay_key: str | None,
    binarize: bool,
    space: str | None,
    required: tuple[str, ...],
) -> None:
    entry = get_optimizer(name)
    assert entry.name == name and entry.optimizer is optimizer and entry.hyperparameters is model
    assert (entry.decay_key, entry.binarize, entry.space) == (decay_key, binarize, space)
    assert entry.batched is not None
    assert entry.required_hyperparameters == required
    assert all(info.description for info in model.model_fields.values())
    if space is not None:
        assert get_space(space).optimizer == name
    assert entry in list_optimizers()


def test_builtins_come_first_in_registration_order() -> None:
    assert [entry.name for entry in list_optimizers()][:4] == ["filter", "latent", "bop", "frozen"]


def test_latent_clip_is_optional() -> None:
    entry = get_optimizer("latent")
    assert entry.hyperparameter_names == ("lr", "momentum", "weight_decay", "clip")
    assert entry.parse({"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0}) == LatentHyperparameters(
        lr=0.1, momentum=0.9, weight_decay=0.0, clip=None
    )


# --- errors -------------------------------------------------------------------------------------------------------


def test_unknown_name_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match=f"unknown optimizer 'nope'; {KNOWN}"):
        get_optimizer("nope")
    model = nn.Sequential(BinaryLinear(4, 2))
    with pytest.raises(InvalidInputError, match=f"unknown optimizer 'nope'; {KNOWN}"):
        build_optimizers(model, "nope", {"threshold": 1e-6, "gamma": 1e-3})


def test_batched_path_rejects_an_unknown_name_and_never_trains_bop() -> None:
    spec = TrialSpec(task="audio", optimizer="nope", hyperparameters={"threshold": 1e-6, "gamma": 1e-3})
    assert worth_batching(spec, cuda_available=False) is False
    with pytest.raises(InvalidInputError, match=f"'nope'; {KNOWN}"):
        check_batch([spec])
    with pytest.raises(InvalidInputError, match=f"'nope'; {KNOWN}"):
        train_batch([dataclasses.replace(spec, optimizer="filter", hyperparameters={"alpha": 0.1, "gamma": 0.1}), spec])


@pytest.mark.parametrize(
    ("name", "hyperparameters", "message"),
    [
        ("filter", {"alpha": 0.0, "gamma": 0.1}, r"^alpha must be in \(0, 1\], got 0\.0$"),
        ("filter", {"alpha": 0.1, "gamma": 1.5}, r"^gamma must be in \(0, 1\], got 1\.5$"),
        ("filter", {"alpha": "0.1", "gamma": 0.1}, r"^alpha must be in \(0, 1\], got '0\.1'$"),
        ("latent", {"lr": 0.1, "momentum": 1.0, "weight_decay": 0.0}, r"^momentum must be in \[0, 1\), got 1\.0$"),
        ("latent", {"lr": float("inf"), "momentum": 0.9, "weight_decay": 0.0}, r"^lr must be in \(0, inf\), got inf$"),
        ("latent", {"lr": 0.1, "momentum": 0.9, "weight_decay": -1.0}, r"^weight_decay must be in \[0, inf\)"),
        ("latent", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "clip": 0.0}, r"^clip must be in \(0, inf\)"),
        ("bop", {"threshold": float("nan"), "gamma": 0.1}, r"^threshold must be in \(0, inf\), got nan$"),
        ("filter", {"alpha": 0.1}, r"missing gamma \(expected alpha in \(0, 1\], gamma in \(0, 1\]\)$"),
        ("latent", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0, "wd": 1}, r"unknown wd .*clip in \(0, inf\)"),
        ("frozen", {"alpha": 0.1}, r"'frozen': unknown alpha \(expected none\)$"),
    ],
)
def test_a_bad_hyperparameter_is_named_with_its_range(name: str, hyperparameters: dict[str, Any], message: str) -> None:
    torch.manual_seed(0)
    layer = BinaryLinear(4, 2)
    before = layer.weight.detach().clone()
    with pytest.raises(InvalidInputError, match=message):
        build_optimizers(nn.Sequential(layer), name, hyperparameters)
    assert torch.equal(layer.weight, before)


def test_a_name_registers_once() -> None:
    with pytest.raises(InvalidInputError, match="'filter' is registered already"):
        register_optimizer(dataclasses.replace(get_optimizer("filter")))
    with pytest.raises(InvalidInputError, match="unknown optimizer 'sign_sgd'"):
        unregister_optimizer("sign_sgd")


class _Undescribed(Hyperparameters):
    threshold: float = Field(gt=0)


class _Unaccepted(Hyperparameters):
    gamma: float = Field(gt=0, le=1, description="a rate SignSGD does not take")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "needs a name"),
        ({"optimizer": torch.optim.SGD}, "not a BinaryOptimizer subclass"),
        ({"hyperparameters": dict}, "must be a Hyperparameters model"),
        ({"hyperparameters": _Undescribed}, "'threshold' has no description"),
        ({"hyperparameters": _Unaccepted, "decay_key": None}, "SignSGD takes no 'gamma'"),
        ({"decay_key": "lr"}, "decay_key 'lr' is no hyperparameter"),
    ],
)
def test_an_inconsistent_entry_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        dataclasses.replace(SIGN_SGD, **changes)


# --- a registered toy optimizer trains ------------------------------------------------------------------------------


def test_a_registered_optimizer_trains_through_build_optimizers(
    sign_sgd: OptimizerEntry[SignSGDHyperparameters],
) -> None:
    torch.manual_seed(0)
    x = torch.randn(256, 16)
    teacher = torch.where(torch.rand(4, 16) < 0.5, -1.0, 1.0)
    y = (x @ teacher.T).argmax(dim=1)
    layer = BinaryLinear(16, 4)
    model = nn.Sequential(layer, nn.BatchNorm1d(4))
    bnn, adam = build_optimizers(model, "sign_sgd", {"threshold": 1e-3}, real_lr=1e-2)
    assert isinstance(bnn, SignSGD) and isinstance(adam, torch.optim.Adam)
    initial = layer.weight.detach().clone()
    assert torch.all(initial.abs() == 1)  # binarize=True: the weights start as theta in {-1, +1}

    def accuracy() -> float:
        model.eval()
        with torch.no_grad():
            return float((model(x).argmax(dim=1) == y).float().mean())

    before = accuracy()
    for _ in range(30):
        model.train()
        loss = nn.functional.cross_entropy(model(x), y)
        bnn.zero_grad()
        adam.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        bnn.step()
        adam.step()
    assert torch.all(layer.weight.abs() == 1)
    assert not torch.equal(layer.weight, initial)
    assert bnn.flips.steps == 30 and bnn.flips.ratio() > 0
    assert accuracy() > before


def test_a_registered_optimizer_without_a_batched_counterpart_trains_alone(
    sign_sgd: OptimizerEntry[SignSGDHyperparameters], audio: TaskData
) -> None:
    spec = TrialSpec(
        task="audio",
        optimizer="sign_sgd",
        hyperparameters={"threshold": 1e-4},
        epochs=1,
        width=16,
        max_train=160,
        device="cpu",
    )
    assert worth_batching(spec, cuda_available=True) is False
    with pytest.raises(InvalidInputError, match="'sign_sgd' of member 0 has no batched counterpart"):
        check_batch([spec])
    result = train_trial(spec, data=audio)
    assert result.final.flip_ratio > 0
    with pytest.raises(InvalidInputError, match=r"^threshold must be in \(0, inf\), got -1\.0$"):
        train_trial(dataclasses.replace(spec, hyperparameters={"threshold": -1.0}), data=audio)
