"""LoRA for the critic (`train.lora`): adapters while training, one plain checkpoint after.

- `apply_lora` puts peft's LoRA layers into the model in place (`inject_adapter_in_model`: module
  paths and the model class stay; `q_proj` becomes a LoRA layer around its `base_layer`), then
  freezes every weight but the adapters and the value head (`score`), which trains in full. The
  marker token's embedding row stays frozen (the mean of the others, as `build_critic` made it);
  the adapters learn to read it.
- `merge_lora_state` turns a state dict of that model (its own, or FSDP2's gathered full one) into
  the plain model's: `W + (alpha / r) * B @ A` for every adapted weight, computed in fp32, adapter
  tensors dropped, `base_layer.` names restored. `critic train` saves that, so the checkpoint is the
  same `*ForSequenceClassification` folder a full fine-tune writes, read unchanged by our server,
  LocalCritic and vLLM.

With bf16 in one process, the frozen weights are stored in bf16 (they get no gradient, so they need
no fp32 master copy): a 7B backbone then takes 2 bytes a parameter, not 4. Under FSDP2 they stay
fp32 (sharded across the ranks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # torch is imported where it is used: critic.config reads LORA_TARGETS from here
    import torch
    from torch import nn

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Every linear layer of a Qwen2/Llama decoder layer: train.lora's default target_modules."""
ADAPTER = "default"
"""peft's adapter name: keys read `...q_proj.lora_A.default.weight`."""
HEAD_NAMES = ("score", "classifier")


class LoraSettings(Protocol):
    """What the functions here read of critic.config.LoraSettings (bench/critic_train.py passes its own)."""

    r: int
    alpha: float
    dropout: float
    target_modules: list[str]


def prepare_model(
    model: nn.Module,
    lora: LoraSettings | None,
    frozen_dtype: torch.dtype | None = None,
    gradient_checkpointing: bool = False,
) -> None:
    """Ready a critic for training: no KV cache; LoRA adapters with the rest frozen (in `frozen_dtype`
    when given); gradient checkpointing. `critic train` and bench/critic_train.py both go through here."""
    model.config.use_cache = False
    if lora is not None:
        apply_lora(model, lora)
        if frozen_dtype is not None:
            freeze_in(model, frozen_dtype)
    if gradient_checkpointing:
        # transformers 5 renamed the method (same first argument); reentrant recompute breaks under FSDP2
        enable = getattr(model, "activation_checkpointing_enable", model.gradient_checkpointing_enable)
        enable({"use_reentrant": False})


def apply_lora(model: nn.Module, settings: LoraSettings) -> None:
    """Inject LoRA adapters into `model` in place; only they and the value head stay trainable."""
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
    )
    inject_adapter_in_model(config, model, adapter_name=ADAPTER)
    for name, param in model.named_parameters():
        param.requires_grad = ".lora_" in name or name.split(".", 1)[0] in HEAD_NAMES


def freeze_in(model: nn.Module, dtype: torch.dtype) -> None:
    """Store the frozen floating-point weights in `dtype` (bf16: half the memory of fp32)."""
    for param in model.parameters():
        if not param.requires_grad and param.is_floating_point():
            param.data = param.data.to(dtype)


def merge_lora_state(state: dict[str, torch.Tensor], settings: LoraSettings) -> dict[str, torch.Tensor]:
    """The plain model's state dict from a LoRA model's (see the module docstring); dtypes are kept."""
    scale = settings.alpha / settings.r
    merged: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if f".lora_A.{ADAPTER}." in key or f".lora_B.{ADAPTER}." in key:
            continue
        if ".base_layer." not in key:
            merged[key] = tensor
            continue
        owner, leaf = key.split(".base_layer.", 1)
        plain = f"{owner}.{leaf}"
        a, b = state.get(f"{owner}.lora_A.{ADAPTER}.weight"), state.get(f"{owner}.lora_B.{ADAPTER}.weight")
        if leaf == "weight" and a is not None and b is not None:
            delta = b.float() @ a.float() * scale
            merged[plain] = (tensor.float() + delta.to(tensor.device)).to(tensor.dtype)
        else:
            merged[plain] = tensor
    return merged


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
