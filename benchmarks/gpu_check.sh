#!/usr/bin/env bash
# One device check on a CUDA machine: audio-trial training speed (GPU against the same machine's CPU), the
# batched trainer against one by one on the GPU (40 AudioFC-256 members; 8 BiRealNet-20 members), a comparison
# round's batch (20 filter + 20 latent members as one batch against one batch per optimizer, at width 256 and at
# Figure 8's width 64: 25 such rounds of 20 epochs are a full Figure 8's training), the CUDA device checks, and a time-budgeted CIFAR-10 BiRealNet-20 run with the filter optimizer at two alphas side by
# side on the one GPU (CIFAR_MINUTES 0 skips it).
#
#   BNN_TUNE_DATA=<root holding fsdd/recordings and cifar10-jpg.tar.gz> benchmarks/gpu_check.sh OUTDIR CIFAR_MINUTES
#
# Needs only PyTorch, numpy, Pillow and rich: the trainers run from the source tree (PYTHONPATH).
set -uo pipefail
out=${1:-/tmp/gpu-check}
minutes=${2:-5}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export BNN_TUNE_CACHE="${BNN_TUNE_CACHE:-/tmp/bnn-tune-cache}"

{ nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"; } \
  | tee "$out/device.txt"
# What a full Figure 8 on this machine (bnn-tune compare, Bayesian optimization included) would need beyond torch.
python3 - <<'PY' | tee -a "$out/device.txt"
import importlib.util
needed = ("ax", "botorch", "gpytorch", "sqlalchemy", "ray", "pandas", "scipy", "fastapi", "pytest")
print("python packages present:", {name: importlib.util.find_spec(name) is not None for name in needed})
PY

python3 benchmarks/train_throughput.py --device cuda --width 256 --epochs 20 --repeats 3 | tee "$out/audio_cuda.txt"
python3 benchmarks/train_throughput.py --device cpu --width 256 --epochs 20 --repeats 1 | tee "$out/audio_cpu.txt"

bench() { python3 -m bnn_tune.cli bench batched --device cuda --json "$@"; }
bench --members 40 --epochs 2 --width 256 | tee "$out/bench_batched_audio.txt"
for width in 256 64; do
  bench --optimizer mixed --members 40 --epochs 2 --width "$width" | tee "$out/bench_batched_mixed_$width.txt"
done
bench --task cifar10 --members 8 --epochs 1 --max-train 10000 --max-eval 2000 --batch-size 128 \
  | tee "$out/bench_batched_cifar10.txt"
python3 benchmarks/grouped_conv.py --members 40 --batch 128 --device cuda | tee "$out/grouped_conv_cuda.txt"
python3 -m pytest -q -p no:cacheprovider benchmarks/device_checks 2>&1 | tail -n 15 | tee "$out/device_checks.txt"

[ "$minutes" = 0 ] && exit 0
for alpha in 1e-3 1e-4; do
  python3 benchmarks/cifar_budget_run.py --minutes "$minutes" --alpha "$alpha" --gamma 1e-3 --device cuda \
    > "$out/cifar_alpha_$alpha.txt" 2>&1 &
done
wait
tail -n 3 "$out"/cifar_alpha_*.txt
