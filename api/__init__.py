"""The REST API of bnn-tune: submit studies and comparisons, read their results (FastAPI, served by uvicorn).

``create_app`` builds the application; its lifespan opens the database and, in the embedded mode, runs the
tuner's scheduler in a background thread (:class:`SchedulerService`).
"""

from api.app import SchedulerService, create_app

__all__ = ["SchedulerService", "create_app"]
