#!/usr/bin/env bash
# One device check on a CUDA machine: audio-trial training speed (GPU against the same machine's CPU) and a
# time-budgeted CIFAR-10 BiRealNet-20 run with the filter optimizer at two alphas side by side on the one GPU.
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

python3 benchmarks/train_throughput.py --device cuda --width 256 --epochs 20 --repeats 3 | tee "$out/audio_cuda.txt"
python3 benchmarks/train_throughput.py --device cpu --width 256 --epochs 20 --repeats 1 | tee "$out/audio_cpu.txt"

for alpha in 1e-3 1e-4; do
  python3 benchmarks/cifar_budget_run.py --minutes "$minutes" --alpha "$alpha" --gamma 1e-3 --device cuda \
    > "$out/cifar_alpha_$alpha.txt" 2>&1 &
done
wait
tail -n 3 "$out"/cifar_alpha_*.txt
