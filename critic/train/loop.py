"""Train the critic: TD(lambda) targets at every agent-turn marker, MSE, AdamW.

First the trajectories are serialized into windows (critic.data.prepared: each rank a share, cached on
disk for later runs on the same data). Then, one epoch:
1. bootstrap: the current model computes V at every marker of every training trajectory (skipped
   when lam is 1: Monte Carlo targets read no values);
2. targets: `td_lambda_targets(values, resolved, gamma, lam)` per trajectory;
3. optimise MSE(value at marker, target) over the serialized windows (critic.serialize), with
   AdamW, linear warmup then cosine decay, gradient accumulation up to `batch_size` windows,
   clipping, bf16 mixed precision on GPU, optional gradient checkpointing;
4. evaluate on held-out trajectories (critic.train.metrics) and print;
5. every `save_state_every` epochs, write the training state (critic.train.resume): started again, the
   same command continues from there.

Runs in one process (CPU or one GPU), or under `torchrun` (WORLD_SIZE > 1). Distributed runs take
one path on GPUs (nccl) and CPUs (gloo), so CI exercises the code a 70B multi-node run uses:
- each rank takes a strided share of the windows (a fixed-seed permutation, the same on every rank,
  like DistributedSampler), padded so that every rank runs the same number of steps;
- the model is sharded with FSDP2 (`fully_shard` on every decoder layer, then on the whole);
- only rank 0 reads the weights: the others build on the meta device, allocate their shards, and
  receive rank 0's values (parameters through a broadcast state dict, buffers such as the rotary
  `inv_freq`, which no state dict holds, one by one);
- the full state dict is gathered to rank 0 (on CPU), which writes the checkpoint.

Precision: master weights, gradients and optimizer states are fp32. With bf16 (`precision`: auto
on GPU, or bf16 anywhere), a single process runs the forward under bf16 autocast; FSDP2 instead
all-gathers bf16 copies of the parameters and reduces gradients in fp32 (`MixedPrecisionPolicy`),
so it runs without autocast. The checkpoint is written in `save_dtype` (bf16 after bf16 training),
gathered one tensor at a time so that rank 0 holds no more than the saved size.
See critic/README.md for a multi-node 70B launch.

LoRA (`train.lora`, critic.train.lora): adapters on the backbone's linear layers and the value head
train, the rest is frozen (in bf16 when one process trains in bf16); AdamW holds only the trainable
parameters, and the checkpoint is written with the adapters merged. Before training, rank 0 prints
the trainable parameter count and a memory estimate per GPU (critic.train.memory).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from critic.backbones import BACKBONES, INIT, write_init
from critic.config import LoraSettings, TrainConfig
from critic.data.prepared import Prepared, Window, load_prepared
from critic.data.sources import source_formats
from critic.errors import CriticSetupError
from critic.model import (
    MarkerValues,
    add_value_token,
    backbone,
    build_critic,
    resolve_device,
    save_critic,
)
from critic.serialize import CONFIG_KEY, Compression, Serializer
from critic.train.lora import merge_lora_state, parameter_counts, prepare_model
from critic.train.memory import estimate_memory
from critic.train.metrics import print_metrics, value_metrics
from critic.train.resume import Progress, find_state, load_state, remove_state, save_state
from critic.train.targets import monte_carlo_returns, td_lambda_targets

log = logging.getLogger(__name__)


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # we joined the process group, so we leave it

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        return self.world > 1


def uses_bf16(cfg: TrainConfig, d: Dist) -> bool:
    """Whether this run trains in bf16 mixed precision (`precision` auto means: on GPU)."""
    return cfg.precision == "bf16" or (cfg.precision == "auto" and d.device.type == "cuda")


def save_dtype(cfg: TrainConfig, bf16: bool) -> torch.dtype:
    """The dtype the checkpoint is written in."""
    if cfg.save_dtype == "auto":
        return torch.bfloat16 if bf16 else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.save_dtype]


# -- setup ----------------------------------------------------------------------------------------


def setup_distributed(device: str) -> Dist:
    """Join the process group when launched by torchrun/accelerate (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(device=resolve_device(device))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if use_cuda:
        torch.cuda.set_device(local)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Dist(rank, world, torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu"), owns)


def load_model(cfg: TrainConfig, d: Dist) -> tuple[nn.Module, Any]:
    """The critic to train, in fp32: continue a checkpoint, or a backbone with a fresh head.

    When sharded, only rank 0 reads the weights; the other ranks build on the meta device (no
    memory) and `wrap` gives them rank 0's values, so one process holds a full copy, not one per GPU.
    """
    from transformers import AutoConfig, AutoTokenizer

    if not cfg.model:
        raise CriticSetupError(
            "train.model is empty: give a backbone (HF folder or name), a critic checkpoint, or tiny|smollm2"
        )
    source = cfg.model
    if cfg.model in BACKBONES:  # a named backbone: its init folder, written once (by rank 0)
        source = str(Path(cfg.out_dir) / INIT)
        if d.main:
            write_init(cfg.model, Path(source), seed=cfg.seed)
        if d.sharded:
            dist.barrier()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as e:  # no such folder, a malformed or unreachable hub id
        raise CriticSetupError(
            f"cannot load train.model {cfg.model!r}: {' '.join(str(e).split())[:300]}; give a local "
            f"backbone folder, a critic checkpoint, a Hugging Face model id or one of {', '.join(BACKBONES)}"
        ) from None
    add_value_token(tokenizer)
    # fp32 master weights: HF would load a bf16 checkpoint as bf16, and ranks must agree on dtypes
    if d.sharded and not d.main:
        config = AutoConfig.from_pretrained(source, num_labels=1)
        # Rank 0 grows a backbone's embeddings for the marker (new rows start at the old rows' mean,
        # which meta tensors cannot compute); here the same shape is built directly.
        config.vocab_size = max(config.vocab_size, len(tokenizer))
        with torch.device("meta"):
            model = build_critic(config, tokenizer, max_context=cfg.max_context, dtype=torch.float32)
    else:
        model = build_critic(
            source,
            tokenizer,
            max_context=cfg.max_context,
            dtype=torch.float32,
            from_pretrained=not cfg.random_init,
        )
    # frozen weights need no fp32 master copy: bf16 in one bf16 process (FSDP2 keeps one dtype per unit)
    frozen = torch.bfloat16 if cfg.lora is not None and uses_bf16(cfg, d) and not d.sharded else None
    prepare_model(model, cfg.lora, frozen, cfg.gradient_checkpointing)
    return model, tokenizer


def wrap(model: nn.Module, d: Dist, bf16: bool) -> nn.Module:
    """MarkerValues around the model: FSDP2 when distributed (CPU or GPU), plain otherwise."""
    net: nn.Module = MarkerValues(model)
    if not d.sharded:
        return net.to(d.device)
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    # Rank 0's full weights (keys `model.*`, on CPU); these tensors outlive the sharding, which
    # replaces the parameters with shards.
    full = net.state_dict() if d.main else {}
    mesh = init_device_mesh(d.device.type, (d.world,))
    mp = MixedPrecisionPolicy(
        param_dtype=torch.bfloat16 if bf16 else None, reduce_dtype=torch.float32 if bf16 else None
    )
    # One unit per decoder layer: a layer's parameters are gathered only while it runs.
    for layer in backbone(model).layers:
        fully_shard(layer, mesh=mesh, mp_policy=mp)
    fully_shard(net, mesh=mesh, mp_policy=mp)  # the rest: embeddings, final norm, value head
    if not d.main:
        net.to_empty(device=d.device)  # allocates this rank's shards only
    set_model_state_dict(net, full, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
    # Non-persistent buffers (rotary inv_freq) are in no state dict: after to_empty they are garbage.
    for buf in net.buffers():
        dist.broadcast(buf, src=0)
    return net


def split(items: list[Prepared], fraction: float, seed: int) -> tuple[list[Prepared], list[Prepared]]:
    """Hold out `fraction` of the instance ids (never the same task on both sides)."""
    ids = sorted({e.instance_id for e in items})
    random.Random(seed).shuffle(ids)
    held = set(ids[: math.ceil(fraction * len(ids))]) if fraction > 0 else set()
    return [e for e in items if e.instance_id not in held], [e for e in items if e.instance_id in held]


# -- batched forward ------------------------------------------------------------------------------


def _batch(windows: list[Window], pad_id: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    width = max(len(w.ids) for w in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    rows, cols = [], []
    for b, w in enumerate(windows):
        ids[b, : len(w.ids)] = w.ids
        mask[b, : len(w.ids)] = 1
        rows += [b] * len(w.markers)
        cols += w.markers
    return (
        ids.to(device),
        mask.to(device),
        torch.tensor(rows, device=device),
        torch.tensor(cols, device=device),
    )


def shard(items: list, d: Dist) -> list:
    """This rank's strided share, padded by wrapping around so every rank gets the same count
    (as DistributedSampler does): FSDP collectives hang when ranks run different step counts."""
    if d.world == 1 or not items:
        return list(items)
    per_rank = math.ceil(len(items) / d.world)
    padded = [items[i % len(items)] for i in range(per_rank * d.world)]  # fewer items than ranks too
    return padded[d.rank :: d.world]


def _autocast(d: Dist, bf16: bool) -> torch.autocast:
    """bf16 autocast in one process; FSDP2's MixedPrecisionPolicy already runs the sharded forward in bf16."""
    return torch.autocast(d.device.type, dtype=torch.bfloat16, enabled=bf16 and not d.sharded)


@torch.no_grad()
def turn_values(
    net: nn.Module, data: list[Prepared], pad_id: int, d: Dist, micro: int, bf16: bool
) -> list[list[float]]:
    """V at every turn of every episode; each rank computes a share, then all ranks exchange."""
    net.eval()
    flat = [(i, w) for i, p in enumerate(data) for w in p.windows]
    mine = shard(flat, d)
    mine.sort(key=lambda x: len(x[1].ids))
    found: dict[tuple[int, int], float] = {}
    for s in range(0, len(mine), micro):
        chunk = mine[s : s + micro]
        with _autocast(d, bf16):
            vals = net(*_batch([w for _, w in chunk], pad_id, d.device)).float().tolist()
        k = 0
        for i, w in chunk:
            for t in w.turns:
                found[(i, t)] = vals[k]
                k += 1
    if d.world > 1:
        parts: list[Any] = [None] * d.world
        dist.all_gather_object(parts, found)
        found = {k: v for part in parts for k, v in part.items()}
    return [[found[(i, t)] for t in range(p.turns)] for i, p in enumerate(data)]


def evaluate(
    net: nn.Module, data: list[Prepared], pad_id: int, d: Dist, cfg: TrainConfig, bf16: bool
) -> dict[str, Any]:
    """critic.train.metrics on held-out episodes."""
    values = turn_values(net, data, pad_id, d, cfg.micro_batch_size, bf16)
    outcomes = [p.resolved for p in data]
    steps = [v for vs in values for v in vs]
    returns = [
        r
        for p, vs in zip(data, values, strict=True)
        for r in monte_carlo_returns(len(vs), float(p.resolved), cfg.gamma)
    ]
    return value_metrics([vs[-1] for vs in values], outcomes, steps, returns, cfg.calibration_bins)


# -- the loop -------------------------------------------------------------------------------------


def train(cfg: TrainConfig, console: Any = None) -> dict[str, Any]:
    """Train, evaluate each epoch, save the checkpoint and metrics.json to `cfg.out_dir`."""
    d = setup_distributed(cfg.device)
    try:
        result = _train(cfg, d, console)
        if d.sharded:
            dist.barrier()  # every rank is done with collectives before any leaves
    finally:
        # Leave the group before the interpreter exits: a gloo worker thread that drops its last
        # finished work after finalization has begun cannot take the GIL to free the tensors, and
        # the process aborts ("terminate called without an active exception").
        if d.owns_group:
            dist.destroy_process_group()
    return result


def _train(cfg: TrainConfig, d: Dist, console: Any) -> dict[str, Any]:
    from rich.console import Console
    from transformers import get_cosine_schedule_with_warmup

    console = console or Console()
    torch.manual_seed(cfg.seed)
    say = console.print if d.main else (lambda *a, **k: None)

    if not cfg.data:
        raise CriticSetupError(
            "train.data is empty: pass --data RUN_DIR or a .parquet/.jsonl of trajectories (repeatable)"
        )
    model, tokenizer = load_model(cfg, d)
    compression = Compression(**cfg.compression.model_dump()) if cfg.compression else None
    # the checkpoint records the rule it was trained with; every scorer reads it from config.json
    setattr(model.config, CONFIG_KEY, compression.to_config() if compression else None)
    serializer = Serializer(tokenizer, max_tokens=cfg.max_context, compression=compression)
    cache = Path(cfg.prepared_dir or Path(cfg.out_dir) / "prepared")

    def prepared(sources: list[str]) -> list[Prepared]:
        items, hit = load_prepared(sources, cfg.limit, serializer, cache, d.rank, d.world)
        say(f"{'read' if hit else 'serialized'} {len(items)} trajectories of {', '.join(sources)} ({cache})")
        return items

    train_all = prepared(cfg.data)
    if cfg.eval_data:
        eval_all = prepared(cfg.eval_data)
    else:
        train_all, eval_all = split(train_all, cfg.eval_fraction, cfg.seed)
    train_data = [p for p in train_all if p.windows]
    eval_data = [p for p in eval_all if p.windows]
    if not train_data:
        raise CriticSetupError(f"no training trajectories in {cfg.data}")
    classes = {p.resolved for p in train_data}
    if len(classes) == 1:
        which = "resolved" if classes.pop() else "unresolved"
        say(
            f"[yellow]warning: all {len(train_data)} training trajectories are {which}: the critic cannot "
            "learn to rank runs from one class (its held-out AUC is undefined); add runs of the other outcome[/]"
        )
    pad_id = tokenizer.pad_token_id
    bf16 = uses_bf16(cfg, d)
    trainable, total = parameter_counts(model)  # before wrap: FSDP2 replaces the parameters with shards
    memory = estimate_memory(
        model,
        tokens=cfg.micro_batch_size * cfg.max_context,
        bf16=bf16,
        gradient_checkpointing=cfg.gradient_checkpointing,
        world=d.world,
    )
    net = wrap(model, d, bf16)
    lora = (
        f"LoRA r={cfg.lora.r} on {', '.join(cfg.lora.target_modules)} + value head"
        if cfg.lora
        else "all weights"
    )
    say(f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / total:.2f}%; {lora})")
    say(f"{memory.line()} (micro batch {cfg.micro_batch_size} x {cfg.max_context} tokens)")
    sharding = "fsdp" if d.sharded else "none"
    say(
        f"critic train: {len(train_data)} train / {len(eval_data)} held-out trajectories, "
        f"world size {d.world}, device {d.device}, sharding {sharding}, {'bf16' if bf16 else 'fp32'}"
    )

    n_windows = sum(len(p.windows) for p in train_data)
    micro_per_rank = math.ceil(n_windows / d.world / cfg.micro_batch_size)
    accum = max(1, cfg.batch_size // (cfg.micro_batch_size * d.world))
    total_steps = max(1, cfg.epochs * math.ceil(micro_per_rank / accum))
    params = [p for p in net.parameters() if p.requires_grad]  # LoRA: adapters and the value head
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = get_cosine_schedule_with_warmup(opt, int(cfg.warmup_ratio * total_steps), total_steps)

    out = Path(cfg.out_dir)
    progress, found = Progress(), find_state(out)
    if found:
        progress = load_state(found, net, opt, sched, cfg)
        say(f"resuming from {found}: {progress.epochs_done}/{cfg.epochs} epochs done, step {progress.step}")
    history, step, started = progress.history, progress.step, time.time()
    for epoch in range(progress.epochs_done, cfg.epochs):
        # lam 1 (Monte Carlo) targets read no values: the bootstrap pass would be a forward for nothing
        values = (
            [[0.0] * p.turns for p in train_data]
            if cfg.lam == 1.0
            else turn_values(net, train_data, pad_id, d, cfg.micro_batch_size, bf16)
        )
        examples = []
        for p, vs in zip(train_data, values, strict=True):
            targets = td_lambda_targets(vs, float(p.resolved), cfg.gamma, cfg.lam)
            examples += [(w, [targets[t] for t in w.turns]) for w in p.windows]
        order = torch.randperm(
            len(examples), generator=torch.Generator().manual_seed(cfg.seed + epoch)
        ).tolist()
        mine = shard([examples[i] for i in order], d)
        net.train()
        losses: list[float] = []
        micro_batches = [
            mine[s : s + cfg.micro_batch_size] for s in range(0, len(mine), cfg.micro_batch_size)
        ]
        for m, chunk in enumerate(micro_batches):
            batch = _batch([w for w, _ in chunk], pad_id, d.device)
            target = torch.tensor([t for _, ts in chunk for t in ts], device=d.device)
            with _autocast(d, bf16):
                pred = net(*batch)
            loss = torch.nn.functional.mse_loss(pred.float(), target)
            # FSDP2 reduce-scatters (averages) the gradients after every backward; skipping that
            # between accumulation steps would keep full unsharded gradients on every rank.
            (loss / accum).backward()
            losses.append(float(loss.detach()))
            if (m + 1) % accum == 0 or m + 1 == len(micro_batches):
                # sharded gradients are DTensors: the norm is the global one
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                if step % cfg.log_every == 0:
                    say(
                        f"epoch {epoch + 1} step {step}/{total_steps} loss {sum(losses[-accum:]) / len(losses[-accum:]):.4f} lr {sched.get_last_lr()[0]:.2e}"
                    )
        train_loss = _mean_across(sum(losses) / max(1, len(losses)), d)
        metrics = evaluate(net, eval_data, pad_id, d, cfg, bf16) if eval_data else {}
        metrics.update(epoch=epoch + 1, train_loss=train_loss, seconds=time.time() - started)
        history.append(metrics)
        if d.main:
            print_metrics(metrics, title=f"epoch {epoch + 1}/{cfg.epochs} (held-out)", console=console)
        if cfg.save_state_every and (epoch + 1) % cfg.save_state_every == 0 and epoch + 1 < cfg.epochs:
            save_state(out, net, opt, sched, Progress(epoch + 1, step, history), cfg)

    dtype = save_dtype(cfg, bf16)
    _save(net, model, tokenizer, out, d, dtype, cfg.lora)
    result = {
        "config": cfg.model_dump(),
        "world_size": d.world,
        "sharding": sharding,
        "precision": "bf16" if bf16 else "fp32",
        "saved_dtype": str(dtype).removeprefix("torch."),
        "data_formats": source_formats([*cfg.data, *cfg.eval_data]),
        "trainable_parameters": trainable,
        "total_parameters": total,
        "memory_estimate_gb": round(memory.total / 1e9, 2),
        "epochs": history,
        "final": history[-1] if history else {},
    }
    if d.main:
        (out / "metrics.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        remove_state(out)  # only now: a kill before this line resumes from the last state
        say(f"saved the critic to {out} (metrics in {out / 'metrics.json'})")
    return result


def _mean_across(x: float, d: Dist) -> float:
    if d.world == 1:
        return x
    t = torch.tensor([x], device=d.device)
    dist.all_reduce(t)
    return float(t) / d.world


def _save(
    net: nn.Module,
    model: nn.Module,
    tokenizer: Any,
    out: Path,
    d: Dist,
    dtype: torch.dtype,
    lora: LoraSettings | None = None,
) -> None:
    """Rank 0 writes the full (unsharded) checkpoint in `dtype`; when sharded, every rank joins the gather."""
    if not d.sharded:
        state = merge_lora_state(model.state_dict(), lora) if lora else None  # a plain checkpoint
        save_critic(model, tokenizer, out, dtype, state_dict=state)
        return
    from torch.distributed.tensor import DTensor

    # One tensor at a time: every rank joins each all-gather, rank 0 keeps a CPU copy already in
    # `dtype`, so its memory peaks at the saved size (140 GB for 70B in bf16), not the fp32 size.
    state: dict[str, torch.Tensor] = {}
    for name, t in net.state_dict().items():
        full = t.full_tensor() if isinstance(t, DTensor) else t
        if d.main:
            state[name.removeprefix("model.")] = full.to(
                "cpu", dtype if full.is_floating_point() else full.dtype
            )
        del full
    if d.main:
        save_critic(model, tokenizer, out, dtype, state_dict=merge_lora_state(state, lora) if lora else state)
    dist.barrier()
