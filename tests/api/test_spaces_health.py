"""``/spaces``, ``/healthz``, ``/readyz``, the OpenAPI document, and the scheduler behind readiness."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from api import SchedulerService, create_app
from search_spaces import list_spaces
from tests.api.conftest import make_settings
from tuner.storage import Storage

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.testclient import TestClient


def test_spaces_lists_every_registered_space_with_its_parameters(client: TestClient) -> None:
    spaces = {s["name"]: s for s in client.get("/spaces").json()}
    assert set(spaces) == {space.name for space in list_spaces()} >= {"latent", "filter", "bop"}
    filter_space = spaces["filter"]
    assert filter_space["optimizer"] == "filter"
    params = {p["name"]: p for p in filter_space["parameters"]}
    assert set(params) == {"alpha", "gamma"}
    assert params["alpha"]["kind"] == "range" and 0 < params["alpha"]["lower"] < params["alpha"]["upper"] <= 1
    latent = {p["name"]: p for p in spaces["latent"]["parameters"]}
    assert len(latent) == 6
    assert any(p["kind"] == "choice" and p["choices"] for p in latent.values())
    assert client.get("/spaces/latent").json() == spaces["latent"]


def test_unknown_space_is_404(client: TestClient) -> None:
    response = client.get("/spaces/nope")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_health_and_readiness_without_a_scheduler(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {
        "status": "ready",
        "database": "ok",
        "scheduler": "off",
        "executor": None,
    }


def test_the_embedded_scheduler_starts_and_stops_with_the_app(sqlite_url: str) -> None:
    from fastapi.testclient import TestClient

    settings = make_settings(sqlite_url, scheduler_poll_seconds=0.05)
    app = create_app(settings, run_scheduler=True, executor="inline")
    with TestClient(app) as client:
        readiness = client.get("/readyz").json()
        assert readiness == {"status": "ready", "database": "ok", "scheduler": "ok", "executor": "inline"}
        service = app.state.scheduler
        assert any(t.name == "bnn-tune-scheduler" for t in threading.enumerate())
    assert service.health() == "stopped"
    assert not any(t.name == "bnn-tune-scheduler" for t in threading.enumerate())


def test_a_failing_scheduler_reports_its_error_and_keeps_trying(tmp_path: Path) -> None:
    # No tables in this database: every tick fails until it is migrated.
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    storage = Storage(url)
    service = SchedulerService.from_settings(storage, make_settings(url), "inline")
    service.retry_seconds = 0.05
    service.start()
    try:
        deadline = time.monotonic() + 10
        while not service.health().startswith("error") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service.health().startswith("error: StorageUnavailableError"), service.health()
        storage.migrate()
        while service.health() != "ok" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service.health() == "ok"
    finally:
        service.stop()
    assert service.health() == "stopped"


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_the_api_documents_itself(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_openapi_names_every_json_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/studies": {"get", "post"},
        "/studies/{study_id}": {"get"},
        "/studies/{study_id}/trials": {"get"},
        "/studies/{study_id}/trials/{number}/curve": {"get"},
        "/studies/{study_id}/cancel": {"post"},
        "/studies/{study_id}/export.csv": {"get"},
        "/comparisons": {"get", "post"},
        "/comparisons/{comparison_id}": {"get"},
        "/comparisons/{comparison_id}/cancel": {"post"},
        "/comparisons/{comparison_id}/export.csv": {"get"},
        "/spaces": {"get"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path


def test_optimizers_come_from_the_registry(any_client: TestClient) -> None:
    from search_spaces import get_space
    from trainers.optim import list_optimizers

    response = any_client.get("/optimizers")
    assert response.status_code == 200
    listed = {o["name"]: o for o in response.json()}
    assert list(listed) == [entry.name for entry in list_optimizers()]
    assert listed["filter"]["space"] == "filter" and listed["filter"]["decay_key"] == "alpha"
    assert set(listed["latent"]["hyperparameters"]["properties"]) == {"lr", "momentum", "weight_decay", "clip"}
    assert listed["frozen"]["space"] is None and not listed["latent"]["binarize"]
    for entry in list_optimizers():
        if entry.space is not None:  # the space an optimizer is tuned over trains that optimizer
            assert get_space(entry.space).optimizer == entry.name
