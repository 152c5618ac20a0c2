"""Where a comparison's time goes on this CPU: matmuls, optimizer state traffic, data gathering and Bayesian
optimization, against this machine's own matmul FLOP/s and memory bandwidth.

With one torch thread it measures, in the same run:

- the ceilings: float32 matmul FLOP/s (a 1024^3 product for the peak, and every shape the batched model ran, alone)
  and memory bandwidth (a large copy and ``add_``, and the same at the size of one layer's optimizer state, in cache);
- one batched trainer per space (``TrialBatch``, ``--members`` trials of the filter and latent spaces drawn at random,
  AudioFC, the real FSDD data), its epochs profiled with ``torch.profiler``: every operator's own time is put in the
  phase it ran in (data gathering, forward, backward, loss, BNN optimizer, Adam, evaluation, bookkeeping) and a kind
  (matmul or other); matmul FLOPs are counted from the recorded shapes, optimizer bytes from the state each step must
  read and write;
- seconds per suggestion, for the lean (``botorch``) and the ``ax`` path, on a history of ``--history`` completed
  random trials per space (and a Sobol one), one after another and from a pool of ``--pool-workers`` processes;

then estimates the full Figure 8 comparison (2 spaces x 20 replicates x 25 trials x 20 epochs: 25 lockstep rounds of
40 suggestions) with each path. The last line is one JSON object.

    .venv/bin/python benchmarks/where_time_goes.py [--members 40] [--epochs 3] [--width 64] [--repeats 5]

Run with the defaults on 2026-11-28 07:55 UTC (seed 0) on this project's machine, an Intel Xeon with 2 cores and no GPU,
torch 2.13.0+cpu, the load average at 2.3 to 4.4: 2 min 56 s. The figures are in docs/results/where-time-goes.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile, record_function

from search_spaces import get_space, sample_point
from trainers.batched import TrialBatch
from trainers.data import TaskData, load_task_data
from trainers.layers import BinaryOptions
from trainers.trial import TrialSpec
from tuner.bo.adapters import SUGGESTERS
from tuner.bo.history import HistoryTrial
from tuner.bo.suggestions import SuggestionPool, SuggestionRequest, suggest_from_history
from tuner.study.config import Suggester
from tuner.study.states import TrialState

FLOAT_BYTES = 4
MATMUL_OPS = frozenset({"aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm"})
# Ops that only dispatch to one of MATMUL_OPS: their own time is matmul overhead, their FLOPs are the callee's.
MATMUL_WRAPPERS = frozenset({"aten::matmul", "aten::linear"})
# The Figure 8 comparison: spaces x replicates studies of trials, trained for epochs each.
FIGURE8 = {"spaces": 2, "replicates": 20, "trials": 25, "epochs": 20, "n_initial": 5}


# -- the ceilings --------------------------------------------------------------------------------------------


def _median_seconds(action: Callable[[], object], repeats: int, warm: int = 2) -> float:
    for _ in range(warm):
        action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_rate(a_shape: tuple[int, ...], b_shape: tuple[int, ...], repeats: int) -> float:
    """Median float32 FLOP/s of ``a @ b`` (``torch.mm`` for 2-D, ``torch.bmm`` for 3-D operands)."""
    a, b = torch.randn(*a_shape), torch.randn(*b_shape)
    # Into one output buffer, as the trainer's large products are: a fresh output of megabytes would time page faults.
    out = torch.empty(*a_shape[:-1], b_shape[-1])
    op = torch.mm if len(a_shape) == 2 else torch.bmm
    calls = max(1, int(2e8 // _matmul_flops(a_shape, b_shape)))  # enough calls per timing to outlast the clock

    def run() -> None:
        for _ in range(calls):
            op(a, b, out=out)

    return calls * _matmul_flops(a_shape, b_shape) / _median_seconds(run, repeats)


def bandwidth(numel: int, repeats: int) -> dict[str, float]:
    """Median bytes/s of ``dst.copy_(src)`` (2 tensors moved) and ``a.add_(b)`` (3) on float32 tensors of ``numel``."""
    a, b = torch.randn(numel), torch.randn(numel)
    calls = max(1, int(5e8 // (numel * FLOAT_BYTES)))
    copy = _median_seconds(lambda: [a.copy_(b) for _ in range(calls)], repeats)
    add = _median_seconds(lambda: [a.add_(b) for _ in range(calls)], repeats)
    size = numel * FLOAT_BYTES * calls
    return {"copy": 2 * size / copy, "add": 3 * size / add}


# -- the batched trainer -------------------------------------------------------------------------------------


def member_specs(space_name: str, members: int, epochs: int, width: int, seed: int) -> list[TrialSpec]:
    """``members`` trial specs of random points of the space, built as the scheduler builds a trial's spec."""
    space = get_space(space_name)
    rng = random.Random(seed)
    specs = []
    for k in range(members):
        arguments = space.build_trial(sample_point(space, rng))
        binary, hyperparameters = arguments["binary"], arguments["hyperparameters"]
        assert isinstance(binary, dict) and isinstance(hyperparameters, dict)
        specs.append(
            TrialSpec(
                task="audio",
                optimizer=str(arguments["optimizer"]),
                hyperparameters={name: float(v) for name, v in hyperparameters.items()},
                binary=BinaryOptions(**binary),
                decay=str(arguments["decay"]),
                epochs=epochs,
                seed=seed + k,
                width=width,
                device="cpu",
            )
        )
    return specs


