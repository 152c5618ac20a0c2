"""``/comparisons`` on SQLite and PostgreSQL: submit, list, read the Figure 8 analysis, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.api.conftest import finished_comparison, run_study, storage_of

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

COMPARISON: dict[str, Any] = {
    "task": "audio",
    "spaces": ["latent", "filter"],
    "replicates": 3,
    "n_trials": 4,
    "epochs": 2,
    "seed": 11,
}


def test_post_queues_replicate_studies_of_every_space(any_client: TestClient) -> None:
    response = any_client.post("/comparisons", json={**COMPARISON, "max_train": 300})
    assert response.status_code == 201, response.text
    view = response.json()
    assert response.headers["location"] == f"/comparisons/{view['id']}"
    assert (view["state"], view["spaces"], view["replicates"], view["seed"]) == (
        "queued",
        ["latent", "filter"],
        3,
        11,
    )
    assert (view["trials_done"], view["trials_total"], view["analysis"]) == (0, 24, None)
    assert view["max_train"] == 300
    studies = view["studies"]
    assert sorted((s["space"], s["replicate"]) for s in studies) == [
        (space, r) for space in ("filter", "latent") for r in range(3)
    ]
    stored = storage_of(any_client).list_studies(comparison_id=view["id"])
    seeds = {(s.config.space, s.replicate): s.config.seed for s in stored}
    assert seeds[("latent", 1)] == seeds[("filter", 1)] != seeds[("filter", 2)]  # common random numbers
    assert any_client.get("/studies", params={"comparison_id": view["id"]}).json()["total"] == 6


def test_finished_comparison_has_the_figure_8_analysis(any_client: TestClient) -> None:
    comparison_id = finished_comparison(storage_of(any_client), replicates=3, n_trials=4)
    view = any_client.get(f"/comparisons/{comparison_id}").json()
    assert view["state"] == "completed"
    assert (view["trials_done"], view["trials_total"]) == (24, 24)
    analysis = view["analysis"]
    spaces = {s["name"]: s for s in analysis["spaces"]}
    assert set(spaces) == {"latent", "filter"}
    filter_space = spaces["filter"]
    assert len(filter_space["best_so_far_mean"]) == 4
    assert all(
        lo <= mean <= hi
        for lo, mean, hi in zip(
            filter_space["best_so_far_lo"],
            filter_space["best_so_far_mean"],
            filter_space["best_so_far_hi"],
            strict=True,
        )
    )
    # The seeded filter studies climb twice as fast, so they reach the common target sooner.
    assert filter_space["trials_to_target_mean"]["mean"] < spaces["latent"]["trials_to_target_mean"]["mean"]
    assert filter_space["final_best"]["mean"] == pytest.approx(0.91, abs=0.02)
    assert analysis["difference"] is not None


def test_list_pages_newest_first(any_client: TestClient) -> None:
    body = {**COMPARISON, "replicates": 1}
    ids = [any_client.post("/comparisons", json=body).json()["id"] for _ in range(3)]
    page = any_client.get("/comparisons", params={"limit": 2}).json()
    assert page["total"] == 3
    assert [c["id"] for c in page["items"]] == ids[::-1][:2]
    assert "studies" not in page["items"][0]
    assert [c["id"] for c in any_client.get("/comparisons", params={"offset": 2}).json()["items"]] == ids[:1]


def test_cancel_cancels_the_open_studies_then_conflicts(any_client: TestClient) -> None:
    storage = storage_of(any_client)
    view = any_client.post("/comparisons", json={**COMPARISON, "replicates": 1, "n_trials": 2}).json()
    done, open_study = (storage.get_study(s["id"]) for s in view["studies"])
    run_study(storage, done, [0.4, 0.6])

    response = any_client.post(f"/comparisons/{view['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    assert storage.get_study(open_study.id).state == "cancelled"
    assert storage.get_study(done.id).state == "completed"

    again = any_client.post(f"/comparisons/{view['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["type"] == "ConflictError"


def test_a_running_comparison_is_read_afresh_and_a_completed_one_from_memory(client: TestClient) -> None:
    storage = storage_of(client)
    view = client.post("/comparisons", json={**COMPARISON, "replicates": 1, "n_trials": 2}).json()
    first, second = (storage.get_study(s["id"]) for s in view["studies"])
    run_study(storage, first, [0.4, 0.6])
    running = client.get(f"/comparisons/{view['id']}").json()
    assert (running["state"], running["trials_done"]) == ("running", 2)
    run_study(storage, second, [0.5, 0.7])
    completed = client.get(f"/comparisons/{view['id']}").json()
    assert (completed["state"], completed["trials_done"]) == ("completed", 4)
    views = client.app.state.comparison_views  # type: ignore[attr-defined]
    assert views.get(storage, view["id"]) is views.get(storage, view["id"])
    assert client.get(f"/comparisons/{view['id']}").json() == completed


def test_unknown_comparison_is_404(client: TestClient) -> None:
    for path in ("/comparisons/5", "/comparisons/5/export.csv"):
        response = client.get(path)
        assert response.status_code == 404
        assert "5" in response.json()["detail"]
