"""LoRA training (`train.lora`): it learns, the saved checkpoint is the plain merged model, and the
memory it needs fits a 7B critic on one 80 GB GPU. (Resuming a LoRA run on two FSDP2 ranks:
tests/critic/test_train.py::test_killed_training_resumes_from_its_last_state_even_on_two_ranks.)"""

from __future__ import annotations

import io
import json

import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from critic.clients.http import LocalCritic
from critic.config import LoraSettings, TrainConfig
from critic.data.prepared import Window
from critic.data.synthetic import toy_conversation, write_synthetic_jsonl
from critic.model import (
    MarkerValues,
    build_critic,
    load_critic,
    make_tiny_critic,
    make_tiny_tokenizer,
    qwen2_7b_config,
    save_critic,
)
from critic.serialize import Serializer
from critic.train.loop import _batch, train
from critic.train.lora import apply_lora, merge_lora_state, parameter_counts
from critic.train.memory import estimate_memory

SETTINGS = LoraSettings(r=4, alpha=8)


def window(encoded) -> Window:
    return Window(torch.tensor(encoded.ids), encoded.markers, encoded.turns)


@pytest.mark.slow
def test_lora_run_lowers_the_loss_and_saves_a_plain_checkpoint(tmp_path):
    train_file = write_synthetic_jsonl(tmp_path / "train.jsonl", 40, seed=1)
    eval_file = write_synthetic_jsonl(tmp_path / "eval.jsonl", 8, seed=100)
    init = make_tiny_critic(tmp_path / "init")
    out = io.StringIO()
    cfg = TrainConfig(
        model=str(init), data=[str(train_file)], eval_data=[str(eval_file)], out_dir=str(tmp_path / "out"),
        epochs=2, lr=5e-3, batch_size=8, micro_batch_size=8, device="cpu", log_every=1000, lora=SETTINGS,
    )  # fmt: skip
    result = train(cfg, console=Console(file=out, width=200))
    losses = [e["train_loss"] for e in result["epochs"]]
    assert losses[-1] < losses[0], losses

    model, _ = load_critic(init)
    full = sum(p.numel() for p in model.parameters())
    apply_lora(model, SETTINGS)
    trainable = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n or n.startswith("score."))
    assert parameter_counts(model) == (trainable, sum(p.numel() for p in model.parameters()))
    assert (result["trainable_parameters"], result["total_parameters"]) == parameter_counts(model)
    printed = " ".join(out.getvalue().split())
    assert f"trainable parameters: {trainable:,} of {parameter_counts(model)[1]:,}" in printed
    assert "memory estimate per GPU: weights" in printed

    # the checkpoint is the plain model: the base's keys and shapes, the head and adapted weights moved
    saved, start = load_file(tmp_path / "out" / "model.safetensors"), load_file(init / "model.safetensors")
    assert {k: v.shape for k, v in saved.items()} == {k: v.shape for k, v in start.items()}
    assert (
        sum(
            p.numel()
            for p in AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").parameters()
        )
        == full
    )
    moved = {k for k in saved if not torch.equal(saved[k], start[k])}
    assert "score.weight" in moved and "model.layers.0.self_attn.q_proj.weight" in moved
    assert "model.embed_tokens.weight" not in moved and "model.layers.0.input_layernorm.weight" not in moved
    assert json.loads((tmp_path / "out" / "config.json").read_text())["architectures"] == [
        "Qwen2ForSequenceClassification"
    ]


def test_merged_checkpoint_values_equal_the_unmerged_model(tmp_path):
    init = make_tiny_critic(tmp_path / "init")
    model, tokenizer = load_critic(init)
    apply_lora(model, SETTINGS)
    torch.manual_seed(0)
    with torch.no_grad():  # adapters as training leaves them: B no longer zero
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.normal_(0.0, 0.3)
    windows = [window(w) for n in (1, 3, 5) for w in Serializer(tokenizer).windows(toy_conversation(n))]
    batch = _batch(windows, tokenizer.pad_token_id, torch.device("cpu"))
    with torch.no_grad():
        unmerged = MarkerValues(model.eval())(*batch)
        save_critic(
            model, tokenizer, tmp_path / "merged", state_dict=merge_lora_state(model.state_dict(), SETTINGS)
        )
        plain, _ = load_critic(tmp_path / "merged")
        merged = MarkerValues(plain)(*batch)
        base = MarkerValues(load_critic(init)[0])(*batch)
    assert float((merged - unmerged).abs().max()) < 1e-5
    assert float((base - unmerged).abs().max()) > 1e-3  # the adapters change the values
    # our scorer reads the merged folder as any checkpoint: Q of turn 2 is the plain model's value there
    turns = toy_conversation(2)
    last = window(Serializer(tokenizer).windows(turns[:5])[-1])
    with torch.no_grad():
        expected = float(
            MarkerValues(plain)(*_batch([last], tokenizer.pad_token_id, torch.device("cpu")))[-1]
        )
    [value] = LocalCritic(tmp_path / "merged", device="cpu").score(turns[:4], [turns[4]["content"]])
    assert abs(value - expected) < 1e-4


def test_memory_estimate_puts_a_7b_lora_critic_on_one_80gb_gpu():
    with torch.device("meta"):
        model = build_critic(qwen2_7b_config(), make_tiny_tokenizer(), dtype=torch.float32)
    full = estimate_memory(model, tokens=32768, bf16=True, gradient_checkpointing=True)
    assert full.weights + full.training_state > 112e9  # 16 bytes a parameter: no single GPU
    apply_lora(model, LoraSettings(r=16))
    for p in model.parameters():
        if not p.requires_grad:
            p.data = p.data.to(torch.bfloat16)
    lora = estimate_memory(model, tokens=32768, bf16=True, gradient_checkpointing=True)
    trainable, total = parameter_counts(model)
    assert 7.0e9 < total < 8.0e9 and trainable < 0.01 * total
    assert lora.total < 40e9, lora.line()
