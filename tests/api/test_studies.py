"""``/studies`` on SQLite and PostgreSQL: submit, list (filters, pages), read, trials, curves, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.api.conftest import METRICS, finished_study, storage_of
from tuner.study.early_stopping import EarlyStopping

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

STUDY = {"task": "audio", "space": "filter", "n_trials": 3, "epochs": 1, "seed": 7}


def test_post_queues_a_study_and_get_reads_it_back(any_client: TestClient) -> None:
    body = {**STUDY, "parallelism": 2, "batch_size": 32, "max_train": 300}
    response = any_client.post("/studies", json=body)
    assert response.status_code == 201, response.text
    study = response.json()
    assert response.headers["location"] == f"/studies/{study['id']}"
    assert study["state"] == "queued"
    assert (study["task"], study["space"], study["n_trials"], study["epochs"]) == ("audio", "filter", 3, 1)
    assert (study["seed"], study["parallelism"], study["batch_size"], study["max_train"]) == (7, 2, 32, 300)
    stored = storage_of(any_client).get_study(study["id"])
    assert (stored.state, stored.config.seed, stored.config.max_train) == ("queued", 7, 300)

    detail = any_client.get(f"/studies/{study['id']}").json()
    assert detail["id"] == study["id"]
    assert (detail["trials_done"], detail["trials"], detail["best_objective"]) == (0, [], None)


def test_early_stopping_is_stored_as_sent(any_client: TestClient) -> None:
    rule = {"rule": "percentile", "percentile": 25.0, "min_epochs": 2}
    response = any_client.post("/studies", json={**STUDY, "early_stopping": rule})
    assert response.status_code == 201, response.text
    assert storage_of(any_client).get_study(
        response.json()["id"]
    ).config.early_stopping == EarlyStopping.model_validate(rule)


def test_list_filters_and_pages(any_client: TestClient) -> None:
    storage = storage_of(any_client)
    latent = finished_study(storage, "latent")
    ids = [any_client.post("/studies", json=STUDY).json()["id"] for _ in range(4)]

    page = any_client.get("/studies", params={"limit": 2}).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 0)
    assert [s["id"] for s in page["items"]] == ids[::-1][:2]  # newest first
    rest = any_client.get("/studies", params={"limit": 2, "offset": 4}).json()
    assert [s["id"] for s in rest["items"]] == [latent]

    assert any_client.get("/studies", params={"space": "latent"}).json()["total"] == 1
    assert any_client.get("/studies", params={"state": "completed"}).json()["items"][0]["id"] == latent
    assert any_client.get("/studies", params={"state": "queued", "space": "filter"}).json()["total"] == 4
    assert any_client.get("/studies", params={"task": "cifar10"}).json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }


def test_finished_study_shows_trials_best_and_curves(any_client: TestClient) -> None:
    study_id = finished_study(storage_of(any_client), "filter", [0.5, None, 0.8, 0.7])
    detail = any_client.get(f"/studies/{study_id}").json()
    assert detail["state"] == "completed"
    assert detail["trials_done"] == 4
    assert detail["best_objective"] == pytest.approx(0.8)
    assert set(detail["best_parameters"]) == {"alpha", "gamma"}
    assert detail["best_so_far"] == pytest.approx([0.5, 0.5, 0.8, 0.8])
    assert [t["state"] for t in detail["trials"]] == ["completed", "failed", "completed", "completed"]
    assert all("points" not in t or t["points"] is None for t in detail["trials"])

    trials = any_client.get(f"/studies/{study_id}/trials").json()
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    assert trials[1]["error"] == "diverged"
    with_points = any_client.get(f"/studies/{study_id}/trials", params={"points": "true"}).json()
    assert [p["epoch"] for p in with_points[2]["points"]] == [1, 2]

    curve = any_client.get(f"/studies/{study_id}/trials/2/curve").json()
    assert (curve["study_id"], curve["number"], curve["state"]) == (study_id, 2, "completed")
    assert [p["epoch"] for p in curve["points"]] == [1, 2]
    assert set(curve["points"][-1]) == {"epoch", *METRICS}
    assert curve["points"][-1]["val_accuracy"] == pytest.approx(0.8)


def test_cancel_a_queued_study_then_cancelling_again_conflicts(any_client: TestClient) -> None:
    study_id = any_client.post("/studies", json=STUDY).json()["id"]
    response = any_client.post(f"/studies/{study_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    assert storage_of(any_client).get_study(study_id).state == "cancelled"

    again = any_client.post(f"/studies/{study_id}/cancel")
    assert again.status_code == 409
    assert again.json()["type"] == "ConflictError"


def test_cancelling_a_finished_study_conflicts_and_changes_nothing(any_client: TestClient) -> None:
    study_id = finished_study(storage_of(any_client))
    response = any_client.post(f"/studies/{study_id}/cancel")
    assert response.status_code == 409
    assert "completed" in response.json()["detail"]
    assert storage_of(any_client).get_study(study_id).state == "completed"


@pytest.mark.parametrize(
    "path",
    ["/studies/999", "/studies/999/trials", "/studies/999/trials/0/curve", "/studies/999/export.csv"],
)
def test_unknown_study_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["type"] == "NotFoundError"
    assert "999" in response.json()["detail"]


def test_unknown_trial_number_is_404(client: TestClient) -> None:
    study_id = finished_study(storage_of(client))
    response = client.get(f"/studies/{study_id}/trials/3/curve")
    assert response.status_code == 404
    assert "trial number 3" in response.json()["detail"]
