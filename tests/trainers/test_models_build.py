"""build_model: the model of each task, its sizes and options, and the errors for bad requests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bnn_errors import InvalidInputError
from trainers.layers import BinaryLayer, BinaryOptions
from trainers.models import MODEL_TASKS, AudioFC, BiRealNet20, ReActNetA, build_model


def _binary_layers(model: nn.Module) -> list[BinaryLayer]:
    return [m for m in model.modules() if isinstance(m, BinaryLayer)]


def test_audio_model_takes_sizes_from_the_request() -> None:
    model = build_model("audio", num_classes=7, input_shape=(40,), width=16)
    assert isinstance(model, AudioFC)
    assert (model.fc1.in_features, model.fc1.out_features, model.bn4.num_features) == (40, 16, 7)
    assert model(torch.randn(3, 40)).shape == (3, 7)


def test_audio_width_defaults_to_64_and_features_are_flattened() -> None:
    model = build_model("audio", num_classes=10, input_shape=(32, 40))
    assert isinstance(model, AudioFC)
    assert (model.fc1.in_features, model.fc1.out_features) == (32 * 40, 64)
    assert model(torch.randn(2, 32, 40)).shape == (2, 10)


def test_image_tasks() -> None:
    cifar = build_model("cifar10", num_classes=10, input_shape=(3, 32, 32))
    assert isinstance(cifar, BiRealNet20)
    assert cifar.classifier.out_features == 10
    imagenet = build_model("imagenet", num_classes=100, input_shape=(3, 64, 64))
    assert isinstance(imagenet, ReActNetA)
    assert imagenet.classifier.out_features == 100


@pytest.mark.parametrize(("task", "shape"), [("audio", (12,)), ("cifar10", (3, 32, 32))])
def test_binary_options_reach_every_binary_layer(task: str, shape: tuple[int, ...]) -> None:
    options = BinaryOptions(init_scale=0.0, ste_clip=True, scaling=True)
    layers = _binary_layers(build_model(task, num_classes=4, input_shape=shape, width=8, binary=options))
    assert layers
    assert all(layer.ste_clip and layer.scaling and (layer.weight == 0).all() for layer in layers)


def test_unknown_task_names_the_allowed_tasks() -> None:
    assert MODEL_TASKS == ("audio", "cifar10", "imagenet")
    with pytest.raises(InvalidInputError, match="mnist") as raised:
        build_model("mnist", num_classes=10, input_shape=(1, 28, 28))
    assert all(task in str(raised.value) for task in MODEL_TASKS)


@pytest.mark.parametrize(
    ("task", "kwargs", "match"),
    [
        ("audio", {"num_classes": 0, "input_shape": (10,)}, "num_classes"),
        ("audio", {"num_classes": 3, "input_shape": ()}, "input_shape"),
        ("audio", {"num_classes": 3, "input_shape": (10, 0)}, "input_shape"),
        ("audio", {"num_classes": 3, "input_shape": (10,), "width": 0}, "width"),
        ("cifar10", {"num_classes": 10, "input_shape": (1, 32, 32)}, "height, width"),
        ("imagenet", {"num_classes": 10, "input_shape": (3, 64)}, "height, width"),
        ("cifar10", {"num_classes": 0, "input_shape": (3, 32, 32)}, "num_classes"),
    ],
)
def test_bad_sizes_raise_invalid_input(task: str, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        build_model(task, **kwargs)  # type: ignore[arg-type]


def test_invalid_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        build_model("", num_classes=2, input_shape=(4,))
