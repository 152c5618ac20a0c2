"""The REST API of bnn-tune: submit studies and comparisons, read their results (FastAPI, served by uvicorn).

``create_app`` builds the application; its lifespan opens the database and, in the embedded mode, runs the
tuner's scheduler in a background thread (:class:`SchedulerService`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import SchedulerService, create_app

__all__ = ["SchedulerService", "create_app"]


def __getattr__(name: str) -> Any:
    # The app pulls in the scheduler (PyTorch, Ax): loaded on first use, so that a client importing the request and
    # response models (``api.schemas``) does not pay for them.
    if name in __all__:
        from api import app

        return getattr(app, name)
    raise AttributeError(f"module 'api' has no attribute {name!r}")
