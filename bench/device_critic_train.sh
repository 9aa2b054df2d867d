#!/usr/bin/env bash
# Critic training on one lent GPU, as one prepared command for the `device` tool:
#     run(command="bash bench/device_critic_train.sh", timeout_s=420)
# A random-init Qwen2-7B-shaped critic (random weights cost the same FLOPs), LoRA r=16 on every
# linear layer, bf16, gradient checkpointing, 32k-token windows: 1 warmup + 5 timed optimizer steps
# (bench/critic_train.py). Prints tokens/s, peak GPU memory beside the estimate `critic train`
# prints, and MFU. Sized for about 5 minutes: building and initialising the 7B model on the GPU
# takes about a minute, a 32k step a few seconds (~36 GFLOP a token). It needs torch, transformers,
# tokenizers and peft, which the device image has (tests/critic/test_bench.py runs the Python
# without our service dependencies, on a tiny shape). Reports land in $OUT (or bench/results/ by
# hand); copy the line into BENCHMARKS.md.
#     bash bench/device_critic_train.sh --size tiny --context 512 --steps 2 --device cpu   # a dry run
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/results}
mkdir -p "$out"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu_train.txt"
fi
python3 -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)' \
  | tee -a "$out/gpu_train.txt"
# The budget is 15 device minutes for a whole task: timeout leaves room to rerun.
PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True PYTHONUNBUFFERED=1 timeout "${BENCH_TIMEOUT:-360}" \
  python3 bench/critic_train.py --size 7b --context 32768 --steps 5 --warmup 1 --lora-r 16 \
  --out "$out/critic_train_7b.md" "$@" 2>&1 | tee "$out/critic_train_7b.log"
