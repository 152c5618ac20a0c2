"""The two suggestion paths behind one interface, picked by a study's ``suggester`` setting.

``"botorch"`` (the default) is the lean path, :class:`~tuner.bo.lean_adapter.LeanAdapter`: BoTorch called directly,
a few tenths of a second per suggestion. ``"ax"`` is :class:`~tuner.bo.ax_adapter.AxAdapter`, Ax's ``Client`` with
its own BoTorch model, seconds per suggestion; it stays so that any claim about the lean path can be checked beside
it. Ax is imported only when a study asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from bnn_errors import InvalidInputError
from search_spaces import SearchSpace
from tuner.bo.history import HistoryTrial, TrialBook
from tuner.study.config import Suggester

__all__ = ["SUGGESTERS", "Adapter", "Suggester", "new_adapter"]

SUGGESTERS: tuple[Suggester, ...] = get_args(Suggester)


Adapter = TrialBook
"""What the scheduler asks of a suggestion path: a :class:`~tuner.bo.history.TrialBook` with ``suggest`` and
``attach``."""


def new_adapter(
    suggester: Suggester,
    space: SearchSpace,
    *,
    seed: int,
    n_initial: int,
    history: Sequence[HistoryTrial] = (),
    objective: str = "val_accuracy",
) -> Adapter:
    """An adapter of the ``suggester`` path for a study of ``space``, continuing ``history`` where it is not empty.

    Raises:
        InvalidInputError: for an unknown ``suggester`` or the adapters' own argument errors.
    """
    if suggester == "botorch":
        from tuner.bo.lean_adapter import LeanAdapter

        if history:
            return LeanAdapter.rebuild(space, seed=seed, n_initial=n_initial, history=history, objective=objective)
        return LeanAdapter(space, seed=seed, n_initial=n_initial, objective=objective)
    if suggester == "ax":
        from tuner.bo.ax_adapter import AxAdapter

        if history:
            return AxAdapter.rebuild(space, seed=seed, n_initial=n_initial, history=history, objective=objective)
        return AxAdapter(space, seed=seed, n_initial=n_initial, objective=objective)
    raise InvalidInputError(f"suggester must be one of {list(SUGGESTERS)}, got {suggester!r}", field="suggester")
