"""The Figures 5 and 6 experiment script: a tiny real run end to end, the alpha grid and the alphas it decays."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.experiments._scripts import csv_rows, load_script, run_script


def test_tiny_run_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "figure5-6"
    args = ["--alphas", "2", "--gammas", "0.1", "--seeds", "1", "--decay-alphas", "1", "--epochs", "1"]
    run_script("figure5_6", *args, "--max-train", "200", "--out", str(out))

    for name in ("figure5", "figure6"):
        assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert ET.fromstring((out / f"{name}.svg").read_bytes()).tag.endswith("svg")

    runs = csv_rows(out / "runs.csv")
    assert [row["part"] for row in runs] == ["sweep", "sweep", "frozen", "frozen-none", "decay"]
    assert [float(row["alpha"]) for row in runs[:2]] == [1e-6, 0.1]
    assert {row["decay"] for row in runs[:2]} == {"cosine"} and runs[4]["decay"] == "none"
    assert runs[4]["alpha"] in {runs[0]["alpha"], runs[1]["alpha"]}
    assert all(0.0 <= float(row["mean_flip_ratio"]) <= 1.0 for row in runs)
    assert "--optimizer frozen" in runs[2]["command"] and "--decay none" in runs[3]["command"]

    curves = csv_rows(out / "curves.csv")
    assert len(curves) == 5 and {"part", "alpha", "decay", "epoch", "flip_ratio", "val_accuracy"} <= set(curves[0])

    report = (out / "report.md").read_text()
    assert "--alphas 2 --seeds 1 --decay-alphas 1 --epochs 1 --max-train 200 --gammas 0.1" in report
    assert report.count("**: holds") + report.count("**: does not hold") + report.count("**: not shown") >= 4
    assert "![Figure 5](figure5.png)" in report and "![Figure 6](figure6.png)" in report

    # --replot rebuilds the runs from the CSV files: the same report comes out.
    assert load_script("figure5_6").main(["--replot", "--out", str(out)]) == 0
    assert (out / "report.md").read_text() == report


def test_alpha_grid_spans_1e6_to_1e1() -> None:
    grid = load_script("figure5_6").alpha_grid(9)
    assert grid[0] == 1e-6 and grid[-1] == 0.1 and len(grid) == 9
    assert grid == sorted(grid)


def test_decay_alphas_are_the_best_and_its_neighbours() -> None:
    module = load_script("figure5_6")
    grid = [1e-4, 1e-3, 1e-2, 1e-1]

    def run(alpha: float, val: float) -> Any:
        return module._runs.Run(flags={"alpha": alpha, "gamma": 0.1}, result={"val_accuracy": val, "points": []})

    sweep = [run(1e-4, 0.5), run(1e-3, 0.9), run(1e-2, 0.8), run(1e-1, 0.2)]
    assert module.decay_alphas(sweep, grid, 0.1, 3) == [1e-4, 1e-3, 1e-2]
    # The best at the edge of the grid: the window stays inside it.
    sweep[0] = run(1e-4, 0.95)
    assert module.decay_alphas(sweep, grid, 0.1, 3) == [1e-4, 1e-3, 1e-2]
    sweep[3] = run(1e-1, 0.99)
    assert module.decay_alphas(sweep, grid, 0.1, 3) == [1e-3, 1e-2, 1e-1]
