"""Critic training throughput on one GPU: a Qwen2-7B-shaped critic, LoRA, bf16, 32k context.

A random-init critic (random weights cost the same FLOPs) is readied for training the way
`critic train` readies one (critic.train.lora.prepare_model: LoRA on every linear layer, the rest
frozen in bf16, the value head in full, gradient checkpointing), then takes `--steps` optimizer steps
(after `--warmup`) of one window of `--context` random tokens with a value marker every
`--marker-every` tokens: bf16 autocast forward, MSE against random targets, backward, clipping,
AdamW over the trainable parameters. It prints, and writes to `--out`:
- tokens/s (window tokens per second of a timed step, mean over the steps);
- peak GPU memory (torch.cuda.max_memory_allocated) beside critic.train.memory's estimate;
- MFU: model FLOPs per second over the GPU's dense bf16 peak. Model FLOPs per token, LoRA-style:
  the decoder's linear layers 4 N (2 N forward, 2 N for the input gradients; frozen weights get no
  weight gradients), attention 6 L h c / 2 per token (QK^T and AV, forward and backward, causal
  so half the c x c square), the adapters' own FLOPs left out; the recompute of gradient
  checkpointing is not counted (it is hardware FLOPs, not model FLOPs).

    python bench/critic_train.py --size tiny --context 512 --steps 2 --device cpu   # dry run, seconds
    python bench/critic_train.py --size 7b --context 32768 --device cuda            # bench/device_critic_train.sh

It imports only torch, transformers, tokenizers and peft (no pydantic): the device image has those.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from critic.model import (  # noqa: E402
    MarkerValues,
    build_critic,
    make_tiny_tokenizer,
    qwen2_7b_config,
    tiny_config,
)
from critic.train.lora import LORA_TARGETS, parameter_counts, prepare_model  # noqa: E402
from critic.train.memory import estimate_memory  # noqa: E402

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
"""Dense bf16 tensor-core peak by GPU name (no sparsity); --peak-tflops overrides."""


def model_flops_per_token(config, context: int) -> float:
    """LoRA training FLOPs per token (see the module docstring)."""
    h, layers = config.hidden_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (h // config.num_attention_heads)
    linear = layers * (h * h * 2 + h * kv * 2 + 3 * h * config.intermediate_size)  # q, o; k, v; MLP
    attention = 6 * layers * h * context / 2
    return 4 * linear + attention


def peak_flops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def build(size: str, device: torch.device) -> torch.nn.Module:
    tokenizer = make_tiny_tokenizer()
    config = qwen2_7b_config() if size == "7b" else tiny_config(len(tokenizer))
    torch.manual_seed(0)
    with torch.device(device):  # initialised where it trains: no 30 GB host-to-GPU copy
        return build_critic(config, tokenizer, max_context=65536, dtype=torch.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=["tiny", "7b"], default="tiny")
    ap.add_argument("--context", type=int, default=32768, help="tokens per window (one window a step)")
    ap.add_argument("--steps", type=int, default=5, help="timed optimizer steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first (allocator, kernels)")
    ap.add_argument("--marker-every", type=int, default=1024, help="a value marker every this many tokens")
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-alpha", type=float, default=32.0)
    ap.add_argument("--no-gradient-checkpointing", dest="gc", action="store_false")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak (default: by name)")
    ap.add_argument("--out", type=Path, help="write the results here (.md, and .json beside it)")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    started = time.perf_counter()
    model = build(args.size, device)
    lora = SimpleNamespace(
        r=args.lora_r, alpha=args.lora_alpha, dropout=0.0, target_modules=list(LORA_TARGETS)
    )
    prepare_model(model, lora, torch.bfloat16, args.gc)
    trainable, total = parameter_counts(model)
    estimate = estimate_memory(model, tokens=args.context, bf16=True, gradient_checkpointing=args.gc)
    net = MarkerValues(model).train()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr)
    print(
        f"built and readied in {time.perf_counter() - started:.1f} s: {trainable:,} of {total:,} parameters trainable"
    )
    print(estimate.line())

    g = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (1, args.context), generator=g).to(device)
    every = min(args.marker_every, args.context)
    cols = torch.arange(every - 1, args.context, every, device=device)
    rows = torch.zeros_like(cols)
    mask = torch.ones_like(ids)
    targets = torch.rand(len(cols), generator=g).to(device)

    def step() -> float:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            values = net(ids, mask, rows, cols)
        loss = torch.nn.functional.mse_loss(values.float(), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(args.warmup):
        step()
    sync()
    times, losses = [], []
    for i in range(args.steps):
        t = time.perf_counter()
        losses.append(step())
        sync()
        times.append(time.perf_counter() - t)
        print(f"step {i + 1}/{args.steps}: {times[-1]:.2f} s, loss {losses[-1]:.4f}", flush=True)
    seconds = sum(times) / len(times)
    tokens_per_s = args.context / seconds
    flops = model_flops_per_token(model.config, args.context) * tokens_per_s
    peak = peak_flops(device, args.peak_tflops)
    memory = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    result = {
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "size": args.size,
        "context": args.context,
        "lora_r": args.lora_r,
        "gradient_checkpointing": args.gc,
        "trainable_parameters": trainable,
        "total_parameters": total,
        "seconds_per_step": round(seconds, 3),
        "tokens_per_s": round(tokens_per_s, 1),
        "model_tflops_per_s": round(flops / 1e12, 2),
        "mfu": round(flops / peak, 4) if peak else None,
        "peak_memory_gb": round(memory / 1e9, 2) if memory is not None else None,
        "estimated_memory_gb": round(estimate.total / 1e9, 2),
        "losses": [round(x, 5) for x in losses],
        "torch": torch.__version__,
    }
    assert all(math.isfinite(x) for x in losses), losses
    mfu = f"{100 * result['mfu']:.1f}%" if result["mfu"] is not None else "n/a (no known peak)"
    peak_text = f"{result['peak_memory_gb']} GB" if memory is not None else "n/a (CPU)"
    summary = (
        f"{args.size} critic, LoRA r={args.lora_r}, bf16, {'gradient checkpointing, ' if args.gc else ''}"
        f"{args.context} tokens/step on {result['device']}: {tokens_per_s:,.0f} tokens/s, "
        f"{seconds:.2f} s/step, MFU {mfu}, peak memory {peak_text} (estimate {result['estimated_memory_gb']} GB)"
    )
    print(summary)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table = "\n".join(f"| {k} | {v} |" for k, v in result.items())
        args.out.write_text(
            f"# critic training throughput\n\n{summary}\n\n| key | value |\n|---|---|\n{table}\n"
        )
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
