"""The model of each task, by name."""

from __future__ import annotations

import math

from torch import nn

from bnn_errors import InvalidInputError
from trainers.layers import BinaryOptions
from trainers.models._audio import AudioFC
from trainers.models._birealnet import BiRealNet20
from trainers.models._common import DEFAULT_BINARY, check_positive
from trainers.models._reactnet import ReActNetA

__all__ = ["MODEL_TASKS", "build_model"]

MODEL_TASKS = ("audio", "cifar10", "imagenet")
"""The task names `build_model` accepts."""


def build_model(
    task: str,
    *,
    num_classes: int,
    input_shape: tuple[int, ...],
    width: int | None = None,
    binary: BinaryOptions = DEFAULT_BINARY,
) -> nn.Module:
    """The network for ``task``: "audio" -> `AudioFC`, "cifar10" -> `BiRealNet20`, "imagenet" -> `ReActNetA`.

    Args:
        task: one of `MODEL_TASKS`.
        num_classes: number of classes (outputs).
        input_shape: shape of one sample: (features, ...) for audio, whose product is the input size;
            (3, height, width) for the image tasks.
        width: hidden units of `AudioFC` (default 64); the image models have fixed widths and ignore it.
        binary: latent-weight hyperparameters of the binary layers.

    Raises:
        InvalidInputError: an unknown task, a size that is not a positive integer, or an image shape that is
            not (3, height, width).
    """
    if task not in MODEL_TASKS:
        raise InvalidInputError(f"unknown task {task!r}; the tasks are {', '.join(MODEL_TASKS)}")
    if not input_shape:
        raise InvalidInputError("input_shape must have at least one dimension")
    check_positive(**{f"input_shape[{i}]": size for i, size in enumerate(input_shape)})
    if width is not None:
        check_positive(width=width)
    if task == "audio":
        return AudioFC(math.prod(input_shape), num_classes, 64 if width is None else width, binary=binary)
    if len(input_shape) != 3 or input_shape[0] != 3:
        raise InvalidInputError(f"task {task!r} takes (3, height, width) images, got {input_shape}")
    if task == "cifar10":
        return BiRealNet20(num_classes, binary=binary)
    return ReActNetA(num_classes, binary=binary)
