"""The tuning commands of the CLI: ``study run``, ``study show``, ``compare`` and ``compare show``.

Long work shows a live progress bar (trials done / total, best so far, ETA) on the terminal, and one plain line per
finished trial where the output is not a terminal (a log file).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args, get_origin

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from pydantic import BaseModel

    from tuner.analysis.reports import ComparisonReport, StudyDetailReport
    from tuner.execution.executor import Executor
    from tuner.storage import Storage, StudyRecord
    from tuner.study.config import StudyOptions

# The tuner's modules (Ax, SQLAlchemy, Ray) are imported inside the handlers, so that `bnn-tune train` starts fast
# and runs where only PyTorch is installed. The configuration module is light (pydantic and the space registry).

__all__ = ["add_config_flags", "add_tuning_parsers", "config_from_args", "parse_number"]

ConfigT = TypeVar("ConfigT", bound="StudyOptions")

# Flags named otherwise than their configuration field.
_FLAG_NAMES = {"n_trials": "--trials"}


def _flag(name: str) -> str:
    return _FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def parse_number(text: str) -> int | float | str:
    """A flag's value as the number it spells (int, else float), else the text (a configuration then names what is
    wrong with it)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _early_stopping(text: str) -> dict[str, Any] | None:
    """``median`` or ``percentile,percentile=25,min_epochs=3`` as the study's early_stopping setting; off: None."""
    if text == "off":
        return None
    rule, *options = [part.strip() for part in text.split(",")]
    config: dict[str, Any] = {"rule": rule}
    for option in options:
        key, _, value = option.partition("=")
        config[key] = parse_number(value)
    return config


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _comma_numbers(text: str) -> list[int | float | str]:
    return [parse_number(part) for part in _comma_list(text)]


def _parse_value(annotation: Any) -> Any:
    """The argparse ``type`` for a configuration field of this annotation."""
    from tuner.study.early_stopping import EarlyStopping

    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return _comma_numbers if float in (item, *get_args(item)) else _comma_list
    if annotation is EarlyStopping or EarlyStopping in args:
        return _early_stopping
    kinds = {type(a) for a in get_args(annotation)} if get_origin(annotation) is Literal else set(args)
    if annotation is float or float in kinds:
        return float
    if annotation is int or int in kinds:
        return int
    return str


def add_config_flags(parser: argparse.ArgumentParser, kind: type[BaseModel], *, skip: tuple[str, ...] = ()) -> None:
    """One flag per field of the configuration ``kind``, with its description and default as help.

    A flag left out keeps the configuration's default (argparse adds no attribute for it).
    """
    for name, field in kind.model_fields.items():
        if name in skip:
            continue
        choices = get_args(field.annotation) if get_origin(field.annotation) is Literal else None
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            default = ",".join(default)
        parser.add_argument(
            _flag(name),
            dest=name,
            type=_parse_value(field.annotation),
            choices=choices,
            default=argparse.SUPPRESS,
            help=f"{field.description} (default {'off' if default is None else default})",
        )


def config_from_args(kind: type[ConfigT], args: argparse.Namespace) -> ConfigT:
    """The configuration the flags ask for; raises ``InvalidInputError`` naming the flag and the field."""
    from bnn_errors import InvalidInputError
    from tuner.study.config import validate_config

    values = {name: getattr(args, name) for name in kind.model_fields if hasattr(args, name)}
    try:
        return validate_config(kind, values)
    except InvalidInputError as exc:
        field = exc.field or ""
        raise InvalidInputError(f"{_flag(field.split('.')[0])}: {exc}", field=exc.field) from exc


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """The options of how a study runs here (not stored with it)."""
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
    from tuner.study.config import ComparisonConfig, StudyConfig

    study = commands.add_parser("study", help="run or show one study")
    study_commands = study.add_subparsers(dest="study_command", required=True)
    run = study_commands.add_parser("run", help="tune one search space with Bayesian optimization")
    add_config_flags(run, StudyConfig)
    _add_run_options(run)
    run.set_defaults(handler=_cmd_study_run)
    show = study_commands.add_parser("show", help="print a stored study and its trials")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_cmd_study_show)
    resume = study_commands.add_parser("resume", help="run an interrupted study to its end")
    resume.add_argument("id", type=int)
    _add_run_options(resume)
    resume.set_defaults(handler=_cmd_study_resume)

    compare = commands.add_parser("compare", help="run (or show) a comparison of search spaces")
    add_config_flags(compare, ComparisonConfig)
    _add_run_options(compare)
    compare.set_defaults(handler=_cmd_compare)
    compare_commands = compare.add_subparsers(dest="compare_command")
    cshow = compare_commands.add_parser("show", help="print a stored comparison and its analysis")
    cshow.add_argument("id", type=int)
    cshow.add_argument("--json", action="store_true")
    cshow.set_defaults(handler=_cmd_compare_show)
    cresume = compare_commands.add_parser("resume", help="run an interrupted comparison's studies to their end")
    cresume.add_argument("id", type=int)
    _add_run_options(cresume)
    cresume.set_defaults(handler=_cmd_compare_resume)


