#!/usr/bin/env bash
# The critic's GPU benchmark as one prepared command for a lent GPU (the `device` tool):
#     run(command="bash bench/device_critic.sh", timeout_s=540)
# A random-init Qwen2-7B-shaped critic in bf16 (random weights cost the same FLOPs), K=8 candidates,
# histories of 1k/4k/16k tokens. It needs only torch, transformers, tokenizers and pyyaml, which the
# device image has (tests/critic/test_bench.py keeps it that way). Reports land in $OUT (or
# bench/results/ when run by hand); copy the table into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' \
  | tee -a "$out/gpu.txt"
# The budget is 15 device minutes for a whole task: the bench takes a few; timeout leaves room to rerun.
PYTHONUNBUFFERED=1 timeout "${BENCH_TIMEOUT:-480}" python3 bench/critic_scoring.py \
  --size 7b --device cuda --dtype bfloat16 \
  --out "$out/critic_scoring_7b.md" "$@" 2>&1 | tee "$out/critic_scoring_7b.log"
