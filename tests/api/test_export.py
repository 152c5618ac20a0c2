"""CSV export of studies and comparisons, read back with the csv module."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest

from tests.api.conftest import METRICS, finished_comparison, finished_study, storage_of

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

STUDY = {"task": "audio", "space": "filter", "n_trials": 2, "epochs": 1}


def _rows(client: TestClient, path: str) -> list[dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


def test_study_export_has_a_row_per_trial_and_epoch(client: TestClient) -> None:
    study_id = finished_study(storage_of(client), "filter", [0.5, None, 0.8])
    rows = _rows(client, f"/studies/{study_id}/export.csv")
    assert len(rows) == 3 * 2
    assert list(rows[0]) == [
        "study_id", "space", "replicate", "trial", "trial_state", "objective",
        "param_alpha", "param_gamma", "epoch", *sorted(METRICS),
    ]  # fmt: skip
    assert [(r["trial"], r["epoch"]) for r in rows] == [(t, e) for t in "012" for e in "12"]
    last = rows[-1]
    assert (last["study_id"], last["space"], last["replicate"], last["trial_state"]) == (
        str(study_id),
        "filter",
        "",
        "completed",
    )
    assert float(last["objective"]) == pytest.approx(0.8)
    assert float(last["val_accuracy"]) == pytest.approx(0.8)
    assert 0 < float(last["param_alpha"]) <= 1
    failed = [r for r in rows if r["trial"] == "1"]
    assert {r["trial_state"] for r in failed} == {"failed"} and {r["objective"] for r in failed} == {""}


def test_a_trial_without_points_gets_one_row(client: TestClient) -> None:
    storage = storage_of(client)
    study_id = client.post("/studies", json={**STUDY, "space": "latent"}).json()["id"]
    storage.set_study_state(study_id, "running")
    storage.create_trial(study_id, 0, {"lr": 0.01})
    rows = _rows(client, f"/studies/{study_id}/export.csv")
    assert len(rows) == 1
    assert (rows[0]["trial_state"], rows[0]["epoch"], rows[0]["param_lr"]) == ("running", "", "0.01")


def test_comparison_export_covers_every_study_with_the_union_of_parameters(client: TestClient) -> None:
    comparison_id = finished_comparison(storage_of(client), replicates=2, n_trials=3)
    rows = _rows(client, f"/comparisons/{comparison_id}/export.csv")
    assert len(rows) == 2 * 2 * 3 * 2  # spaces x replicates x trials x epochs
    studies = {(r["space"], r["replicate"]) for r in rows}
    assert studies == {(s, r) for s in ("latent", "filter") for r in "01"}
    header = list(rows[0])
    assert {"param_alpha", "param_gamma", "param_lr", "param_weight_decay"} <= set(header)
    latent = next(r for r in rows if r["space"] == "latent")
    assert latent["param_alpha"] == "" and latent["param_lr"] != ""


def test_an_empty_study_exports_just_the_header(client: TestClient) -> None:
    study_id = client.post("/studies", json=STUDY).json()["id"]
    response = client.get(f"/studies/{study_id}/export.csv")
    header = "study_id,space,replicate,trial,trial_state,objective,epoch"
    assert response.text.strip().splitlines() == [header]
