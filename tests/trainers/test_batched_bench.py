"""``bnn-tune bench batched``: both paths measured in one run, the figures printed, the last line JSON."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from rich.console import Console

from bnn_errors import InvalidInputError
from bnn_tune.bench import add_bench_parsers

# Batched and single paths agree exactly only at one torch thread (the same reduction order).
pytestmark = pytest.mark.usefixtures("one_thread")


def _run(*argv: str) -> tuple[dict[str, object], str]:
    parser = argparse.ArgumentParser(prog="bnn-tune")
    add_bench_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", "batched", *argv])
    out = io.StringIO()
    result = args.handler(args, Console(file=out, width=200, highlight=False))
    return result, out.getvalue()


@pytest.mark.parametrize("optimizer", ["filter", "latent"])
def test_bench_batched_prints_both_times_and_the_speedup(optimizer: str) -> None:
    small = ("--members", "3", "--epochs", "1", "--width", "8", "--max-train", "64", "--device", "cpu")
    result, printed = _run(*small, "--optimizer", optimizer)
    assert result["members"] == 3 and result["epochs"] == 1 and result["device"] == "cpu"
    one_by_one, batched = result["one_by_one_seconds"], result["batched_seconds"]
    assert isinstance(one_by_one, float) and isinstance(batched, float) and one_by_one > 0 and batched > 0
    assert result["speedup"] == pytest.approx(one_by_one / batched)
    setup = result["batched_setup_seconds"]
    assert isinstance(setup, float) and 0 < setup < batched and "setting up the members" in printed
    # the same trials: both paths reach the same accuracies
    assert result["mean_val_accuracy_batched"] == pytest.approx(result["mean_val_accuracy_one_by_one"], abs=0.02)
    assert "speedup" in printed and "one by one" in printed
    assert json.loads(printed.strip().splitlines()[-1]) == result


def test_bench_batched_mixed_times_one_batch_per_optimizer_too() -> None:
    small = ("--members", "4", "--epochs", "1", "--width", "8", "--max-train", "64", "--device", "cpu")
    result, printed = _run(*small, "--optimizer", "mixed")
    per_optimizer, batched = result["per_optimizer_seconds"], result["batched_seconds"]
    assert isinstance(per_optimizer, float) and isinstance(batched, float) and per_optimizer > 0
    assert result["speedup_over_per_optimizer"] == pytest.approx(per_optimizer / batched)
    assert "one batch per optimizer" in printed
    assert result["mean_val_accuracy_batched"] == pytest.approx(result["mean_val_accuracy_one_by_one"], abs=0.02)
    # one optimizer alone has no such comparison
    assert _run(*small, "--optimizer", "bop")[0]["per_optimizer_seconds"] is None


def test_bench_batched_on_cifar10_trains_birealnets() -> None:
    small = ("--members", "2", "--epochs", "1", "--max-train", "32", "--max-eval", "40", "--batch-size", "16")
    result, printed = _run("--task", "cifar10", *small, "--device", "cpu")
    assert result["task"] == "cifar10" and result["width"] is None and result["max_eval"] == 40
    assert result["members"] == 2 and result["diverged_batched"] == 0 and result["diverged_one_by_one"] == 0
    assert "BiRealNet20" in printed and "40 val" in printed
    assert result["mean_val_accuracy_batched"] == pytest.approx(result["mean_val_accuracy_one_by_one"], abs=0.03)


def test_bench_batched_rejects_an_empty_batch() -> None:
    with pytest.raises(InvalidInputError, match="members"):
        _run("--members", "0", "--max-train", "64", "--device", "cpu")
    with pytest.raises(InvalidInputError, match="--max-eval"):
        _run("--members", "1", "--max-train", "64", "--max-eval", "0", "--device", "cpu")