def _check_run_options(args: argparse.Namespace) -> None:
    from bnn_errors import InvalidInputError

    if args.suggestion_workers is not None and args.suggestion_workers < 0:
        raise InvalidInputError(f"--suggestion-workers must be >= 0, got {args.suggestion_workers}")


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
    *,
    resume: str,
) -> None:
    """Run the studies to their end with a progress display. On Ctrl-C the trials in flight are cancelled, the
    studies stay running (resumable: their finished trials are kept, the cancelled ones are re-run) and ``resume``,
    the command that goes on, is printed before the interrupt propagates."""
    from tuner.analysis.reports import study_view
    from tuner.execution.runner import build_scheduler
    from tuner.settings import get_settings

    settings = get_settings()
    if suggestion_workers is not None:
        settings = settings.model_copy(update={"suggestion_workers": suggestion_workers})
    scheduler = build_scheduler(storage, executor, settings)
    total = sum(storage.get_study(i).config.n_trials for i in study_ids)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeRemainingColumn(),
    )
    # A log file gets one plain line per change of the count instead of a bar it cannot redraw.
    live = console.is_terminal
    started = time.monotonic()
    shown = [-1]
    try:
        with Progress(*columns, console=console, transient=False, disable=not live) as progress:
            bar = progress.add_task(label, total=total, best="-")

            def update() -> None:
                reports = [study_view(storage, i, with_points=False) for i in study_ids]
                best = [r.best_objective for r in reports if r.best_objective is not None]
                done = sum(r.trials_done for r in reports)
                best_text = f"{max(best):.4f}" if best else "-"
                progress.update(bar, completed=done, best=best_text)
                if not live and done != shown[0]:
                    shown[0] = done
                    minutes = (time.monotonic() - started) / 60
                    console.print(
                        f"{label}: {done}/{total} trials, best {best_text}, {minutes:.1f} min", soft_wrap=True
                    )

            scheduler.run(studies=study_ids, on_tick=update)
    except KeyboardInterrupt:
        console.print(f"interrupted: {label} is left resumable; go on with: {resume}", soft_wrap=True)
        raise
    finally:
        scheduler.close()
        executor.shutdown()


def _study_table(report: StudyDetailReport, console: Console) -> None:
    table = Table(title=f"study {report.id}: {report.task} / {report.space} ({report.state})")
    for column in ("#", "state", "objective", "parameters"):
        table.add_column(column)
    for trial in report.trials:
        objective = "-" if trial.objective is None else f"{trial.objective:.4f}"
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.parameters.items())
        table.add_row(str(trial.number), trial.state, objective, params)
    console.print(table)
    if report.best_objective is not None:
        console.print(f"best objective {report.best_objective:.4f} with {report.best_parameters}")


def _cmd_study_run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings
    from tuner.study.config import StudyConfig
    from tuner.study.submit import submit_study

    _check_run_options(args)
    config = config_from_args(StudyConfig, args)
    storage = open_storage(get_settings())
    executor = _executor(args)
    try:
        study = submit_study(storage, get_settings(), config)
    except BaseException:
        executor.shutdown()
        raise
    console.print(f"study {study.id} queued in {storage.url}")
    report = _study_to_end(storage, executor, study.id, console, args)
    console.print(f"stored in {storage.url}; show it again with: bnn-tune study show {study.id}")
    return report.model_dump(mode="json")


