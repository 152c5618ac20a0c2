"""The registry of search spaces by name, pre-filled with the built-ins; users add their own at run time."""

from __future__ import annotations

import threading

from search_spaces._builtin import BOP_SPACE, FILTER_SPACE, LATENT_MATCHED_SPACE, LATENT_SPACE
from search_spaces._space import SearchSpace

__all__ = ["UnknownSpaceError", "get_space", "list_spaces", "register_space", "unregister_space"]


class UnknownSpaceError(LookupError):
    """No search space is registered under the name; the message lists the registered ones."""


_lock = threading.Lock()
_spaces: dict[str, SearchSpace] = {
    space.name: space for space in (LATENT_SPACE, FILTER_SPACE, BOP_SPACE, LATENT_MATCHED_SPACE)
}


def register_space(space: SearchSpace, *, replace: bool = False) -> None:
    """Make ``space`` available under ``space.name``.

    Raises ``ValueError`` if the name is taken and ``replace`` is false.
    """
    with _lock:
        if space.name in _spaces and not replace:
            raise ValueError(f"a search space named {space.name!r} is already registered (pass replace=True)")
        _spaces[space.name] = space


def unregister_space(name: str) -> None:
    """Remove the space called ``name``; raises :class:`UnknownSpaceError` if there is none."""
    with _lock:
        if name not in _spaces:
            raise UnknownSpaceError(_unknown_message(name))
        del _spaces[name]


def get_space(name: str) -> SearchSpace:
    """The space registered as ``name``; raises :class:`UnknownSpaceError` listing the registered names."""
    with _lock:
        space = _spaces.get(name)
        if space is None:
            raise UnknownSpaceError(_unknown_message(name))
        return space


def list_spaces() -> tuple[SearchSpace, ...]:
    """Every registered space, sorted by name."""
    with _lock:
        return tuple(_spaces[name] for name in sorted(_spaces))


def _unknown_message(name: str) -> str:
    return f"no search space named {name!r}; registered: {sorted(_spaces)}"
