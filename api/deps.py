"""Dependencies of the routes, as ``Annotated`` aliases: settings, storage, comparison views, access control.

With an API token configured (``BNN_TUNE_API_TOKEN``), every mutating request needs ``Authorization: Bearer
<token>``, and reads need it too when ``BNN_TUNE_AUTH_READS`` is set; otherwise the answer is 401. Without a
token the service is open (it warns at start).
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tuner.analysis.reports import comparison_view
from tuner.settings import Settings
from tuner.storage import Storage
from tuner.study.states import StudyState

__all__ = [
    "ComparisonViews",
    "ComparisonViewsDep",
    "Credentials",
    "ReadAccess",
    "SettingsDep",
    "StorageDep",
    "WriteAccess",
    "require_read",
    "require_write",
]


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


class ComparisonViews:
    """Comparison views (``tuner.analysis.reports.comparison_view``) and their JSON, remembered once completed.

    A view costs one query per study and a bootstrap of the analysis (about 150 ms for 2 x 20 studies of 25
    trials). A completed comparison never changes again (its studies have all ended and no scheduler adds
    trials to them), so its view is computed once. Views of comparisons still running, failed or cancelled are
    computed afresh on every call, since a trial may still end in one of their studies. Thread-safe; keeps the
    ``size`` most recently used views.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._views: OrderedDict[int, tuple[dict[str, Any], bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def cached_json(self, comparison_id: int) -> bytes | None:
        """The remembered JSON of a completed comparison, or ``None``; touches no database."""
        with self._lock:
            entry = self._views.get(comparison_id)
            if entry is None:
                return None
            self._views.move_to_end(comparison_id)
            return entry[1]

    def get(self, storage: Storage, comparison_id: int) -> dict[str, Any]:
        """The view of comparison ``comparison_id`` as a dict; raises ``NotFoundError``."""
        return self._entry(storage, comparison_id)[0]

    def get_json(self, storage: Storage, comparison_id: int) -> bytes:
        """The view of comparison ``comparison_id`` as ``ComparisonPublic`` JSON; raises as :meth:`get`."""
        return self._entry(storage, comparison_id)[1]

    def _entry(self, storage: Storage, comparison_id: int) -> tuple[dict[str, Any], bytes]:
        with self._lock:
            entry = self._views.get(comparison_id)
            if entry is not None:
                self._views.move_to_end(comparison_id)
                return entry
        report = comparison_view(storage, comparison_id)
        view = report.model_dump(mode="json")
        entry = (view, report.model_dump_json().encode())
        if report.state is StudyState.COMPLETED:
            with self._lock:
                self._views[comparison_id] = entry
                while len(self._views) > self._size:
                    self._views.popitem(last=False)
        return entry


async def _comparison_views(request: Request) -> ComparisonViews:
    views: ComparisonViews = request.app.state.comparison_views
    return views


# The dependencies are coroutines although they never wait: FastAPI would run plain functions in its thread
# pool, one hop per dependency per request.
SettingsDep = Annotated[Settings, Depends(_settings)]
StorageDep = Annotated[Storage, Depends(_storage)]
ComparisonViewsDep = Annotated[ComparisonViews, Depends(_comparison_views)]

_bearer = HTTPBearer(auto_error=False, description="the service's API token (BNN_TUNE_API_TOKEN)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _check_token(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> None:
    if settings.api_token is None:
        return
    expected = settings.api_token.get_secret_value().encode()
    given = b"" if credentials is None else credentials.credentials.encode()
    # compare_digest takes as long for a near miss as for a wild guess: timing tells nothing about the token.
    if not hmac.compare_digest(given, expected):
        raise HTTPException(
            status_code=401,
            detail="this request needs the API token: Authorization: Bearer <BNN_TUNE_API_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def require_write(settings: SettingsDep, credentials: Credentials) -> None:
    """Refuse a mutating request without the API token (when one is configured) with 401."""
    _check_token(settings, credentials)


async def require_read(settings: SettingsDep, credentials: Credentials) -> None:
    """Refuse a read without the API token with 401, when one is configured and reads need it."""
    if settings.auth_reads:
        _check_token(settings, credentials)


WriteAccess = Depends(require_write)
ReadAccess = Depends(require_read)
