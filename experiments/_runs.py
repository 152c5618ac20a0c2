"""What the experiment scripts share: training through ``bnn-tune train --json``, the machine line of a report's
header, writing figures and CSV files, reading back an earlier run's header and flags, and running a script's main.

Every run goes through the command-line tool a user has, in a subprocess, so a result in ``docs/results/`` is one
that ``bnn-tune`` itself produced. The scripts import this file as ``_runs`` (Python puts a script's own folder first
on ``sys.path``).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bnn_errors import BnnTuneError, GiveUpError
from bnn_tune.commands import parse_number

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "docs" / "results"

Flags = Mapping[str, str | int | float | bool | None]


@dataclass(frozen=True)
class Run:
    """One finished ``bnn-tune train`` run: the flags it was given and the JSON object it printed."""

    flags: dict[str, str | int | float | bool | None]
    result: dict[str, Any]

    @property
    def last_metrics(self) -> dict[str, float]:
        """The last epoch's validation, test and best validation accuracy and training loss, as printed."""
        return {k: self.result[k] for k in ("val_accuracy", "test_accuracy", "best_val_accuracy", "train_loss")}

    @property
    def points(self) -> list[dict[str, float]]:
        """The per-epoch points (epoch, train_loss, train/val/test accuracy, flip_ratio, seconds)."""
        return list(self.result["points"])


def bnn_tune() -> list[str]:
    """How to call ``bnn-tune``: the entry point next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("bnn-tune")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bnn_tune.cli"]


def train_command(flags: Flags) -> list[str]:
    """``bnn-tune train ... --json`` for ``flags`` (``{"init_scale": 0.1, "ste_clip": True}`` ->
    ``--init-scale 0.1 --ste-clip``; None and False are left out)."""
    command = ["bnn-tune", "train"]
    for name, value in flags.items():
        if value is None or value is False:
            continue
        command.append("--" + name.replace("_", "-"))
        if value is not True:
            command.append(str(value))
    return [*command, "--json"]


def flags_from_command(command: str) -> dict[str, Any]:
    """The flags of a ``bnn-tune train ... --json`` command line, numbers as numbers (inverse of
    :func:`train_command`)."""
    words = shlex.split(command)[2:-1]
    flags: dict[str, Any] = {}
    for i, word in enumerate(words):
        if word.startswith("--"):
            has_value = i + 1 < len(words) and not words[i + 1].startswith("--")
            flags[word[2:].replace("-", "_")] = parse_number(words[i + 1]) if has_value else True
    return flags


def train(flags: Flags) -> Run:
    """Run ``bnn-tune train`` with ``flags`` on the CPU; return what it printed.

    Raises:
        GiveUpError: the command failed (its error message is included).
    """
    command = train_command(flags)
    done = subprocess.run(
        [*bnn_tune(), *command[1:]],
        cwd=REPOSITORY,
        # One thread per run: on a shared few-core machine two threads per run were several times slower.
        env={"OMP_NUM_THREADS": "1", **os.environ},
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    result: Any = json.loads(lines[-1]) if lines else {}
    if done.returncode != 0 or not isinstance(result, dict) or "points" not in result:
        reason = result.get("error") if isinstance(result, dict) else None
        raise GiveUpError(f"{' '.join(command)} failed (exit {done.returncode}): {reason or done.stderr[-500:]}")
    return Run(flags=dict(flags), result=result)


def train_all(runs: Sequence[Flags], label: str = "runs") -> list[Run]:
    """Train every run in order, printing one progress line per run to stderr."""
    finished: list[Run] = []
    started = time.monotonic()
    for i, flags in enumerate(runs, start=1):
        run = train(flags)
        finished.append(run)
        elapsed = time.monotonic() - started
        eta = elapsed / i * (len(runs) - i)
        print(
            f"[{label} {i}/{len(runs)}] val {100 * run.result['val_accuracy']:.1f}% "
            f"({elapsed:.0f} s, ~{eta:.0f} s left): {' '.join(train_command(flags)[2:-1])}",
            file=sys.stderr,
            flush=True,
        )
    return finished


def machine() -> str:
    """The CPU model and core count of this machine, and the Python and PyTorch versions."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        model = names[0] if names else model
    import torch

    return f"{model}, {os.cpu_count()} CPU cores, no GPU; Python {platform.python_version()}, torch {torch.__version__}"


def header_lines(title: str, header: Mapping[str, str]) -> list[str]:
    """A report's title and its bulleted header (machine, date, seed, command, wall time...)."""
    return [f"# {title}", "", *(f"- **{key}**: {value}" for key, value in header.items()), ""]


def stored_header(report_path: Path) -> dict[str, str]:
    """The bulleted header of an earlier report (machine, date, seed, command, wall time of that run)."""
    header = {}
    for line in report_path.read_text().splitlines():
        if line.startswith("## "):
            break
        if line.startswith("- **") and "**: " in line:
            key, value = line[4:].split("**: ", 1)
            header[key] = value
    return header


def pct(value: float | None, digits: int = 1, sign: str = "%") -> str:
    """A fraction in percent for a report (``0.9123`` -> ``91.2%``); ``-`` for None."""
    return "-" if value is None else f"{100 * value:.{digits}f}{sign}"


def save_figure(figure: Figure, out: Path, name: str) -> list[Path]:
    """Write ``figure`` as ``name.png`` and ``name.svg`` under ``out``; return the paths."""
    FigureCanvasAgg(figure)
    paths = []
    for fmt in ("png", "svg"):
        path = out / f"{name}.{fmt}"
        figure.savefig(path, format=fmt, dpi=120, bbox_inches="tight")
        paths.append(path)
    return paths


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write dict rows as CSV, the columns in first-seen order."""
    rows = list(rows)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def curve_rows(runs: Sequence[Run], keys: Sequence[str]) -> list[dict[str, Any]]:
    """One row per run and epoch: the run's flags named in ``keys``, then the epoch's metrics."""
    return [{**{k: run.flags.get(k) for k in keys}, **point} for run in runs for point in run.points]


def run_main(main: Callable[[], int]) -> NoReturn:
    """Exit with the status ``main()`` returns; a :class:`BnnTuneError` is a user's error: ``error: ...`` on stderr,
    exit status 2, no traceback."""
    try:
        status = main()
    except BnnTuneError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status)
