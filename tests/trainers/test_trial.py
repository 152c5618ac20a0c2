"""The trial loop on the real FSDD recordings: curves, determinism, divergence, bad input."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from bnn_errors import InvalidInputError, TrainingDivergedError
from trainers.data import TaskData, TensorSplit, load_task_data
from trainers.models import build_model
from trainers.optim import build_optimizers, split_parameters
from trainers.trial import EpochPoint, TrialSpec, train_trial

QUICK = TrialSpec(
    task="audio",
    optimizer="filter",
    hyperparameters={"alpha": 1e-3, "gamma": 0.1},
    epochs=2,
    max_train=600,
    device="cpu",
)


@pytest.fixture(scope="module")
def audio() -> TaskData:
    return load_task_data("audio", max_train=600)


def test_reports_one_point_per_epoch(audio: TaskData) -> None:
    seen: list[EpochPoint] = []
    result = train_trial(QUICK, on_epoch=seen.append, data=audio)
    assert [p.epoch for p in seen] == [1, 2]
    assert result.points == tuple(seen)
    for point in seen:
        assert 0.0 <= point.val_accuracy <= 1.0 and 0.0 <= point.test_accuracy <= 1.0
        assert 0.0 < point.flip_ratio <= 1.0
        assert math.isfinite(point.train_loss) and point.seconds > 0
    # Ten classes: chance is 10%; two short epochs on 600 recordings already do clearly better.
    assert result.final.val_accuracy > 0.2
    summary = result.summary()
    assert summary["val_accuracy"] == result.final.val_accuracy
    assert len(summary["points"]) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("optimizer", "hyperparameters"),
    [
        ("filter", {"alpha": 1e-3, "gamma": 0.1}),
        ("latent", {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
        ("bop", {"threshold": 1e-6, "gamma": 1e-3}),
    ],
)
def test_deterministic_under_a_seed(audio: TaskData, optimizer: str, hyperparameters: dict[str, float]) -> None:
    spec = dataclasses.replace(QUICK, optimizer=optimizer, hyperparameters=hyperparameters, epochs=1)
    first, second = train_trial(spec, data=audio), train_trial(spec, data=audio)
    strip = [dataclasses.replace(p, seconds=0.0) for p in first.points]
    assert strip == [dataclasses.replace(p, seconds=0.0) for p in second.points]
    other = train_trial(dataclasses.replace(spec, seed=1), data=audio)
    assert other.final.train_loss != first.final.train_loss


def test_non_finite_loss_raises_a_typed_error(audio: TaskData) -> None:
    train = audio.train
    assert isinstance(train, TensorSplit)
    x = train.x.clone()
    x[0] = float("inf")
    poisoned = dataclasses.replace(audio, train=TensorSplit(x, train.y, audio.num_classes))
    # A single infinite input poisons the real-valued first layer; the sign activations hide it from the loss.
    with pytest.raises(TrainingDivergedError, match=r"epoch 1.*parameters"):
        train_trial(dataclasses.replace(QUICK, epochs=1), data=poisoned)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"decay": "step"}, "decay"),
        ({"width": 0}, "width"),
    ],
)
def test_bad_spec_names_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        dataclasses.replace(QUICK, **change)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"optimizer": "adam"}, "adam"),
        ({"task": "mnist"}, "mnist"),
        ({"hyperparameters": {"alpha": 1.5, "gamma": 0.1}}, "alpha"),
        ({"device": "cuda:0" if not torch.cuda.is_available() else "nonsense"}, "device"),
    ],
)
def test_bad_trial_input_is_rejected(audio: TaskData, change: dict[str, object], message: str) -> None:
    spec = dataclasses.replace(QUICK, **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=message):
        train_trial(spec, data=None if "task" in change else audio)


def test_frozen_control_keeps_the_initial_signs_and_trains_the_real_parameters(audio: TaskData) -> None:
    torch.manual_seed(0)
    model = build_model("audio", num_classes=audio.num_classes, input_shape=audio.input_shape)
    initial_signs = [torch.where(p >= 0, 1.0, -1.0) for p in split_parameters(model)[0]]
    initial_real = [p.detach().clone() for p in split_parameters(model)[1]]
    optimizers = build_optimizers(model, "frozen", {})
    loss_fn = torch.nn.CrossEntropyLoss()
    for x, y in audio.train.batches(64, shuffle=True, generator=torch.Generator().manual_seed(0), device="cpu"):
        loss = loss_fn(model(x), y)
        for opt in optimizers:
            opt.zero_grad()
        loss.backward()
        for opt in optimizers:
            opt.step()
    binary, real = split_parameters(model)
    assert all(torch.equal(p, s) for p, s in zip(binary, initial_signs, strict=True))
    assert any(not torch.equal(p, r) for p, r in zip(real, initial_real, strict=True))

    seen: list[EpochPoint] = []
    result = train_trial(dataclasses.replace(QUICK, optimizer="frozen", hyperparameters={}), on_epoch=seen.append)
    assert [p.flip_ratio for p in seen] == [0.0, 0.0]
    # Ten classes: the real-valued layers alone get well above chance through fixed random binary layers.
    assert result.final.train_accuracy > 0.3


def test_frozen_control_takes_no_hyperparameters() -> None:
    with pytest.raises(InvalidInputError, match="unknown alpha"):
        train_trial(dataclasses.replace(QUICK, optimizer="frozen"))
