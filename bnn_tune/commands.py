"""The tuning commands of the CLI: ``study run``, ``study show``, ``compare`` and ``compare show``.

Long work shows a live progress bar (trials done / total, best so far, ETA) on the terminal.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from tuner.execution.executor import Executor
    from tuner.storage import Storage
    from tuner.study.submit import StudyRequest

# The tuner's modules (Ax, SQLAlchemy, Ray) are imported inside the handlers, so that `bnn-tune train` starts fast
# and runs where only PyTorch is installed.

__all__ = ["add_tuning_parsers"]


def _add_study_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="audio", help="audio, cifar10 or imagenet (default audio)")
    p.add_argument("--trials", type=int, default=25, help="trials per study (default 25)")
    p.add_argument("--epochs", type=int, default=20, help="training epochs per trial (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed (a comparison derives its replicates' seeds)")
    p.add_argument("--parallelism", type=int, default=1, help="trials in flight per study (default 1)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-train", type=int, default=None, help="cap on training examples (quick runs)")
    p.add_argument(
        "--objective",
        default="val_accuracy_last",
        help="val_accuracy_last (default: last epoch's validation accuracy) or val_accuracy_best",
    )
    p.add_argument(
        "--early-stopping",
        default=None,
        metavar="RULE",
        help="stop weak trials early: 'median', or 'percentile' with options, e.g. "
        "'percentile,percentile=25,min_epochs=3,min_trials=5' (default: off)",
    )
    p.add_argument("--executor", choices=("ray", "inline"), default="ray", help="where trials run (default ray)")
    p.add_argument(
        "--batch-trials",
        action="store_true",
        help="train the trials of one scheduler round that fit together as one batched model "
        "(default: BNN_TUNE_BATCH_TRIALS, off)",
    )
    p.add_argument(
        "--suggestion-workers",
        type=int,
        default=None,
        metavar="N",
        help="processes computing the studies' next trials in parallel (default: BNN_TUNE_SUGGESTION_WORKERS, 0)",
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")


def add_tuning_parsers(commands: Any) -> None:
    """Add ``study`` and ``compare`` with their subcommands to the CLI's subparsers."""
    study = commands.add_parser("study", help="run or show one study")
    study_commands = study.add_subparsers(dest="study_command", required=True)
    run = study_commands.add_parser("run", help="tune one search space with Bayesian optimization")
    run.add_argument("--space", default="filter", help="search space: latent, filter, bop or a registered one")
    _add_study_options(run)
    run.set_defaults(handler=_cmd_study_run)
    show = study_commands.add_parser("show", help="print a stored study and its trials")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_cmd_study_show)

    compare = commands.add_parser("compare", help="run (or show) a comparison of search spaces")
    compare.add_argument("--spaces", default="latent,filter", help="comma-separated spaces (default latent,filter)")
    compare.add_argument("--replicates", type=int, default=20, help="studies per space (default 20)")
    _add_study_options(compare)
    compare.set_defaults(handler=_cmd_compare)
    compare_commands = compare.add_subparsers(dest="compare_command")
    cshow = compare_commands.add_parser("show", help="print a stored comparison and its analysis")
    cshow.add_argument("id", type=int)
    cshow.add_argument("--json", action="store_true")
    cshow.set_defaults(handler=_cmd_compare_show)


def _request(args: argparse.Namespace, space: str) -> StudyRequest:
    from bnn_errors import InvalidInputError
    from tuner.study.submit import StudyRequest

    if args.suggestion_workers is not None and args.suggestion_workers < 0:
        raise InvalidInputError(f"--suggestion-workers must be >= 0, got {args.suggestion_workers}")
    return StudyRequest(
        task=args.task,
        space=space,
        n_trials=args.trials,
        epochs=args.epochs,
        seed=args.seed,
        parallelism=args.parallelism,
        batch_size=args.batch_size,
        objective=args.objective,
        max_train=args.max_train,
        early_stopping=_early_stopping(args.early_stopping),
    )


def _early_stopping(text: str | None) -> dict[str, Any] | None:
    """``median`` or ``percentile,percentile=25,min_epochs=3`` as the study's early_stopping setting."""
    if text is None or text == "off":
        return None
    rule, *options = [part.strip() for part in text.split(",")]
    config: dict[str, Any] = {"rule": rule}
    for option in options:
        key, _, value = option.partition("=")
        config[key] = float(value) if key == "percentile" else int(value) if value.lstrip("-").isdigit() else value
    return config


def _executor(args: argparse.Namespace) -> Executor:
    """The executor the command asked for, built before anything is written (a dead cluster writes nothing)."""
    from tuner.execution.runner import build_executor
    from tuner.settings import get_settings

    # The flag turns batching on; without it the setting (BNN_TUNE_BATCH_TRIALS) decides.
    return build_executor(get_settings(), args.executor, batch=True if args.batch_trials else None)


