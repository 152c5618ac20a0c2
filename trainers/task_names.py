"""The names of the built-in tasks, importable without PyTorch (request validation needs them, training does not)."""

__all__ = ["TASKS"]

TASKS = ("audio", "cifar10", "imagenet")
