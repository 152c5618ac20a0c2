"""Optimizers for binary neural networks and the helpers that route a model's parameters to them.

- :class:`FilterOptimizer`: binary weights as the sign of a second-order low-pass filter on the gradient
  (alpha, gamma; Quist, Li and van Gemert, ICLR 2023).
- :class:`LatentSGD`: latent-weight SGD with momentum, weight decay and optional clipping (paper Eq 1-5).
- :class:`FrozenBinary`: changes nothing; the control with binary weights frozen at their random init.
- :class:`Bop`: flips binary weights by a thresholded gradient average (Helwegen et al., NeurIPS 2019).

Each counts its binary weights' sign changes as it steps (``optimizer.flips``, a :class:`FlipCounter`).
:func:`build_optimizers` pairs one of them with Adam for the real-valued parameters;
:class:`HyperparameterDecay` decays alpha (or any other hyperparameter) over a run.
"""

from trainers.optim._base import BinaryOptimizer
from trainers.optim._bop import Bop
from trainers.optim._decay import SCHEDULES, HyperparameterDecay, decay_factor
from trainers.optim._filter import FilterOptimizer
from trainers.optim._flips import FlipCounter
from trainers.optim._frozen import FrozenBinary
from trainers.optim._groups import BNN_OPTIMIZERS, build_optimizers, split_parameters
from trainers.optim._latent import LatentSGD

__all__ = [
    "BNN_OPTIMIZERS",
    "SCHEDULES",
    "BinaryOptimizer",
    "Bop",
    "FilterOptimizer",
    "FlipCounter",
    "FrozenBinary",
    "HyperparameterDecay",
    "LatentSGD",
    "build_optimizers",
    "decay_factor",
    "split_parameters",
]
