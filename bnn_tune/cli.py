"""The ``bnn-tune`` command line.

Every command takes ``--json``: it then prints its result as one JSON object on the last line of its output.
Errors the user can fix are printed as ``error: ...`` on stderr with exit status 2 (and, with ``--json``, as
``{"error": ...}`` on the last line of stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from bnn_errors import BnnTuneError, InvalidInputError
from bnn_tune.bench import add_bench_parsers, set_threads
from bnn_tune.commands import add_tuning_parsers
from bnn_tune.serve import add_service_parsers

if TYPE_CHECKING:
    from trainers.trial import TrialSpec

__all__ = ["main"]


class _TrainHelp(argparse.HelpFormatter):
    """Lists the registered optimizers in the help of ``--optimizer`` when the help is shown: building the parser
    then imports no torch, so that every command starts fast."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if "--optimizer" not in action.option_strings or text is None:
            return text
        from trainers.optim import list_optimizers

        # argparse %-formats the help after this
        names = ", ".join(entry.name for entry in list_optimizers()).replace("%", "%%")
        return f"{names} ({text})"


def _add_train_parser(commands: Any) -> None:
    p = commands.add_parser("train", help="train one BNN and print its per-epoch table", formatter_class=_TrainHelp)
    p.add_argument("--task", default="audio", help="audio, cifar10 or imagenet (default audio)")
    p.add_argument(
        "--optimizer",
        default="filter",
        help="frozen is the control: binary weights stay at their random init; default filter",
    )
    hp = p.add_argument_group("BNN optimizer hyperparameters")
    hp.add_argument("--alpha", type=float, help="filter: EMA rate of the second filter stage, (0, 1]")
    hp.add_argument("--gamma", type=float, help="filter/bop: EMA rate of the gradient momentum, (0, 1]")
    hp.add_argument("--lr", type=float, help="latent: learning rate, > 0")
    hp.add_argument("--momentum", type=float, help="latent: momentum, [0, 1)")
    hp.add_argument("--weight-decay", type=float, help="latent: weight decay, >= 0")
    hp.add_argument("--clip", type=float, help="latent: clip latent weights to [-clip, clip] after each step")
    hp.add_argument("--threshold", type=float, help="bop: flip threshold, > 0")
    layers = p.add_argument_group("latent-weight options of the binary layers")
    layers.add_argument("--init-scale", type=float, default=1.0, help="latent init scale w0 (default 1.0)")
    layers.add_argument("--ste-clip", action="store_true", help="zero the STE gradient where |w| > 1")
    layers.add_argument("--scaling", action="store_true", help="channel-wise mean(|w|) scaling")
    run = p.add_argument_group("run")
    run.add_argument("--decay", default="cosine", help="cosine, linear or none (default cosine)")
    run.add_argument("--epochs", type=int, default=20)
    run.add_argument("--batch-size", type=int, default=64)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--width", type=int, default=None, help="hidden width of the audio net (default 64)")
    run.add_argument("--max-train", type=int, default=None, help="use at most this many training examples")
    run.add_argument(
        "--folds",
        type=int,
        default=1,
        help="k-fold cross-validation over the non-test recordings, by take (audio; default 1: the fixed split)",
    )
    run.add_argument("--repeats", type=int, default=1, help="training seeds per fold (default 1)")
    run.add_argument(
        "--objective",
        default="val_accuracy_last",
        choices=("val_accuracy_last", "val_accuracy_best"),
        help="the value averaged over the members (default val_accuracy_last)",
    )
    run.add_argument("--data-dir", default=None, help="data root (else $BNN_TUNE_DATA, ./data, ../shared/data)")
    run.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    run.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of torch (default: torch's own, one per core; where other work shares the cores, 1 is "
        "often much faster for the small audio net)",
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.set_defaults(handler=_cmd_train)


def _hyperparameters(args: argparse.Namespace) -> dict[str, float]:
    """The hyperparameter flags given, by name: which an optimizer takes, and needs, its registry entry's model says.

    Raises:
        InvalidInputError: an unknown optimizer, a flag it does not take, or a missing flag it needs (its model
            checks the ranges later).
    """
    from trainers.optim import get_optimizer, list_optimizers

    entry = get_optimizer(args.optimizer)
    allowed = entry.hyperparameter_names
    others = {n for other in list_optimizers() for n in other.hyperparameter_names} - set(allowed)
    stray = sorted(n for n in others if getattr(args, n, None) is not None)
    if stray:
        flags = ", ".join("--" + n.replace("_", "-") for n in stray)
        raise InvalidInputError(f"{flags} do(es) not apply to optimizer {args.optimizer!r}")
    missing = [n for n in entry.required_hyperparameters if getattr(args, n, None) is None]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise InvalidInputError(f"optimizer {args.optimizer!r} needs {flags}")
    return {n: float(getattr(args, n)) for n in allowed if getattr(args, n, None) is not None}


def _cmd_train(args: argparse.Namespace, console: Console) -> dict[str, object]:
    from trainers.layers import BinaryOptions
    from trainers.members import objective_value
    from trainers.trial import EpochPoint, TrialSpec, train_trial

    set_threads(args.threads)
    spec = TrialSpec(
        task=args.task,
        optimizer=args.optimizer,
        hyperparameters=_hyperparameters(args),
        binary=BinaryOptions(init_scale=args.init_scale, ste_clip=args.ste_clip, scaling=args.scaling),
        decay=args.decay,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        width=args.width,
        max_train=args.max_train,
        data_dir=args.data_dir,
        device=args.device,
    )
    columns = ("epoch", "train loss", "train acc", "val acc", "test acc", "flip ratio", "seconds")
    console.print(" ".join(f"{c:>10}" for c in columns), soft_wrap=True)

    def show(point: EpochPoint) -> None:
        console.print(
            f"{point.epoch:>10d} {point.train_loss:>10.4f} {point.train_accuracy:>10.2%} "
            f"{point.val_accuracy:>10.2%} {point.test_accuracy:>10.2%} {point.flip_ratio:>10.2e} "
            f"{point.seconds:>10.2f}",
            soft_wrap=True,
        )

    if args.folds * args.repeats > 1:
        return _train_members(spec, args, console)
    result = train_trial(spec, on_epoch=show)
    summary = result.summary()
    summary["objective"] = objective_value(result.points, args.objective)
    summary["objective_sem"] = None
    table = Table(title=f"{spec.task} / {spec.optimizer} on {result.device}", show_header=False)
    for key in ("val_accuracy", "best_val_accuracy", "test_accuracy", "flip_ratio"):
        value = summary[key]
        assert isinstance(value, float)
        table.add_row(key, f"{value:.4f}")
    table.add_row("total seconds", f"{result.seconds:.2f}")
    console.print(table)
    return summary


def _train_members(spec: TrialSpec, args: argparse.Namespace, console: Console) -> dict[str, object]:
    """Train the ``folds x repeats`` members of ``spec`` (as batches where they can share one) and summarize them."""
    import time

    import torch

    from trainers.members import member_specs, objective_value, objective_with_sem, train_members

    specs = member_specs(spec, args.folds, args.repeats)
    console.print(f"training {len(specs)} members: {args.folds} folds x {args.repeats} repeats", soft_wrap=True)
    started = time.perf_counter()
    outcomes = train_members(specs, cuda_available=torch.cuda.is_available())
    seconds = time.perf_counter() - started
    table = Table(title=f"{spec.task} / {spec.optimizer}: {len(specs)} members in {seconds:.1f} s")
    for column in ("member", "fold", "seed", args.objective, "test_accuracy", "flip_ratio"):
        table.add_column(column)
    members: list[dict[str, object]] = []
    for k, (member, outcome) in enumerate(zip(specs, outcomes, strict=True)):
        if isinstance(outcome, BnnTuneError):
            raise outcome
        value = objective_value(outcome.points, args.objective)
        final = outcome.final
        table.add_row(
            str(k), str(member.fold), str(member.seed), f"{value:.4f}", f"{final.test_accuracy:.4f}",
            f"{final.flip_ratio:.2e}",
        )  # fmt: skip
        members.append({"member": k, "fold": member.fold, "seed": member.seed, "objective": value, **outcome.summary()})
    objective, sem = objective_with_sem([float(m["objective"]) for m in members])  # type: ignore[arg-type]
    console.print(table)
    console.print(f"{args.objective}: {objective:.4f} +- {sem or 0.0:.4f} (mean +- standard error over the members)")
    return {
        "objective": objective,
        "objective_sem": sem,
        "objective_name": args.objective,
        "folds": args.folds,
        "repeats": args.repeats,
        "seconds": seconds,
        "members": members,
    }


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``bnn-tune`` command."""
    parser = argparse.ArgumentParser(
        prog="bnn-tune",
        description="Bayesian-optimization tuning of binary neural network optimizers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(commands)
    add_tuning_parsers(commands)
    add_service_parsers(commands)
    add_bench_parsers(commands)
    return parser


def _version() -> str:
    try:
        return metadata.version("bnn-tune")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run a ``bnn-tune`` command; return the process exit status."""
    args = build_parser().parse_args(argv)
    as_json: bool = getattr(args, "json", False)
    # With --json, human output goes to stderr so stdout carries exactly one JSON object.
    console = Console(stderr=as_json, highlight=False)
    handler: Callable[[argparse.Namespace, Console], dict[str, object]] = args.handler
    try:
        result = handler(args, console)
    except BnnTuneError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {exc}", markup=False)
        if as_json:
            print(json.dumps({"error": str(exc), "type": type(exc).__name__}))
        return 2
    except KeyboardInterrupt:
        # What was interrupted has said how to go on; no traceback. 130: the shell's code for Ctrl-C.
        Console(stderr=True, highlight=False).print("interrupted")
        return 130
    if as_json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
