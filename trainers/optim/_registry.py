"""The optimizer registry: one entry per BNN optimizer, all that the trainers and the command line dispatch on.

A new optimizer is one module (its :class:`~trainers.optim.BinaryOptimizer` subclass and its
:class:`Hyperparameters` model) plus one :func:`register_optimizer` call; the built-ins are registered in
``_builtin``.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeAlias

from torch import Tensor
from torch.optim.optimizer import ParamsT

from bnn_errors import InvalidInputError
from trainers.optim._base import BinaryOptimizer
from trainers.optim._hyperparameters import H, Hyperparameters, parse_hyperparameters

if TYPE_CHECKING:
    from trainers.batched._optim import BatchedBinaryOptimizer

__all__ = [
    "BatchedFactory",
    "OptimizerEntry",
    "get_optimizer",
    "list_optimizers",
    "register_optimizer",
    "unregister_optimizer",
]

BatchedFactory: TypeAlias = Callable[[Sequence[Tensor], Sequence[H], Sequence[Tensor]], "BatchedBinaryOptimizer"]
"""Builds the optimizer of K members from their weights ``[K, ...]`` (one tensor per binary layer), their validated
hyperparameters (K models) and their tie signs (+-1, one tensor like each weight: what the single
:class:`~trainers.optim.FilterOptimizer` drew; other optimizers ignore them)."""


@dataclass(frozen=True, kw_only=True)
class OptimizerEntry(Generic[H]):
    """One BNN optimizer as the trainers see it.

    Flip counting needs no field, it is the same for every entry: a :class:`~trainers.optim.BinaryOptimizer`
    counts its weights' sign changes inside its own step into ``optimizer.flips`` (the batched counterparts into
    ``flips``, per member), and the trainers only read the ratio. With ``binarize`` the weights are the binary
    weights and a flip is a change of a weight; without it the optimizer keeps the latent weights' signs from the
    previous step in its own state and a flip is a change of sign(w).

    Attributes:
        name: what ``TrialSpec.optimizer``, the search spaces and ``--optimizer`` call it.
        optimizer: the optimizer class, built as ``optimizer(binary_weights, **hyperparameters)``: the model's
            fields are its keyword arguments and param-group keys.
        hyperparameters: the model of its hyperparameters; a required field is a required hyperparameter.
        decay_key: the hyperparameter the decay schedule decays (alpha, lr), None where none is a step size.
        binarize: whether the binary layers' weights are set to +-1 before training (the optimizer holds the binary
            weights themselves); False where they are latent weights whose magnitude matters (latent SGD).
        space: the name of the search space in ``search_spaces`` it is tuned over; None where there is none.
        batched: builds its counterpart for K members (see :data:`BatchedFactory`); None: its trials train one by
            one and cannot share a batch.

    Raises:
        InvalidInputError: at construction, an empty name, ``optimizer`` not a ``BinaryOptimizer`` subclass,
            ``hyperparameters`` not a :class:`Hyperparameters` model, a field without a description or that
            ``optimizer`` takes no keyword for, or a ``decay_key`` that is not a field.
    """

    name: str
    optimizer: type[BinaryOptimizer]
    hyperparameters: type[H]
    decay_key: str | None
    binarize: bool
    space: str | None
    batched: BatchedFactory[H] | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError("an optimizer entry needs a name")
        if not (inspect.isclass(self.optimizer) and issubclass(self.optimizer, BinaryOptimizer)):
            raise InvalidInputError(f"optimizer {self.name!r}: {self.optimizer!r} is not a BinaryOptimizer subclass")
        if not (inspect.isclass(self.hyperparameters) and issubclass(self.hyperparameters, Hyperparameters)):
            raise InvalidInputError(f"optimizer {self.name!r}: hyperparameters must be a Hyperparameters model")
        keywords = inspect.signature(self.optimizer).parameters
        for field, info in self.hyperparameters.model_fields.items():
            if not info.description:
                raise InvalidInputError(f"optimizer {self.name!r}: hyperparameter {field!r} has no description")
            if field not in keywords:
                raise InvalidInputError(f"optimizer {self.name!r}: {self.optimizer.__name__} takes no {field!r}")
        if self.decay_key is not None and self.decay_key not in self.hyperparameters.model_fields:
            raise InvalidInputError(f"optimizer {self.name!r}: decay_key {self.decay_key!r} is no hyperparameter")

    @property
    def hyperparameter_names(self) -> tuple[str, ...]:
        """Every hyperparameter it takes, in the model's order."""
        return tuple(self.hyperparameters.model_fields)

    @property
    def required_hyperparameters(self) -> tuple[str, ...]:
        """The hyperparameters without a default."""
        return tuple(name for name, info in self.hyperparameters.model_fields.items() if info.is_required())

    def parse(self, values: Mapping[str, object]) -> H:
        """``values`` validated as this optimizer's hyperparameters.

        Raises:
            InvalidInputError: a missing or unknown name, or a value out of its range (the message names the field
                and its range).
        """
        return parse_hyperparameters(self.hyperparameters, values, optimizer=self.name)

    def build(self, params: ParamsT, hyperparameters: H) -> BinaryOptimizer:
        """The optimizer on ``params`` with ``hyperparameters``.

        Raises:
            InvalidInputError: the optimizer rejects a value (a check beyond the model's, e.g. latent SGD's float32
                bound).
        """
        return self.optimizer(params, **hyperparameters.model_dump())


_lock = threading.Lock()
_entries: dict[str, OptimizerEntry[Any]] = {}


def register_optimizer(entry: OptimizerEntry[Any]) -> None:
    """Make ``entry`` available under ``entry.name``.

    Raises:
        InvalidInputError: an optimizer of that name is registered already.
    """
    with _lock:
        if entry.name in _entries:
            raise InvalidInputError(f"an optimizer named {entry.name!r} is registered already")
        _entries[entry.name] = entry


def unregister_optimizer(name: str) -> None:
    """Remove the optimizer ``name`` (for tests that register their own).

    Raises:
        InvalidInputError: no optimizer of that name is registered; the message lists those that are.
    """
    with _lock:
        if name not in _entries:
            raise InvalidInputError(_unknown(name))
        del _entries[name]


def get_optimizer(name: str) -> OptimizerEntry[Any]:
    """The entry of the optimizer ``name``.

    Raises:
        InvalidInputError: no optimizer of that name is registered; the message lists those that are.
    """
    with _lock:
        entry = _entries.get(name)
        if entry is None:
            raise InvalidInputError(_unknown(name))
        return entry


def list_optimizers() -> tuple[OptimizerEntry[Any], ...]:
    """Every registered optimizer, in the order of registration (the built-ins first)."""
    with _lock:
        return tuple(_entries.values())


def _unknown(name: str) -> str:
    return f"unknown optimizer {name!r}; known: {', '.join(_entries)}"
