"""Optimizers for binary neural networks, their registry, and the helpers that route a model's parameters to them.

- :class:`FilterOptimizer`: binary weights as the sign of a second-order low-pass filter on the gradient
  (alpha, gamma; Quist, Li and van Gemert, ICLR 2023).
- :class:`LatentSGD`: latent-weight SGD with momentum, weight decay and optional clipping (paper Eq 1-5).
- :class:`FrozenBinary`: changes nothing; the control with binary weights frozen at their random init.
- :class:`Bop`: flips binary weights by a thresholded gradient average (Helwegen et al., NeurIPS 2019).

Each counts its binary weights' sign changes as it steps (``optimizer.flips``, a :class:`FlipCounter`).
Each is registered by name (:func:`get_optimizer`, :func:`list_optimizers`) as an :class:`OptimizerEntry`: its
class, its hyperparameter model (:class:`FilterHyperparameters`, ...), the hyperparameter the schedule decays,
whether it binarizes the weights, its search space and its batched counterpart; :func:`register_optimizer` adds
another. :func:`build_optimizers` pairs one of them with Adam for the real-valued parameters;
:class:`HyperparameterDecay` decays alpha (or any other hyperparameter) over a run.
"""

from trainers.optim import _builtin  # noqa: F401  (registers the built-in optimizers)
from trainers.optim._base import BinaryOptimizer
from trainers.optim._bop import Bop, BopHyperparameters
from trainers.optim._decay import SCHEDULES, HyperparameterDecay, decay_factor
from trainers.optim._filter import FilterHyperparameters, FilterOptimizer
from trainers.optim._flips import FlipCounter
from trainers.optim._frozen import FrozenBinary, FrozenHyperparameters
from trainers.optim._groups import build_optimizers, split_parameters
from trainers.optim._hyperparameters import Hyperparameters
from trainers.optim._latent import LatentHyperparameters, LatentSGD
from trainers.optim._registry import (
    BatchedFactory,
    OptimizerEntry,
    get_optimizer,
    list_optimizers,
    register_optimizer,
    unregister_optimizer,
)

__all__ = [
    "SCHEDULES",
    "BatchedFactory",
    "BinaryOptimizer",
    "Bop",
    "BopHyperparameters",
    "FilterHyperparameters",
    "FilterOptimizer",
    "FlipCounter",
    "FrozenBinary",
    "FrozenHyperparameters",
    "HyperparameterDecay",
    "Hyperparameters",
    "LatentHyperparameters",
    "LatentSGD",
    "OptimizerEntry",
    "build_optimizers",
    "decay_factor",
    "get_optimizer",
    "list_optimizers",
    "register_optimizer",
    "split_parameters",
    "unregister_optimizer",
]