def _run_with_progress(
    storage: Storage,
    executor: Executor,
    study_ids: list[int],
    console: Console,
    label: str,
    suggestion_workers: int | None = None,
) -> None:
    from tuner.analysis.reports import study_view
    from tuner.execution.runner import build_scheduler, run_studies
    from tuner.settings import get_settings

    settings = get_settings()
    if suggestion_workers is not None:
        settings = settings.model_copy(update={"suggestion_workers": suggestion_workers})
    scheduler = build_scheduler(storage, executor, settings)
    total = sum(storage.get_study(i).n_trials for i in study_ids)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task(label, total=total, best="-")

            def update() -> None:
                views = [study_view(storage, i, with_points=False) for i in study_ids]
                best = [v["best_objective"] for v in views if v["best_objective"] is not None]
                progress.update(
                    bar,
                    completed=sum(v["trials_done"] for v in views),
                    best=f"{max(best):.4f}" if best else "-",
                )

            run_studies(storage, scheduler, study_ids, on_tick=update)
    finally:
        scheduler.close()
        executor.shutdown()


def _study_table(view: dict[str, Any], console: Console) -> None:
    table = Table(title=f"study {view['id']}: {view['task']} / {view['space']} ({view['state']})")
    for column in ("#", "state", "objective", "parameters"):
        table.add_column(column)
    for trial in view["trials"]:
        objective = "-" if trial["objective"] is None else f"{trial['objective']:.4f}"
        params = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial["parameters"].items()
        )
        table.add_row(str(trial["number"]), trial["state"], objective, params)
    console.print(table)
    if view["best_objective"] is not None:
        console.print(f"best objective {view['best_objective']:.4f} with {view['best_parameters']}")


def _cmd_study_run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from tuner.analysis.reports import study_view
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings
    from tuner.study.submit import submit_study

    storage = open_storage(get_settings())
    request = _request(args, args.space)
    executor = _executor(args)
    try:
        study = submit_study(storage, get_settings(), request)
    except BaseException:
        executor.shutdown()
        raise
    console.print(f"study {study.id} queued in {storage.url}")
    _run_with_progress(storage, executor, [study.id], console, f"study {study.id}", args.suggestion_workers)
    view = study_view(storage, study.id)
    _study_table(view, console)
    console.print(f"stored in {storage.url}; show it again with: bnn-tune study show {study.id}")
    return view


def _cmd_study_show(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from tuner.analysis.reports import study_view
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings

    view = study_view(open_storage(get_settings()), args.id)
    _study_table(view, console)
    return view


def _comparison_table(view: dict[str, Any], console: Console) -> None:
    console.print(
        f"comparison {view['id']}: {view['task']}, spaces {', '.join(view['spaces'])}, "
        f"{view['replicates']} replicates x {view['n_trials']} trials ({view['state']}), "
        f"{view['trials_done']}/{view['trials_total']} trials done"
    )
    analysis = view["analysis"]
    if analysis is None:
        console.print("no completed trial yet")
        return
    table = Table(title=f"trials to reach within {analysis['tolerance']:.3f} of the best ({analysis['target']:.4f})")
    for column in ("space", "final best (mean [CI])", "trials to target (mean [CI])", "reached"):
        table.add_column(column)
    for space in analysis["spaces"]:
        best, ttt = space["final_best"], space["trials_to_target_mean"]
        table.add_row(
            space["name"],
            f"{best['mean']:.4f} [{best['lo']:.4f}, {best['hi']:.4f}]",
            f"{ttt['mean']:.1f} [{ttt['lo']:.1f}, {ttt['hi']:.1f}]",
            f"{space['n_reached']}/{space['n_replicates']}",
        )
    console.print(table)
    diff = analysis.get("difference")
    if diff:
        console.print(
            f"{diff['space_a']} - {diff['space_b']}: {diff['mean']:+.1f} trials [{diff['lo']:+.1f}, {diff['hi']:+.1f}]"
        )


def _cmd_compare(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    if getattr(args, "compare_command", None) == "show":
        return _cmd_compare_show(args, console)
    from tuner.analysis.reports import comparison_view
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings
    from tuner.study.submit import submit_comparison

    storage = open_storage(get_settings())
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    request = _request(args, spaces[0] if spaces else "")
    executor = _executor(args)
    try:
        comparison, studies = submit_comparison(storage, get_settings(), request, spaces, args.replicates)
    except BaseException:
        executor.shutdown()
        raise
    console.print(f"comparison {comparison.id} queued in {storage.url} ({len(studies)} studies)")
    _run_with_progress(
        storage, executor, [s.id for s in studies], console, f"comparison {comparison.id}", args.suggestion_workers
    )
    view = comparison_view(storage, comparison.id)
    _comparison_table(view, console)
    console.print(f"stored in {storage.url}; show it again with: bnn-tune compare show {comparison.id}")
    return view


def _cmd_compare_show(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from tuner.analysis.reports import comparison_view
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings

    view = comparison_view(open_storage(get_settings()), args.id)
    _comparison_table(view, console)
    return view
