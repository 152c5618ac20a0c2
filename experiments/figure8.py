"""The paper's Figure 8 on FSDD, run through bnn-tune itself: latent (6 hyperparameters) against filter (alpha, gamma).

Runs ``bnn-tune compare --json`` as a subprocess on a dedicated SQLite database in the output folder (default
Ray executor), then writes from the stored rows (numbers: :mod:`tuner.analysis.figure8`, words:
:mod:`tuner.analysis.figure8_report`): ``report.md``, ``figure8.png`` and ``figure8.svg``
(:func:`tuner.analysis.figures.render`), ``trials.csv`` (one row per trial), ``curves.csv`` (one row per trial and
epoch), ``tolerance.csv`` (trials-to-target difference for several tolerances) and ``summary.json`` (every number of the
report). With ``--comparison ID`` it only rewrites the outputs from a comparison already in the database, keeping the
frozen control of ``frozen.csv`` when that file holds the seeds asked for.

Full run in docs/results/figure8/: machine Intel Xeon, 2 CPU cores shared with other experiments, no GPU (torch
2.13.0 CPU); seed 0; 2 spaces x 20 replicates x 25 trials x 20 epochs, trials batched per round (``--batch-trials``)
on the default Ray executor, suggestions one study after another; wall time 47.6 min (47.3 min from the comparison's
creation to its last trial), then 3.4 min for the frozen control's 20 seeds. Command:

    .venv/bin/python experiments/figure8.py --replicates 20 --trials 25 --epochs 20 --seed 0 --batch-trials

Reduced runs beside it: ``r5-t12-e10/`` (5 x 12 x 10, 6.1 min) and ``r5-t25-e20/`` (5 x 25 x 20, 7.9 min), each
with the command in its report header.

The audio net is AudioFC at its default width of 64: ``bnn-tune compare`` has no width option, so this script has
none either.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _runs import REPOSITORY, RESULTS, bnn_tune, machine, run_main, train_all, write_csv
from api.routes.export import studies_csv
from bnn_errors import GiveUpError, InvalidInputError
from tuner.analysis.figure8 import Figure8Summary, FrozenRun, summarize
from tuner.analysis.figure8_paired import paired_figure8, paired_markdown
from tuner.analysis.figure8_report import FULL_RUN, report_markdown, verdict_sentence
from tuner.analysis.figure8_trials import trial_rows
from tuner.analysis.figures import FORMATS, render
from tuner.execution.scheduler import N_INITIAL
from tuner.storage import Storage

DEFAULT_OUT = RESULTS / "figure8"
SPACES = ("latent", "filter")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The experiment's command-line arguments."""
    p = argparse.ArgumentParser(description="Figure 8 on FSDD: latent vs filter search space, through bnn-tune.")
    p.add_argument("--replicates", type=int, default=5, help="studies per space (full run: 20)")
    p.add_argument("--trials", type=int, default=12, help="trials per study (full run: 25)")
    p.add_argument("--epochs", type=int, default=10, help="epochs per trial (full run: 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-train", type=int, default=None, help="cap on training recordings (quick checks only)")
    p.add_argument("--spaces", default=",".join(SPACES), help="the BO arms (default latent,filter)")
    p.add_argument("--random-spaces", default="", help="spaces that also get a random-search arm (default none)")
    p.add_argument("--folds", type=int, default=1, help="k-fold members per trial (bnn-tune compare --folds)")
    p.add_argument("--repeats", type=int, default=1, help="seeds per fold (bnn-tune compare --repeats)")
    p.add_argument("--targets", default="", help="objective values fixed before the run, comma-separated")
    p.add_argument(
        "--suggester",
        choices=("botorch", "ax"),
        default="botorch",
        help="Bayesian optimization's suggestion path (bnn-tune compare --suggester; default botorch, the lean one)",
    )
    p.add_argument(
        "--noise",
        type=Path,
        default=None,
        help="the JSON line of benchmarks/objective_noise.py, for the report's objective section",
    )
    p.add_argument("--executor", choices=("ray", "inline"), default="ray", help="where trials run (default ray)")
    p.add_argument(
        "--batch-trials",
        action="store_true",
        help="train each scheduler round's trials as batched models (bnn-tune compare --batch-trials)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default docs/results/figure8)")
    p.add_argument(
        "--suggestion-workers",
        type=int,
        default=None,
        help="processes computing the studies' next trials in parallel (bnn-tune compare --suggestion-workers)",
    )
    p.add_argument(
        "--frozen-seeds",
        type=int,
        default=10,
        help="seeds of the frozen-binary-weights control, trained with bnn-tune train --optimizer frozen (0: skip)",
    )
    p.add_argument(
        "--comparison",
        type=int,
        default=None,
        help="only rewrite the outputs of this stored comparison (the frozen control of frozen.csv is kept when it "
        "holds the seeds asked for)",
    )
    args = p.parse_args(argv)
    for name in ("replicates", "trials", "epochs"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.frozen_seeds < 0:
        p.error("--frozen-seeds must be at least 0")
    return args


def compare_command(args: argparse.Namespace) -> list[str]:
    """The ``bnn-tune compare`` command line the experiment runs."""
    command = ["bnn-tune", "compare", "--task", "audio", "--spaces", args.spaces]
    for name in ("replicates", "trials", "epochs", "seed", "folds", "repeats", "suggester"):
        command += [f"--{name}", str(getattr(args, name))]
    for name in ("random_spaces", "targets"):
        if getattr(args, name):
            command += ["--" + name.replace("_", "-"), getattr(args, name)]
    command += ["--executor", args.executor, "--json"]
    if args.max_train is not None:
        command += ["--max-train", str(args.max_train)]
    if args.batch_trials:
        command.append("--batch-trials")
    if args.suggestion_workers is not None:
        command += ["--suggestion-workers", str(args.suggestion_workers)]
    return command


def run_comparison(command: Sequence[str], database_url: str) -> int:
    """Run ``bnn-tune compare`` on the database; return the new comparison's id.

    The progress bar goes to this process's stderr; stdout's last line is the comparison as JSON.

    Raises:
        GiveUpError: the command failed or printed no comparison.
    """
    with tempfile.TemporaryDirectory(prefix="f8ray-", ignore_cleanup_errors=True) as ray_tmp:
        env = dict(os.environ, BNN_TUNE_DATABASE_URL=database_url)
        env.setdefault("RAY_AUTH_MODE", "disabled")
        # Ray's socket paths must stay short: a temp folder, not one under the output folder.
        env.setdefault("RAY_TMPDIR", ray_tmp)
        done = subprocess.run(
            [*bnn_tune(), *command[1:]], cwd=REPOSITORY, env=env, stdout=subprocess.PIPE, text=True, check=False
        )
    lines = done.stdout.strip().splitlines()
    result: Any = json.loads(lines[-1]) if lines else {}
    if done.returncode != 0 or not isinstance(result, dict) or "id" not in result:
        reason = result.get("error") if isinstance(result, dict) else None
        raise GiveUpError(f"bnn-tune compare failed (exit status {done.returncode}): {reason or 'no result'}")
    return int(result["id"])


def frozen_control(run: argparse.Namespace) -> list[FrozenRun]:
    """The frozen-binary-weights control: ``bnn-tune train --optimizer frozen``, one run per seed."""
    flags = [
        {"task": "audio", "optimizer": "frozen", "epochs": run.epochs, "seed": seed, "max_train": run.max_train}
        for seed in range(run.frozen_seeds)
    ]
    return [FrozenRun.from_mapping({**r.result, "seed": r.flags["seed"]}) for r in train_all(flags, "frozen control")]


def stored_frozen_runs(path: Path, seeds: int) -> list[FrozenRun] | None:
    """The runs of a ``frozen.csv`` an earlier run of this script wrote, if they are exactly seeds 0..seeds-1 with
    every column; else None (train the control)."""
    if seeds == 0 or not path.is_file():
        return None
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if [row.get("seed") for row in rows] != [str(seed) for seed in range(seeds)]:
        return None
    try:
        return [FrozenRun.from_mapping(row) for row in rows]
    except (KeyError, TypeError, ValueError):
        return None


def objective_section(noise: Path | None, folds: int, repeats: int) -> dict[str, Any]:
    """``summary.json``'s ``objective``: the trial's members, and the noise measured for them and for one split."""
    section: dict[str, Any] = {"folds": folds, "repeats": repeats}
    if noise is None:
        return section
    measured = json.loads(noise.read_text().strip().splitlines()[-1])
    for name, rows in measured["spaces"].items():
        chosen = next((r for r in rows if (r["folds"], r["repeats"]) == (folds, repeats)), None)
        single = next((r for r in rows if (r["folds"], r["repeats"]) == (1, 1)), None)
        section.setdefault("noise_sd", {})[name] = None if chosen is None else chosen["noise_sd"]
        section.setdefault("noise_sd_single_split", {})[name] = None if single is None else single["noise_sd"]
        section.setdefault("config_spread_sd", {})[name] = None if chosen is None else chosen["config_spread_sd"]
    section["measured_by"] = str(noise.relative_to(REPOSITORY) if noise.is_relative_to(REPOSITORY) else noise)
    return section


def write_outputs(
    storage: Storage,
    comparison_id: int,
    out: Path,
    header: dict[str, str],
    frozen: Sequence[FrozenRun] = (),
    noise: Path | None = None,
) -> Figure8Summary:
    """Write the report, the figure, the CSV files and summary.json for a stored comparison; return the summary."""
    summary = summarize(storage, comparison_id, n_initial=N_INITIAL, frozen=frozen)
    paired = paired_figure8(storage, comparison_id, [r for space in summary.spaces for r in space.studies])
    config = storage.get_comparison(comparison_id).config
    write_csv(out / "frozen.csv", [r.to_dict() for r in summary.frozen.runs])
    if summary.run_seconds is not None:
        header.setdefault("wall time of the run", f"{summary.run_seconds / 60:.1f} min (stored timestamps)")
    data = summary.to_dict()
    for fmt in FORMATS:
        (out / f"figure8.{fmt}").write_bytes(render(data["view"], fmt))
    write_csv(out / "trials.csv", [r.to_dict() for r in trial_rows(storage, comparison_id, n_initial=N_INITIAL)])
    (out / "curves.csv").write_text(studies_csv(storage, storage.comparison_studies(comparison_id)))
    if summary.sensitivity:
        write_csv(out / "tolerance.csv", [row.to_dict() for row in summary.sensitivity])
    else:
        (out / "tolerance.csv").write_text("tolerance\n")
    (out / "report.md").write_text(report_markdown(summary, header) + "\n" + paired_markdown(paired))
    data = {**data, **paired.to_dict(), "objective": objective_section(noise, config.folds, config.repeats)}
    (out / "summary.json").write_text(json.dumps({"header": header, **data}, indent=1, default=str) + "\n")
    return summary


def _script_command(args: argparse.Namespace) -> list[str]:
    """The command line of this script that reruns the comparison described by ``args``."""
    command = ["python", "experiments/figure8.py"]
    for name in ("replicates", "trials", "epochs", "seed", "max_train", "folds", "repeats"):
        if getattr(args, name) is not None:
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.spaces != ",".join(SPACES):
        command += ["--spaces", args.spaces]
    for name in ("random_spaces", "targets"):
        if getattr(args, name):
            command += [f"--{name.replace('_', '-')}", getattr(args, name)]
    if args.executor != "ray":
        command += ["--executor", args.executor]
    if args.suggester != "botorch":
        command += ["--suggester", args.suggester]
    if args.batch_trials:
        command.append("--batch-trials")
    if args.suggestion_workers is not None:
        command += ["--suggestion-workers", str(args.suggestion_workers)]
    out = args.out.resolve()
    if out != DEFAULT_OUT:
        command += ["--out", str(out.relative_to(REPOSITORY) if out.is_relative_to(REPOSITORY) else out)]
    return command


def _stored_run(args: argparse.Namespace, storage: Storage, comparison_id: int) -> argparse.Namespace:
    """``args`` with the sizes and seed the stored comparison was actually run with."""
    config = storage.get_comparison(comparison_id).config
    stored = {
        "replicates": config.replicates,
        "trials": config.n_trials,
        "epochs": config.epochs,
        "folds": config.folds,
        "repeats": config.repeats,
        "spaces": ",".join(config.spaces),
        "random_spaces": ",".join(config.random_spaces),
        "targets": ",".join(f"{t:g}" for t in config.targets),
        "suggester": config.suggester,
    }
    return argparse.Namespace(**{**vars(args), **stored, "seed": config.seed, "max_train": config.max_train})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison (unless ``--comparison`` names a stored one) and write every output."""
    args = parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{out / 'figure8.db'}"
    started = time.monotonic()
    comparison_id = args.comparison
    if comparison_id is None:
        comparison_id = run_comparison(compare_command(args), database_url)
    script_seconds = time.monotonic() - started
    try:
        storage = Storage(database_url)
    except InvalidInputError as exc:
        raise GiveUpError(f"cannot open {database_url}: {exc}") from exc
    try:
        run = _stored_run(args, storage, comparison_id)
        full = argparse.Namespace(**{**vars(run), **FULL_RUN, "max_train": None})
        shown_url = database_url.replace(str(REPOSITORY) + "/", "")
        header = {
            "machine": machine(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "seed": str(run.seed),
            "command": f"`{shlex.join(_script_command(run))}`, which runs "
            f"`BNN_TUNE_DATABASE_URL={shown_url} {shlex.join(compare_command(run))}`",
            "full run": f"`{shlex.join(_script_command(full))}`",
            "model": "AudioFC, width 64 (the default)",
            "suggestions": f"`{run.suggester}` path (5 Sobol trials, then a GP with noisy expected improvement)",
            "objective": f"validation accuracy at the last epoch, mean over {run.folds} folds x {run.repeats} "
            "seeds per trial; test accuracy reported, never optimized",
            "database": f"`{(out / 'figure8.db').name}` (SQLite, comparison {comparison_id})",
        }
        if args.comparison is None:
            header["wall time of the script"] = f"{script_seconds / 60:.1f} min"
        # Rewriting a stored comparison's outputs keeps the frozen control this folder already holds for it.
        frozen = stored_frozen_runs(out / "frozen.csv", run.frozen_seeds) if args.comparison is not None else None
        if frozen is None:
            frozen = frozen_control(run)
        summary = write_outputs(storage, comparison_id, out, header, frozen, args.noise)
    finally:
        storage.close()
    analysis = summary.view.analysis
    print(verdict_sentence(analysis, summary.view.n_trials) if analysis else "no trial completed")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    run_main(main)
