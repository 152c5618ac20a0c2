"""The Figure 8 experiment script run end to end on a tiny comparison (its numbers: tuner/test_figure8_analysis.py)."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.experiments._scripts import csv_rows, run_script


def test_tiny_run_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "figure8"
    args = ["--replicates", "2", "--trials", "2", "--epochs", "1", "--max-train", "200", "--executor", "inline"]
    args += ["--frozen-seeds", "2"]
    printed = run_script("figure8", *args, "--out", str(out)).stdout.splitlines()
    assert printed[-1] == f"wrote {out.resolve()}"
    assert printed[0].startswith(("Yes", "Partly", "No", "Not shown"))  # the verdict, or "no trial completed"

    assert (out / "figure8.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert ET.fromstring((out / "figure8.svg").read_bytes()).tag.endswith("svg")

    trials = csv_rows(out / "trials.csv")
    assert len(trials) == 2 * 2 * 2  # spaces x replicates x trials
    assert {"study_id", "space", "replicate", "trial", "state", "sobol", "objective", "test_accuracy_last"} <= set(
        trials[0]
    )
    assert {row["space"] for row in trials} == {"latent", "filter"}
    assert any(key.startswith("param_alpha") for key in trials[0])
    # Fewer trials than Sobol points: every completed trial is a Sobol point.
    assert all(row["sobol"] == "True" for row in trials if row["state"] == "completed")

    curves = csv_rows(out / "curves.csv")
    assert {"study_id", "space", "trial", "epoch", "val_accuracy", "test_accuracy", "flip_ratio"} <= set(curves[0])
    completed = [row for row in curves if row["trial_state"] == "completed"]
    assert completed and all(row["epoch"] == "1" for row in completed)

    tolerance = csv_rows(out / "tolerance.csv")
    assert [float(row["tolerance"]) for row in tolerance] == [0.005, 0.01, 0.02, 0.03]

    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    assert summary["view"]["replicates"] == 2 and summary["view"]["n_trials"] == 2

    report = (out / "report.md").read_text()
    assert "latent" in report and "filter" in report
    assert "bnn-tune compare --task audio --spaces latent,filter --replicates 2 --trials 2 --epochs 1" in report
    assert "--replicates 20 --trials 25 --epochs 20" in report
    assert "REDUCED" in report and "Frozen-weights control (binary weights frozen at random init)" in report

    frozen = csv_rows(out / "frozen.csv")
    assert [row["seed"] for row in frozen] == ["0", "1"]
    assert all(0.0 <= float(row["val_accuracy"]) <= 1.0 for row in frozen)
    assert summary["frozen"]["val"]["n"] == 2
    assert "above the frozen control" in report

    # Rewriting the stored comparison's outputs keeps the frozen control the folder holds (marked here, so that a
    # retrained control would show), and trains it afresh only when other seeds are asked for.
    marked = [{**row, "val_accuracy": "0.125"} for row in frozen]
    with (out / "frozen.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(frozen[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(marked)
    rewrite = ["--comparison", "1", "--frozen-seeds", "2", "--out", str(out)]
    run_script("figure8", *rewrite)
    assert json.loads((out / "summary.json").read_text())["frozen"]["val"]["mean"] == 0.125
    run_script("figure8", *rewrite[:-3], "3", "--out", str(out))
    retrained = csv_rows(out / "frozen.csv")
    assert [row["seed"] for row in retrained] == ["0", "1", "2"] and "0.125" not in {
        r["val_accuracy"] for r in retrained
    }
