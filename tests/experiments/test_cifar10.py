"""The CIFAR-10 experiment script: its reading of the committed GPU log, and its report, figure and CSV."""

from __future__ import annotations

import csv
import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPT = REPOSITORY / "experiments" / "cifar10.py"


def _load_script() -> Any:
    # experiments/ is a folder of scripts, not a package: load the file with its folder on the path.
    if str(SCRIPT.parent) not in sys.path:
        sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("cifar10_experiment", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_reads_every_epoch_of_the_committed_gpu_log() -> None:
    script = _load_script()
    points = script.gpu_points(script.GPU_LOG)
    assert [p["epoch"] for p in points] == list(range(1, 37))
    assert points[-1]["test_accuracy"] == 0.7019 and points[-1]["val_accuracy"] == 0.6996
    assert points[0]["flip_ratio"] == 6.66e-03
    assert script.gpu_points(REPOSITORY / "no-such-log.txt") == []


def test_report_figure_and_csv_from_a_run(tmp_path: Path) -> None:
    script = _load_script()
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
    with (tmp_path / "curves.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 36
