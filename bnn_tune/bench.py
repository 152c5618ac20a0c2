"""The ``bench`` commands of the CLI: performance measurements that print figures.

``bench batched`` trains K trials (audio or CIFAR-10) one by one (``train_trial``) and the same K as one
batch (``train_batch``), in the same process on the same data, and prints both times and the speedup. With
``--optimizer mixed`` half the members are filter and half latent trials, as in a comparison's lockstep round,
and it also times one batch per optimizer, what a batch of one optimizer only would cost.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from trainers.data import Split, TaskData
    from trainers.trial import TrialSpec

__all__ = ["add_bench_parsers", "set_threads"]

_TASKS = ("audio", "cifar10")
# Log-uniform ranges the members' hyperparameters are drawn from: typical values of each optimizer, where a
# run neither stalls nor diverges; their values barely change the cost of a step.
_LOG_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "filter": {"alpha": (1e-4, 1e-2), "gamma": (1e-3, 1e-1)},
    "latent": {"lr": (1e-3, 1e-1), "weight_decay": (1e-4, 1e-2), "one_minus_momentum": (1e-2, 0.5)},
    "bop": {"threshold": (1e-8, 1e-5), "gamma": (1e-4, 1e-2)},
}
# --optimizer mixed: member k is of _MIXED[k % 2], a comparison's two search spaces.
_MIXED = ("filter", "latent")


def add_bench_parsers(commands: Any) -> None:
    """Add ``bench`` with its subcommand ``batched`` to the CLI's subparsers."""
    bench = commands.add_parser("bench", help="performance measurements")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True)
    p = bench_commands.add_parser("batched", help="K trials one by one against the same K as one batch")
    p.add_argument("--task", choices=_TASKS, default="audio", help="audio (AudioFC) or cifar10 (BiRealNet20)")
    p.add_argument("--members", type=int, default=40, help="trials K (default 40)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per trial (default 2)")
    p.add_argument("--width", type=int, default=256, help="hidden width of the audio net (default 256)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument(
        "--optimizer",
        choices=(*_LOG_RANGES, "mixed"),
        default="filter",
        help="BNN optimizer (filter); mixed: half filter, half latent, also timed as one batch per optimizer",
    )
    p.add_argument(
        "--shared-order",
        action="store_true",
        help="batch members share the minibatch order (common random numbers)",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads of torch for both paths (default: torch's own)"
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-train", type=int, default=None, help="use at most this many training examples")
    p.add_argument(
        "--max-eval",
        type=int,
        default=None,
        help="evaluate on at most this many validation and test examples each (a random sample)",
    )
    p.add_argument("--data-dir", default=None, help="data root (else $BNN_TUNE_DATA, ./data, ../shared/data)")
    p.add_argument("--seed", type=int, default=0, help="member k has seed + k; also seeds the hyperparameters")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.set_defaults(handler=_cmd_bench_batched)


def set_threads(threads: int | None) -> None:
    """Set torch's CPU threads from a ``--threads`` flag (None keeps torch's own, one per core).

    Raises:
        InvalidInputError: ``threads`` below 1.
    """
    import torch

    from bnn_errors import InvalidInputError

    if threads is None:
        return
    if threads < 1:
        raise InvalidInputError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def _member_specs(args: argparse.Namespace) -> list[TrialSpec]:
    from bnn_errors import InvalidInputError
    from trainers.trial import TrialSpec

    if args.members < 1:
        raise InvalidInputError(f"--members must be >= 1, got {args.members}")
    rng = random.Random(args.seed)
    specs = []
    for k in range(args.members):
        optimizer = _MIXED[k % 2] if args.optimizer == "mixed" else args.optimizer
        drawn = {
            name: 10 ** rng.uniform(math.log10(low), math.log10(high))
            for name, (low, high) in _LOG_RANGES[optimizer].items()
        }
        if optimizer == "latent":
            drawn["momentum"] = 1.0 - drawn.pop("one_minus_momentum")
        specs.append(
            TrialSpec(
                task=args.task,
                optimizer=optimizer,
                hyperparameters=drawn,
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=args.seed + k,
                width=args.width if args.task == "audio" else None,
                max_train=args.max_train,
                data_dir=args.data_dir,
                device=args.device,
            )
        )
    # as the scheduler orders a batch (tuner.execution.worker.group_jobs): each optimizer's members consecutive
    return sorted(specs, key=lambda spec: spec.optimizer)


def _eval_sample(data: TaskData, max_eval: int | None) -> TaskData:
    """``data`` with at most ``max_eval`` validation and test examples, a seeded random sample of each."""
    import dataclasses

    from bnn_errors import InvalidInputError
    from trainers.data import TensorSplit

    if max_eval is None:
        return data
    if max_eval < 1:
        raise InvalidInputError(f"--max-eval must be >= 1, got {max_eval}")

    def sample(split: Split) -> Split:
        return split.sample(max_eval) if isinstance(split, TensorSplit) else split

    return dataclasses.replace(data, val=sample(data.val), test=sample(data.test))


def _cmd_bench_batched(args: argparse.Namespace, console: Console) -> dict[str, object]:
    import dataclasses

    import torch

    from bnn_errors import TrainingDivergedError
    from trainers.batched import TrialBatch, train_batch
    from trainers.data import load_task_data
    from trainers.trial import TrialResult, resolve_device, train_trial

    specs = _member_specs(args)
    set_threads(args.threads)
    device = resolve_device(args.device)
    data = _eval_sample(load_task_data(args.task, args.data_dir, max_train=args.max_train), args.max_eval)
    members = len(specs)
    model = f"width {args.width}" if args.task == "audio" else "BiRealNet20"
    console.print(
        f"task {args.task} ({model}), members {members}, epochs {args.epochs}, optimizer {args.optimizer}, "
        f"device {device} ({torch.get_num_threads()} CPU threads), data {data.description}; "
        f"evaluated on {len(data.val)} val and {len(data.test)} test examples",
        soft_wrap=True,
    )
    # One short run of each path first, so that neither pays one-time costs (thread pools, kernels, the
    # data's copy to the device) inside its measurement.
    warm = dataclasses.replace(specs[0], epochs=1)
    train_trial(warm, data=data)
    train_batch([warm, dataclasses.replace(warm, seed=warm.seed + 1)], data=data)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        single_task = progress.add_task("one by one", total=members)
        started = time.perf_counter()
        singles: list[TrialResult | TrainingDivergedError] = []
        for spec in specs:
            try:
                singles.append(train_trial(spec, data=data))
            except TrainingDivergedError as exc:
                singles.append(exc)
            progress.advance(single_task)
        one_by_one = time.perf_counter() - started

        per_optimizer: float | None = None
        if args.optimizer == "mixed":
            groups = [[s for s in specs if s.optimizer == optimizer] for optimizer in _MIXED]
            groups_task = progress.add_task("one batch per optimizer", total=len(groups))
            started = time.perf_counter()
            for group in groups:
                train_batch(group, data=data, shared_order=args.shared_order)
                progress.advance(groups_task)
            per_optimizer = time.perf_counter() - started

        batch_task = progress.add_task("as one batch (epochs)", total=args.epochs)

        def advance(k: int, point: Any) -> None:
            progress.update(batch_task, completed=point.epoch)

        # train_batch's two halves, timed apart: setting up the K members (each network built and initialized
        # on the CPU as its single trial is, then copied into its slot) does not get faster with the device.
        started = time.perf_counter()
        batch = TrialBatch(specs, data=data, shared_order=args.shared_order)
        setup_seconds = time.perf_counter() - started
        batched = batch.run(on_epoch=advance)
        batch_seconds = time.perf_counter() - started

    def mean_val(results: list[TrialResult | TrainingDivergedError]) -> float | None:
        finished = [r.final.val_accuracy for r in results if isinstance(r, TrialResult)]
        return sum(finished) / len(finished) if finished else None

    result: dict[str, object] = {
        "task": args.task,
        "members": members,
        "epochs": args.epochs,
        "width": args.width if args.task == "audio" else None,
        "max_train": args.max_train,
        "max_eval": args.max_eval,
        "optimizer": args.optimizer,
        "shared_order": args.shared_order,
        "device": str(device),
        "cpu_threads": torch.get_num_threads(),
        "one_by_one_seconds": one_by_one,
        "batched_seconds": batch_seconds,
        "batched_setup_seconds": setup_seconds,
        "speedup": one_by_one / batch_seconds,
        "per_optimizer_seconds": per_optimizer,
        "speedup_over_per_optimizer": None if per_optimizer is None else per_optimizer / batch_seconds,
        "mean_val_accuracy_one_by_one": mean_val(singles),
        "mean_val_accuracy_batched": mean_val(batched),
        "diverged_one_by_one": sum(isinstance(r, TrainingDivergedError) for r in singles),
        "diverged_batched": sum(isinstance(r, TrainingDivergedError) for r in batched),
    }
    console.print(
        f"one by one: {one_by_one:.2f} s   as one batch: {batch_seconds:.2f} s "
        f"(setting up the members {setup_seconds:.2f} s, training {batch_seconds - setup_seconds:.2f} s)",
        soft_wrap=True,
    )
    if per_optimizer is not None:
        console.print(
            f"one batch per optimizer: {per_optimizer:.2f} s ({per_optimizer / batch_seconds:.2f}x the one batch)",
            soft_wrap=True,
        )
    console.print(f"speedup: {one_by_one / batch_seconds:.2f}x", soft_wrap=True)
    if not args.json:
        # With --json the CLI prints the object on stdout itself.
        console.print(json.dumps(result), soft_wrap=True, markup=False, highlight=False)
    return result
