"""Figure 8 runs judged at fixed targets: the committed runs, alone and pooled, and the reading of trials.csv."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.experiments._scripts import REPOSITORY, csv_rows, load_script

RUNS = [REPOSITORY / "docs" / "results" / "figure8", REPOSITORY / "docs" / "results" / "figure8" / "seed1"]


def test_pools_the_committed_runs_at_fixed_targets(tmp_path: Path) -> None:
    script = load_script("figure8_pooled")
    out = tmp_path / "pooled"
    assert script.main([*map(str, RUNS), "--targets", "0.94", "0.95", "--out", str(out)]) == 0
    rows = csv_rows(out / "pooled.csv")
    assert [(r["scope"], float(r["target"])) for r in rows] == [
        ("docs/results/figure8", 0.94),
        ("docs/results/figure8", 0.95),
        ("docs/results/figure8/seed1", 0.94),
        ("docs/results/figure8/seed1", 0.95),
        ("pooled", 0.94),
        ("pooled", 0.95),
    ]
    assert [int(r["replicates"]) for r in rows] == [20, 20, 20, 20, 40, 40]
    for r in rows:
        assert float(r["lo"]) <= float(r["difference"]) <= float(r["hi"])
        assert 0 <= int(r["latent_reached"]) <= int(r["replicates"])
    assert (out / "pooled.png").read_bytes().startswith(b"\x89PNG")
    assert "Pooled over 40 replicates per space" in (out / "report.md").read_text()


def test_reads_each_study_in_trial_order_with_failures_as_gaps(tmp_path: Path) -> None:
    script = load_script("figure8_pooled")
    columns = ["study_id", "space", "trial", "state", "objective"]
    rows = [
        ["1", "latent", "1", "failed", ""],
        ["1", "latent", "0", "completed", "0.9"],
        ["2", "filter", "0", "completed", "0.95"],
        ["1", "latent", "2", "completed", "0.91"],
    ]
    with (tmp_path / "trials.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows([columns, *rows])
    curves = script.read_curves(tmp_path)
    assert curves == {"latent": [[0.9, None, 0.91]], "filter": [[0.95]]}
    assert script.best(curves) == 0.95
    assert script.at_target("run", curves, 0.96) is None