def _cmd_study_resume(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings

    _check_run_options(args)
    storage = open_storage(get_settings(), must_exist=True)
    _require_unfinished([storage.get_study(args.id)], f"study {args.id}")
    return _study_to_end(storage, _executor(args), args.id, console, args).model_dump(mode="json")


def _cmd_compare_resume(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings

    _check_run_options(args)
    storage = open_storage(get_settings(), must_exist=True)
    studies = [s for s in storage.comparison_studies(args.id) if not s.is_finished]
    _require_unfinished(studies, f"comparison {args.id}")
    return _comparison_to_end(storage, _executor(args), args.id, studies, console, args).model_dump(mode="json")


def _study_to_end(
    storage: Storage, executor: Executor, study_id: int, console: Console, args: argparse.Namespace
) -> StudyDetailReport:
    """Run the study to its end with a progress display, then print and return its report."""
    from tuner.analysis.reports import study_view

    label, resume = f"study {study_id}", f"bnn-tune study resume {study_id}"
    _run_with_progress(storage, executor, [study_id], console, label, args.suggestion_workers, resume=resume)
    report = study_view(storage, study_id)
    _study_table(report, console)
    return report


def _comparison_to_end(
    storage: Storage,
    executor: Executor,
    comparison_id: int,
    studies: list[StudyRecord],
    console: Console,
    args: argparse.Namespace,
) -> ComparisonReport:
    """Run the comparison's ``studies`` to their end with a progress display, then print and return its report."""
    from tuner.analysis.reports import comparison_view

    label, resume = f"comparison {comparison_id}", f"bnn-tune compare resume {comparison_id}"
    ids = [s.id for s in studies]
    _run_with_progress(storage, executor, ids, console, label, args.suggestion_workers, resume=resume)
    report = comparison_view(storage, comparison_id)
    _comparison_table(report, console)
    return report


def _require_unfinished(studies: list[StudyRecord], what: str) -> None:
    from bnn_errors import ConflictError

    if not studies or all(s.is_finished for s in studies):
        raise ConflictError(f"{what} has finished: there is nothing to resume")


def _cmd_study_show(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from tuner.analysis.reports import study_view
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings

    report = study_view(open_storage(get_settings(), must_exist=True), args.id)
    _study_table(report, console)
    return report.model_dump(mode="json")


def _comparison_table(report: ComparisonReport, console: Console) -> None:
    console.print(
        f"comparison {report.id}: {report.task}, spaces {', '.join(report.spaces)}, "
        f"{report.replicates} replicates x {report.n_trials} trials ({report.state}), "
        f"{report.trials_done}/{report.trials_total} trials done"
    )
    analysis = report.analysis
    if analysis is None:
        console.print("no completed trial yet")
        return
    table = Table(title=f"trials to reach within {analysis.tolerance:.3f} of the best ({analysis.target:.4f})")
    for column in ("space", "final best (mean [CI])", "trials to target (mean [CI])", "reached"):
        table.add_column(column)
    for space in analysis.spaces:
        best, ttt = space.final_best, space.trials_to_target_mean
        table.add_row(
            space.name,
            f"{_num(best.mean, '.4f')} [{_num(best.lo, '.4f')}, {_num(best.hi, '.4f')}]",
            f"{_num(ttt.mean, '.1f')} [{_num(ttt.lo, '.1f')}, {_num(ttt.hi, '.1f')}]",
            f"{space.n_reached}/{space.n_replicates}",
        )
    console.print(table)
    diff = analysis.difference
    if diff is not None:
        console.print(
            f"{diff.space_a} - {diff.space_b}: {_num(diff.mean, '+.1f')} trials "
            f"[{_num(diff.lo, '+.1f')}, {_num(diff.hi, '+.1f')}]"
        )


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _cmd_compare(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    if getattr(args, "compare_command", None) == "show":
        return _cmd_compare_show(args, console)
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings
    from tuner.study.config import ComparisonConfig
    from tuner.study.submit import submit_comparison

    _check_run_options(args)
    config = config_from_args(ComparisonConfig, args)
    storage = open_storage(get_settings())
    executor = _executor(args)
    try:
        comparison, studies = submit_comparison(storage, get_settings(), config)
    except BaseException:
        executor.shutdown()
        raise
    console.print(f"comparison {comparison.id} queued in {storage.url} ({len(studies)} studies)")
    report = _comparison_to_end(storage, executor, comparison.id, studies, console, args)
    console.print(f"stored in {storage.url}; show it again with: bnn-tune compare show {comparison.id}")
    return report.model_dump(mode="json")


def _cmd_compare_show(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from tuner.analysis.reports import comparison_view
    from tuner.execution.runner import open_storage
    from tuner.settings import get_settings

    report = comparison_view(open_storage(get_settings(), must_exist=True), args.id)
    _comparison_table(report, console)
    return report.model_dump(mode="json")
