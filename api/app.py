"""The FastAPI application: routers, error handlers, and a lifespan that owns the database and the scheduler.

Embedded mode (the default of ``bnn-tune serve``): the scheduler ticks in a background thread of the API
process.
Cluster mode: the API runs with ``run_scheduler=False`` and ``bnn-tune scheduler`` runs the same
:class:`SchedulerService` in its own process; both share the database.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from api.deps import ComparisonViews
from api.errors import ERROR_RESPONSES, install_error_handlers
from api.routes import comparisons, export, health, optimizers, spaces, studies
from tuner.execution.executor import Executor
from tuner.execution.runner import ExecutorKind, build_executor, build_scheduler, open_storage
from tuner.execution.scheduler import Scheduler
from tuner.settings import Settings, get_settings
from tuner.storage import Storage

__all__ = ["MAX_BODY_BYTES", "SchedulerService", "create_app"]

log = logging.getLogger(__name__)

# Requests are small JSON objects; anything larger is refused (413) before it is parsed.
MAX_BODY_BYTES = 64 * 1024
_PAGES_MODULE = "api.routes.pages"
_DESCRIPTION = (
    "Bayesian-optimization tuning of binary neural network optimizers: submit studies and comparisons of "
    "search spaces (latent-weight SGD against the alpha/gamma filter), and read their results."
)


class SchedulerService:
    """The tuner's scheduler ticking until stopped, in a thread (:meth:`start`) or the caller (:meth:`run`).

    A tick that raises is logged and tried again after ``retry_seconds``, so that a database outage or one bad
    study does not end the service; :meth:`health` reports the error until a tick succeeds again. When no
    study is queued or running the loop sleeps ``idle_seconds`` between ticks.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        executor: Executor,
        *,
        executor_kind: str,
        idle_seconds: float,
        retry_seconds: float = 5.0,
    ) -> None:
        self.scheduler = scheduler
        self.executor = executor
        self.executor_kind = executor_kind
        self.idle_seconds = idle_seconds
        self.retry_seconds = retry_seconds
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, storage: Storage, settings: Settings, kind: ExecutorKind) -> SchedulerService:
        """A service on ``storage`` with the configured scheduler and a new executor (Ray connects here)."""
        executor = build_executor(settings, kind)
        scheduler = build_scheduler(storage, executor, settings)
        idle = settings.scheduler_poll_seconds
        return cls(scheduler, executor, executor_kind=kind, idle_seconds=idle)

    def run(self) -> None:
        """Run the scheduler's loop until :attr:`stop_event` is set, riding out failed ticks."""
        self.scheduler.run(self.stop_event, idle_seconds=self.idle_seconds, retry_seconds=self.retry_seconds)

    def start(self) -> None:
        """Run :meth:`run` in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="bnn-tune-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Set the stop event, wait for the tick in progress to end, and shut the executor down."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join()
        self.executor.shutdown()
        self.scheduler.close()

    def health(self) -> str:
        """``ok``, ``stopped``, or the error of the last tick."""
        if self.scheduler.last_error is not None:
            return f"error: {self.scheduler.last_error}"
        if self.stop_event.is_set() or (self._thread is not None and not self._thread.is_alive()):
            return "stopped"
        return "ok"


def _version() -> str:
    try:
        return version("bnn-tune")
    except PackageNotFoundError:
        return "unknown"


def create_app(
    settings: Settings | None = None, *, run_scheduler: bool = True, executor: ExecutorKind = "ray"
) -> FastAPI:
    """The bnn-tune API.

    Args:
        settings: the service's settings; ``None`` reads them from the environment (``get_settings()``).
        run_scheduler: run the tuner's scheduler in a background thread while the app is up (embedded mode).
        executor: where that scheduler runs trials: ``ray`` (local Ray or the configured cluster) or
            ``inline`` (in this process, one trial at a time).

    The lifespan opens and migrates the database (``app.state.storage``) and starts the scheduler
    (``app.state.scheduler``, or ``None``); on shutdown it stops the scheduler, waiting for its current tick.
    """
    config = get_settings() if settings is None else settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = await asyncio.to_thread(open_storage, config)
        service: SchedulerService | None = None
        try:
            if run_scheduler:
                service = await asyncio.to_thread(SchedulerService.from_settings, storage, config, executor)
                service.start()
            app.state.storage = storage
            app.state.scheduler = service
            if config.api_token is None:
                log.warning("BNN_TUNE_API_TOKEN is not set: the API is open to anyone who can reach it")
            log.info("bnn-tune API on %s (scheduler: %s)", storage.url, executor if run_scheduler else "off")
            yield
        finally:
            if service is not None:
                await asyncio.to_thread(service.stop)
            storage.close()

    app = FastAPI(
        title="bnn-tune",
        version=_version(),
        description=_DESCRIPTION,
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.settings = config
    app.state.scheduler = None
    app.state.comparison_views = ComparisonViews()
    install_error_handlers(app)
    for router in (studies.router, comparisons.router, spaces.router, optimizers.router, export.router):
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(health.router)
    # The web pages come last and are optional, so that the JSON API runs without them.
    if importlib.util.find_spec(_PAGES_MODULE) is not None:
        app.include_router(importlib.import_module(_PAGES_MODULE).router)
    return app