def _label_calls(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def labelled(*args: Any, **kwargs: Any) -> Any:
        with record_function(label):
            return function(*args, **kwargs)

    return labelled


def _label_iteration(label: str, epoch: Callable[[], Iterator[Any]]) -> Callable[[], Iterator[Any]]:
    """``epoch`` whose every ``next`` (the work of gathering one minibatch) runs under ``label``."""

    def labelled() -> Iterator[Any]:
        batches = epoch()
        while True:
            with record_function(label):
                item = next(batches, None)
            if item is None:
                return
            yield item

    return labelled


def label_phases(batch: TrialBatch) -> None:
    """Wrap the batch's parts so that the profile tells its phases apart (on this instance only)."""
    model_forward = batch.model.forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        with record_function("phase:forward" if torch.is_grad_enabled() else "phase:evaluation"):
            logits: torch.Tensor = model_forward(x)
            return logits

    batch.model.forward = forward  # type: ignore[method-assign]
    batch.optimizer.step = _label_calls("phase:bnn_optimizer", batch.optimizer.step)  # type: ignore[method-assign]
    batch.adam.step = _label_calls("phase:adam", batch.adam.step)  # type: ignore[method-assign]
    batch._feed.epoch = _label_iteration("phase:data", batch._feed.epoch)  # type: ignore[method-assign]


def _phase(event: FunctionEvent) -> str:
    """The phase an operator ran in: its innermost phase label, the backward pass, the loss, or bookkeeping."""
    node: FunctionEvent | None = event
    loss = False
    while node is not None:
        if node.name.startswith("phase:"):
            return node.name.removeprefix("phase:")
        if node.name.startswith("autograd::engine::evaluate_function"):
            return "backward"
        loss = loss or node.name == "aten::cross_entropy_loss"
        node = node.cpu_parent
    # Outside the labelled calls the training loop computes the loss and its per-epoch sums (loss, accuracy, finite).
    return "loss" if loss else "bookkeeping"


def _matmul_flops(a_shape: tuple[int, ...] | list[int], b_shape: tuple[int, ...] | list[int]) -> float:
    """2 * m * k * n (times the batch of a bmm) for ``[.., m, k] @ [.., k, n]``."""
    batch = a_shape[0] if len(a_shape) == 3 else 1
    return 2.0 * batch * a_shape[-2] * a_shape[-1] * b_shape[-1]


Shape = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass
class PhaseTimes:
    """Operator self time in seconds by (phase, kind), and matmul FLOPs by (phase, operand shapes)."""

    seconds: dict[tuple[str, str], float] = field(default_factory=dict)
    flops: dict[tuple[str, Shape], float] = field(default_factory=dict)

    def add(self, event: FunctionEvent) -> None:
        """Count one operator's own time (and FLOPs, for a matmul)."""
        if not event.name.startswith("aten::"):
            return  # labels and autograd nodes: their own time is Python and dispatch, left unowned
        phase = _phase(event)
        kind = "matmul" if event.name in MATMUL_OPS | MATMUL_WRAPPERS else "other"
        key = (phase, kind)
        self.seconds[key] = self.seconds.get(key, 0.0) + event.self_cpu_time_total / 1e6
        if event.name in MATMUL_OPS:
            recorded: list[Any] = list(event.input_shapes)  # one list of sizes per argument, [] for non-tensors
            shapes: list[tuple[int, ...]] = [tuple(s) for s in recorded if s]
            if event.name in ("aten::addmm", "aten::baddbmm"):
                shapes = shapes[1:]  # the first operand is the added term
            shape = (shapes[0], shapes[1])
            self.flops[phase, shape] = self.flops.get((phase, shape), 0.0) + _matmul_flops(*shape)


def profile_batch(specs: list[TrialSpec], data: TaskData) -> dict[str, Any]:
    """Train ``specs`` as one batch twice: plain (the wall time) and profiled (where it goes), per epoch."""
    epochs = specs[0].epochs
    plain = TrialBatch(specs, data=data)
    start = time.perf_counter()
    plain.run()
    wall = (time.perf_counter() - start) / epochs
    batch = TrialBatch(specs, data=data)
    label_phases(batch)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        start = time.perf_counter()
        batch.run()
        profiled_wall = (time.perf_counter() - start) / epochs
    times = PhaseTimes()
    for event in prof.events():
        times.add(event)
    counted = sum(times.seconds.values()) / epochs
    return {
        "members": len(specs),
        "steps_per_epoch": batch.steps_per_epoch,
        "epoch_seconds": wall,
        "profiled_epoch_seconds": profiled_wall,
        # Python between operators (the loop, autograd's graph, the profiler itself): wall time no operator owns.
        "unowned_epoch_seconds": profiled_wall - counted,
        "phase_seconds": {f"{phase}/{kind}": s / epochs for (phase, kind), s in sorted(times.seconds.items())},
        "matmul_flops": [
            {"phase": phase, "a": list(a), "b": list(b), "flops_per_epoch": f / epochs}
            for (phase, (a, b)), f in sorted(times.flops.items(), key=lambda kv: -kv[1])
        ],
        "state_bytes_per_step": state_bytes(batch),
        "gathered_bytes_per_step": len(specs)
        * specs[0].batch_size
        * math.prod(batch.model.sample_shape)
        * 2
        * FLOAT_BYTES,
    }


def state_bytes(batch: TrialBatch) -> dict[str, int]:
    """Bytes each optimizer must read and write per step at the least: its state, parameters and gradients.

    The filter reads g, m, f, theta and the tie signs and writes m, f, theta (8 tensors like the weights); latent
    SGD reads g, m, w and the signs and writes m, w and the signs (7); fused Adam reads g, p, both moments and
    writes p and both moments (7 tensors like the real parameters).
    """
    binary = sum(p.numel() for p in batch.model.binary_weights())
    real = sum(p.numel() for p in batch.model.real_parameters())
    per_weight = 8 if batch.specs[0].optimizer == "filter" else 7
    return {"bnn_optimizer": per_weight * binary * FLOAT_BYTES, "adam": 7 * real * FLOAT_BYTES}


# -- Bayesian optimization -----------------------------------------------------------------------------------


def made_up_objective(point: dict[str, object]) -> float:
    """A smooth function of the numeric parameters: the benchmark times the model, not the optimum."""
    values = [math.log10(float(v)) for v in point.values() if isinstance(v, float) and v > 0]
    return 0.9 - 0.01 * sum((v + 2.5) ** 2 for v in values)


def suggestion_request(space_name: str, history: int, seed: int, suggester: Suggester = "botorch") -> SuggestionRequest:
    """A study of ``space_name`` with ``history`` completed random trials, asking for its next one."""
    space = get_space(space_name)
    rng = random.Random(seed)
    trials = []
    for number in range(history):
        point = sample_point(space, rng)
        trials.append(HistoryTrial(number, point, TrialState.COMPLETED, made_up_objective(point)))
    return SuggestionRequest.of(
        space_name,
        seed=seed,
        n_initial=FIGURE8["n_initial"],
        objective="val_accuracy",
        history=trials,
        suggester=suggester,
    )


def suggestion_seconds(history: int, repeats: int, pool_workers: int, suggester: Suggester) -> dict[str, Any]:
    """Median seconds per suggestion of one path for each space (BoTorch and Sobol), here and from a pool."""
    out: dict[str, Any] = {}
    for space_name in ("filter", "latent"):
        bo = suggestion_request(space_name, history, seed=1, suggester=suggester)
        sobol = suggestion_request(space_name, 2, seed=1, suggester=suggester)
        out[f"{space_name}_botorch"] = _median_seconds(partial(suggest_from_history, bo), repeats, warm=1)
        out[f"{space_name}_sobol"] = _median_seconds(partial(suggest_from_history, sobol), repeats, warm=0)
    if pool_workers > 0:
        # A round of 4 * workers BoTorch suggestions, half per space, here and from the pool.
        requests = {
            (name, r): suggestion_request(name, history, seed=r, suggester=suggester)
            for name in ("filter", "latent")
            for r in range(2 * pool_workers)
        }
        here = _median_seconds(lambda: [suggest_from_history(r) for r in requests.values()], 1, warm=0)
        with SuggestionPool(pool_workers) as pool:
            pool.suggest(dict(list(requests.items())[:pool_workers]))  # spawn the workers, import BoTorch, suggest once
            pooled = _median_seconds(lambda: pool.suggest(requests), 1, warm=0)
        out["pool"] = {"workers": pool_workers, "round": len(requests), "here": here, "pooled": pooled}
    return out


# -- the full comparison -------------------------------------------------------------------------------------


def estimate_figure8(batches: dict[str, dict[str, Any]], suggestions: dict[str, Any]) -> dict[str, Any]:
    """Seconds of the Figure 8 comparison on one core, by training phase and for BO, from the measured rates.

    Training: every trial trains ``epochs`` epochs as a member of its space's batch; the cost of a member-epoch is the
    measured batch's epoch over its members (so the estimate holds for batches of about that size).
    BO: the first ``n_initial`` rounds are Sobol, the others BoTorch, every study asking once per round.
    """
    member_epochs = FIGURE8["replicates"] * FIGURE8["trials"] * FIGURE8["epochs"]  # per space
    training: dict[str, float] = {}
    for batch in batches.values():
        scale = member_epochs / batch["members"]
        for key, seconds in batch["phase_seconds"].items():
            training[key] = training.get(key, 0.0) + seconds * scale
        training["unowned"] = training.get("unowned", 0.0) + batch["unowned_epoch_seconds"] * scale
    profiled = sum(b["profiled_epoch_seconds"] * member_epochs / b["members"] for b in batches.values())
    per_space = {name: b["epoch_seconds"] * member_epochs / b["members"] for name, b in batches.items()}
    plain = sum(per_space.values())
    bo_rounds = FIGURE8["trials"] - FIGURE8["n_initial"]
    bo_serial = sum(
        FIGURE8["replicates"]
        * (bo_rounds * suggestions[f"{space_name}_botorch"] + FIGURE8["n_initial"] * suggestions[f"{space_name}_sobol"])
        for space_name in ("filter", "latent")
    )
    out: dict[str, Any] = {
        "training_phase_seconds": training,
        "training_seconds_profiled": profiled,
        "training_seconds": plain,
        "training_seconds_by_space": per_space,
        "bo_seconds_serial": bo_serial,
        # Lockstep rounds on two cores: the round's suggestions, then the two spaces' batches side by side.
        "wall_seconds_serial_bo": bo_serial + max(per_space.values()),
    }
    if "pool" in suggestions:
        pool = suggestions["pool"]
        out["bo_seconds_pool"] = bo_serial * pool["pooled"] / pool["here"]
        out["pool_workers"] = pool["workers"]
        out["wall_seconds_pool_bo"] = out["bo_seconds_pool"] + max(per_space.values())
    return out


# -- report --------------------------------------------------------------------------------------------------


def ceilings(args: argparse.Namespace) -> dict[str, Any]:
    """The machine's peak matmul FLOP/s and its bandwidth, for DRAM-sized and for state-sized (cached) tensors."""
    state_numel = args.members * args.width * args.width  # a hidden layer's weights: the largest optimizer state
    return {
        "matmul_peak_1024": matmul_rate((1024, 1024), (1024, 1024), args.repeats),
        "bandwidth_dram": bandwidth(64 * 2**20, args.repeats),  # 256 MB tensors, far beyond any cache
        "bandwidth_state_size": bandwidth(state_numel, args.repeats),
        "state_tensor_bytes": state_numel * FLOAT_BYTES,
    }


def shape_rates(batches: dict[str, dict[str, Any]], repeats: int) -> dict[str, float]:
    """FLOP/s of every matmul shape the batches ran, each measured alone: the ceiling at the model's own shapes."""
    shapes = {(tuple(m["a"]), tuple(m["b"])) for batch in batches.values() for m in batch["matmul_flops"]}
    return {f"{list(a)} @ {list(b)}": matmul_rate(a, b, repeats) for a, b in sorted(shapes)}


def phase_rows(batch: dict[str, Any], ceiling: dict[str, Any], rates: dict[str, float]) -> list[dict[str, Any]]:
    """One row per (phase, kind) of a batch's epoch: seconds, share, achieved rate and fractions of the ceilings.

    Matmul rows: FLOP/s against the 1024^3 peak and against the same shapes run alone. Optimizer rows: the bytes of
    state each step must move at the least, against the DRAM and the cache-sized bandwidth. Data rows: the gathered
    minibatches (read and written), likewise.
    """
    steps, total = batch["steps_per_epoch"], batch["profiled_epoch_seconds"]
    dram = max(ceiling["bandwidth_dram"].values())
    cached = max(ceiling["bandwidth_state_size"].values())
    rows = []
    for key, seconds in sorted(batch["phase_seconds"].items(), key=lambda kv: -kv[1]):
        phase, kind = key.split("/")
        row: dict[str, Any] = {"phase": phase, "kind": kind, "seconds": seconds, "share": seconds / total}
        if kind == "matmul":
            done = [m for m in batch["matmul_flops"] if m["phase"] == phase]
            flops = sum(m["flops_per_epoch"] for m in done)
            alone = sum(m["flops_per_epoch"] / rates[f"{m['a']} @ {m['b']}"] for m in done)
            row.update(rate=flops / seconds, unit="FLOP/s", of_peak=flops / seconds / peak_of(ceiling))
            row["of_same_shapes_alone"] = alone / seconds
        elif phase in ("bnn_optimizer", "adam") or phase == "data":
            per_step = batch["gathered_bytes_per_step"] if phase == "data" else batch["state_bytes_per_step"][phase]
            moved = per_step * steps / seconds
            row.update(rate=moved, unit="B/s", of_dram=moved / dram, of_cache=moved / cached)
        rows.append(row)
    unowned = batch["unowned_epoch_seconds"]
    rows.append({"phase": "unowned", "kind": "python", "seconds": unowned, "share": unowned / total})
    return rows


def peak_of(ceiling: dict[str, Any]) -> float:
    """The peak matmul FLOP/s of the ceilings."""
    return float(ceiling["matmul_peak_1024"])


def print_rows(name: str, batch: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """One batch's table of phases."""
    print(f"\n{name}: {batch['members']} members, {batch['steps_per_epoch']} steps per epoch")
    print(f"  epoch {batch['epoch_seconds']:.3f} s plain, {batch['profiled_epoch_seconds']:.3f} s profiled")
    for row in rows:
        text = f"  {row['phase'] + '/' + row['kind']:24s} {row['seconds']:7.3f} s {row['share']:6.1%}"
        if row.get("unit") == "FLOP/s":
            text += (
                f"  {row['rate'] / 1e9:6.2f} GFLOP/s = {row['of_peak']:5.1%} of peak,"
                f" {row['of_same_shapes_alone']:5.1%} of the same shapes alone"
            )
        elif row.get("unit") == "B/s":
            text += f"  {row['rate'] / 1e9:6.2f} GB/s = {row['of_dram']:5.1%} of DRAM, {row['of_cache']:5.1%} of cache"
        print(text)


def print_bo(suggester: str, suggestions: dict[str, Any], figure8: dict[str, Any]) -> None:
    """One suggestion path's timings and the Figure 8 estimate with it."""
    timed = ", ".join(f"{k} {v:.3f}" for k, v in suggestions.items() if isinstance(v, float))
    print(f"\n{suggester}: seconds per suggestion: {timed}")
    if "pool" in suggestions:
        pool = suggestions["pool"]
        print(
            f"  a round of {pool['round']}: here {pool['here']:.2f} s, pool of {pool['workers']} {pool['pooled']:.2f} s"
        )
    print(
        f"  Figure 8 on one core: training {figure8['training_seconds'] / 60:.1f} min"
        f" (profiled {figure8['training_seconds_profiled'] / 60:.1f}), BO {figure8['bo_seconds_serial'] / 60:.1f} min"
    )
    if "bo_seconds_pool" in figure8:
        print(f"  BO from a pool of {figure8['pool_workers']}: {figure8['bo_seconds_pool'] / 60:.1f} min")
    walls = [("serial BO", "wall_seconds_serial_bo"), ("pooled BO", "wall_seconds_pool_bo")]
    print(
        "  lockstep on two cores: "
        + ", ".join(f"{label} {figure8[key] / 60:.1f} min" for label, key in walls if key in figure8)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=40, help="trials K per batch (default 40)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per profiled batch (default 3)")
    parser.add_argument("--width", type=int, default=64, help="hidden width of AudioFC (default 64)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each ceiling timing")
    parser.add_argument("--bo-repeats", type=int, default=3, help="repeats of each suggestion timing")
    parser.add_argument("--history", type=int, default=10, help="completed trials per suggestion's study")
    parser.add_argument("--pool-workers", type=int, default=2, help="suggestion pool size (0: skip the pool)")
    parser.add_argument("--max-train", type=int, default=None, help="use at most this many training examples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    data = load_task_data("audio", max_train=args.max_train)
    ceiling = ceilings(args)
    print(f"one torch thread; matmul peak (1024^3): {peak_of(ceiling) / 1e9:.2f} GFLOP/s")
    for name in ("bandwidth_dram", "bandwidth_state_size"):
        print(f"{name}: " + ", ".join(f"{op} {v / 1e9:.2f} GB/s" for op, v in ceiling[name].items()))

    # One short batch first, so that neither measurement pays one-time costs (thread pool, allocator, kernels).
    TrialBatch(member_specs("filter", 2, 1, args.width, args.seed), data=data).run()
    batches = {
        name: profile_batch(member_specs(name, args.members, args.epochs, args.width, args.seed), data)
        for name in ("filter", "latent")
    }
    rates = shape_rates(batches, args.repeats)
    for shape, rate in rates.items():
        print(f"  matmul {shape} alone: {rate / 1e9:.2f} GFLOP/s")
    rows = {name: phase_rows(batch, ceiling, rates) for name, batch in batches.items()}
    for name, batch in batches.items():
        print_rows(name, batch, rows[name])

    suggestions = {s: suggestion_seconds(args.history, args.bo_repeats, args.pool_workers, s) for s in SUGGESTERS}
    figure8 = {s: estimate_figure8(batches, suggestions[s]) for s in SUGGESTERS}
    for suggester in SUGGESTERS:
        print_bo(suggester, suggestions[suggester], figure8[suggester])
    for key, seconds in sorted(figure8["botorch"]["training_phase_seconds"].items(), key=lambda kv: -kv[1]):
        print(f"  {key:24s} {seconds / 60:6.1f} min")
    result = {
        "args": vars(args),
        "threads": torch.get_num_threads(),
        "ceilings": ceiling,
        "matmul_rates_alone": rates,
        "batches": batches,
        "phases": rows,
        "suggestion_seconds": suggestions,
        "figure8": figure8,
        "wall_seconds": time.perf_counter() - started,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
