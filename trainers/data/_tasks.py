"""One entry point that loads a task's data by name."""

from __future__ import annotations

import os

from bnn_errors import InvalidInputError
from trainers.data._audio import load_audio
from trainers.data._cifar import load_cifar10
from trainers.data._imagenet import load_imagenet
from trainers.data._splits import TaskData
from trainers.task_names import TASKS

__all__ = ["TASKS", "load_task_data"]


def load_task_data(
    task: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    max_train: int | None = None,
    folds: int = 1,
    fold: int = 0,
) -> TaskData:
    """The data of ``task`` ("audio", "cifar10" or "imagenet") with each loader's defaults.

    ``folds`` > 1 asks for fold ``fold`` of a k-fold split of the non-test data (the audio task's takes split).

    Raises:
        InvalidInputError: an unknown task (the message lists the known ones), folds for a task without them, or
            what the loader raises.
        DataNotFoundError: the task's data set is not found.
    """
    if task == "audio":
        return load_audio(data_dir, max_train=max_train, folds=folds, fold=fold)
    if folds != 1:
        raise InvalidInputError(f"folds: k-fold validation is implemented for the audio task only, not {task!r}")
    if task == "cifar10":
        return load_cifar10(data_dir, max_train=max_train)
    if task == "imagenet":
        return load_imagenet(data_dir, max_train=max_train)
    raise InvalidInputError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
