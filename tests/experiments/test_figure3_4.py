"""The Figures 3 and 4 experiment script: a tiny real run end to end, a rewrite from its runs, and the alpha check."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bnn_errors import InvalidInputError
from tests.experiments._scripts import csv_rows, load_script, run_script


def _run(*args: str) -> None:
    run_script("figure3_4", *args, timeout=600)


def test_tiny_run_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "figure3-4"
    sizes = ["--lrs", "0.1,1", "--init-scales", "0.1,1", "--seeds", "1", "--sweep-lrs", "1", "--sweep-seeds", "1"]
    _run(*sizes, "--epochs", "1", "--max-train", "200", "--jobs", "2", "--out", str(out))

    for name in ("figure3", "figure4"):
        assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert ET.fromstring((out / f"{name}.svg").read_bytes()).tag.endswith("svg")

    runs3 = csv_rows(out / "figure3_runs.csv")
    assert {(row["lr"], row["init_scale"]) for row in runs3} == {
        ("0.1", "0.1"),
        ("0.1", "1.0"),
        ("1.0", "0.1"),
        ("1.0", "1.0"),
    }
    assert all(row["weight_decay"] == "0.0" for row in runs3)
    runs4 = csv_rows(out / "figure4_runs.csv")
    assert sorted(row["setting"] for row in runs4) == ["magnitude-dependent", "magnitude-independent"]
    assert all(abs(float(row["alpha"]) - 0.01) < 1e-12 for row in runs4)
    assert len(csv_rows(out / "figure3_curves.csv")) == 4 and len(csv_rows(out / "figure4_curves.csv")) == 2
    assert {"lr", "init_scale", "seed", "epoch", "val_accuracy", "flip_ratio"} <= set(
        csv_rows(out / "figure3_curves.csv")[0]
    )

    report = (out / "report.md").read_text()
    assert "## Figure 3" in report and "## Figure 4" in report
    assert "--lrs 0.1,1 --init-scales 0.1,1" in report
    # lr 0.1, w0 0.1 and lr 1, w0 1 share lr / w0 = 1: one diagonal of two cells.
    assert "| 0 | 0 | 2 |" in report

    stored = json.loads((out / "runs.json").read_text())
    assert len(stored["figure3"]) == 4 and len(stored["figure4"]) == 2
    (out / "report.md").unlink()
    _run("--rewrite", "--out", str(out))
    assert (out / "report.md").read_text() == report


def test_sweep_weight_decay_keeps_alpha() -> None:
    sweep_weight_decay = load_script("figure3_4").sweep_weight_decay
    assert sweep_weight_decay(1e-4, 1e-2) == pytest.approx(100.0)
    assert 1e-4 * sweep_weight_decay(1e-4, 1e-2) == pytest.approx(1e-2)
    with pytest.raises(InvalidInputError):
        sweep_weight_decay(1e39, 0.5)  # lr alone beyond float32: LatentSGD would refuse it
