"""The Figure 7 experiment script: a tiny real run end to end, and how it compares two runs' curves."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.experiments._scripts import csv_rows, load_script, run_script


def test_tiny_run_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "figure7"
    args = ["--configs", "1", "--seeds", "1", "--epochs", "1", "--max-train", "200", "--out", str(out)]
    run_script("figure7", *args)

    assert (out / "figure7.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert ET.fromstring((out / "figure7.svg").read_bytes()).tag.endswith("svg")

    runs = csv_rows(out / "runs.csv")
    assert [row["kind"] for row in runs] == ["latent", "filter", "control"]
    filter_run = runs[1]
    assert (float(filter_run["alpha"]), float(filter_run["gamma"])) == (0.1 * 1e-2, 1 - 0.9)
    assert "--init-scale 0.0" in runs[0]["command"] and "--ste-clip --scaling" in runs[2]["command"]

    curves = csv_rows(out / "curves.csv")
    assert len(curves) == 3 and {row["epoch"] for row in curves} == {"1"}

    pairs = csv_rows(out / "pairs.csv")
    assert [row["comparison"] for row in pairs] == ["latent vs filter", "control vs filter"]
    # Same seed, w0 = 0, no clipping or scaling: the matched pair trains the same net.
    assert pairs[0]["same_final_val"] == "True" and pairs[0]["max_abs_train_loss_diff"] == "0.0"

    report = (out / "report.md").read_text()
    assert "python experiments/figure7.py --seeds 1 --configs 1 --epochs 1 --max-train 200" in report
    assert "![Figure 7](figure7.png)" in report

    # --replot rebuilds the runs from the CSV files: the same report comes out.
    assert load_script("figure7").main(["--replot", "--out", str(out)]) == 0
    assert (out / "report.md").read_text() == report


def _run(module: Any, values: list[tuple[float, float, float]]) -> Any:
    points = [
        {"epoch": i + 1, "val_accuracy": v, "test_accuracy": t, "flip_ratio": f, "train_loss": 1.0}
        for i, (v, t, f) in enumerate(values)
    ]
    return module._runs.Run(flags={}, result={"points": points})


def test_pair_difference_finds_the_first_differing_epoch() -> None:
    module = load_script("figure7")
    a = _run(module, [(0.5, 0.5, 0.1), (0.8, 0.7, 0.01)])
    same = module.pair_difference(a, _run(module, [(0.5, 0.5, 0.1), (0.8, 0.7, 0.01)]))
    assert same["first_differing_epoch"] is None and same["same_final_val"] and same["max_abs_flip_diff"] == 0.0

    other = module.pair_difference(a, _run(module, [(0.5, 0.5, 0.2), (0.79, 0.7, 0.01)]))
    assert other["first_differing_epoch"] == 2  # flip counts alone do not make epoch 1 differ
    assert other["max_val_diff_recordings"] == 3 and not other["same_final_val"]
    assert other["rel_flip_diff_epoch_1"] == 0.5 and other["max_rel_flip_diff_after_epoch_1"] == 0.0
