"""Grouped convolutions against one network at a time: the cost behind batched BiRealNet-20 trials.

For each stage of BiRealNet-20 (16 channels at 32x32, 32 at 16x16, 64 at 8x8) it times the forward and backward
pass of one 3x3 conv for K members, as the batched model runs it (one ``F.conv2d`` with ``groups=K`` on
``[batch, K * C, H, W]``) and one member at a time (K convs on ``[batch, C, H, W]``), and prints the medians and
their ratio. Run it on the device that would train the batch:

    python benchmarks/grouped_conv.py --members 8 --batch 64 --device cpu --threads 1
    python benchmarks/grouped_conv.py --members 40 --batch 128 --device cuda
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

STAGES = ((16, 32), (32, 16), (64, 8))
"""(channels, height = width) of BiRealNet-20's three stages on CIFAR-10."""


def _median_seconds(step: Callable[[], None], device: torch.device, repeats: int) -> float:
    step()  # warm-up: algorithm choice, allocations
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(members: int, batch: int, channels: int, size: int, device: torch.device, repeats: int) -> dict[str, float]:
    """Median seconds of one forward + backward pass, grouped and one member at a time, and their ratio."""
    x = torch.randn(batch, members * channels, size, size, device=device, requires_grad=True)
    w = torch.randn(members * channels, channels, 3, 3, device=device, requires_grad=True)
    xs = [torch.randn(batch, channels, size, size, device=device, requires_grad=True) for _ in range(members)]
    ws = [torch.randn(channels, channels, 3, 3, device=device, requires_grad=True) for _ in range(members)]

    def grouped() -> None:
        F.conv2d(x, w, padding=1, groups=members).sum().backward()  # type: ignore[no-untyped-call]

    def one_at_a_time() -> None:
        for xk, wk in zip(xs, ws, strict=True):
            F.conv2d(xk, wk, padding=1).sum().backward()  # type: ignore[no-untyped-call]

    grouped_s = _median_seconds(grouped, device, repeats)
    single_s = _median_seconds(one_at_a_time, device, repeats)
    return {"grouped_seconds": grouped_s, "one_at_a_time_seconds": single_s, "speedup": single_s / grouped_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of torch (default: torch's own)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"members {args.members}, batch {args.batch}, device {device}, {torch.get_num_threads()} CPU threads")
    rows = []
    for channels, size in STAGES:
        row = {
            "channels": channels,
            "size": size,
            **measure(args.members, args.batch, channels, size, device, args.repeats),
        }
        rows.append(row)
        print(
            f"{channels:3d} channels {size:2d}x{size:<2d}: grouped {row['grouped_seconds']:.4f} s, "
            f"one at a time {row['one_at_a_time_seconds']:.4f} s, grouped speedup {row['speedup']:.2f}x"
        )
    print(json.dumps({"members": args.members, "batch": args.batch, "device": str(device), "stages": rows}))


if __name__ == "__main__":
    main()
