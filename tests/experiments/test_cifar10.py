"""The CIFAR-10 experiment script: its reading of the committed GPU log, and its report, figure and CSV."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tests.experiments._scripts import csv_rows, load_script

REPOSITORY = Path(__file__).resolve().parents[2]


def test_reads_every_epoch_of_the_committed_gpu_log() -> None:
    script = load_script("cifar10")
    points = script.gpu_points(script.GPU_LOG)
    assert [p["epoch"] for p in points] == list(range(1, 37))
    assert points[-1]["test_accuracy"] == 0.7019 and points[-1]["val_accuracy"] == 0.6996
    assert points[0]["flip_ratio"] == 6.66e-03
    assert script.gpu_points(REPOSITORY / "no-such-log.txt") == []


def test_report_figure_and_csv_from_a_run(tmp_path: Path) -> None:
    script = load_script("cifar10")
    from _runs import Run, save_figure, write_csv

    gpu = script.gpu_points(script.GPU_LOG)
    cpu_points = [{**p, "epoch": p["epoch"]} for p in gpu[:2]]
    run = Run(
        flags=script.run_flags(script.parse_args(["--epochs", "2"])),
        result={"points": cpu_points, "total_seconds": 100.0},
    )
    text = script.report(run, gpu, {"machine": "test"}, script.GPU_LOG)
    assert "CPU run: 2 epoch(s), test" in text and "50 s per epoch" in text
    assert "36 epochs" in text and "final test 70.2%" in text and "86.5%" in text
    assert text.count("| CPU |") == 2 and text.count("| H200 |") == 36
    paths = save_figure(script.plot(cpu_points, gpu), tmp_path, "cifar10")
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert ET.fromstring(paths[1].read_bytes()).tag.endswith("svg")
    write_csv(tmp_path / "curves.csv", [{"run": "h200", **p} for p in gpu])
    assert len(csv_rows(tmp_path / "curves.csv")) == 36
