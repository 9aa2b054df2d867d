"""Named backbones (critic.backbones): `train.model: smollm2` builds the bundled SmolLM2-135M as a
critic, trains it a few LoRA steps on CPU, and the merged checkpoint scores the same through
LocalCritic and through the real server over loopback HTTP."""

from __future__ import annotations

import io
import json

import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file

from critic.backbones import BACKBONES, write_init
from critic.clients.http import HTTPCritic, LocalCritic
from critic.config import CriticConfig, LoraSettings, ServeConfig, TrainConfig
from critic.data.synthetic import TOY_CANDIDATES, toy_conversation, write_synthetic_jsonl
from critic.serve.server import ServerThread, build_scorer, create_app
from critic.train.loop import train


def test_lora_auto_follows_the_named_backbone():
    assert TrainConfig(model="smollm2").lora == LoraSettings()
    assert TrainConfig(model="tiny").lora is None
    assert TrainConfig(model="some/folder").lora is None
    assert TrainConfig(model="smollm2", lora=None).lora is None  # null: full fine-tuning, as asked
    assert (
        CriticConfig.load(None, {"train.model": "smollm2"}).train.lora == LoraSettings()
    )  # configs/critic.yaml
    assert set(BACKBONES) >= {"tiny", "smollm2"}


def test_write_init_writes_once_and_passes_only_the_makers_options(tmp_path):
    out = write_init("tiny", tmp_path / "init", seed=1, hidden=32, layers=1, unrelated=True)
    assert json.loads((out / "config.json").read_text())["hidden_size"] == 32
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    write_init("tiny", out, seed=2, hidden=64)  # already there: left as it is
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    assert not (tmp_path / "init.tmp").exists()


@pytest.fixture
def one_thread():
    """One torch thread for a 135M model: on a busy 2-core machine two threads ran its forward 7x
    slower than one (each waits for the other's core)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_smollm2_trains_with_lora_on_cpu_and_scores_through_local_critic_and_the_server(tmp_path, one_thread):
    data = write_synthetic_jsonl(tmp_path / "train.jsonl", 4, seed=3)
    out = tmp_path / "critic"
    flags = {"train.model": "smollm2", "train.data": [str(data)], "train.out_dir": str(out)}
    # a few short windows (135M parameters on 2 cores: ~100 tokens/s forward), one optimizer step
    overrides = ["train.device=cpu", "train.max_context=128", "train.epochs=1", "train.lr=1e-3"]
    overrides += ["train.batch_size=4", "train.micro_batch_size=4", "train.eval_fraction=0.0"]
    overrides += ["train.lora.r=4", "train.save_state_every=0", "train.compression={head: 24, tail: 24}"]
    cfg = CriticConfig.load(None, flags, overrides).train
    log = io.StringIO()
    result = train(cfg, console=Console(file=log, width=200))
    assert result["config"]["lora"]["r"] == 4 and result["config"]["model"] == "smollm2"
    assert result["trainable_parameters"] < result["total_parameters"] / 50  # adapters + head only

    # the init is SmolLM2 with a value head; only the LoRA-adapted weights and the head moved
    init = out / "init"
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForSequenceClassification"] and config["num_hidden_layers"] == 30
    start, saved = load_file(init / "model.safetensors"), load_file(out / "model.safetensors")
    assert {k: v.shape for k, v in saved.items()} == {k: v.shape for k, v in start.items()}
    moved = {k for k in saved if not torch.equal(saved[k], start[k])}
    adapted = tuple(f"{m}.weight" for m in cfg.lora.target_modules)
    assert "score.weight" in moved and "model.layers.0.self_attn.q_proj.weight" in moved
    assert all(k == "score.weight" or k.endswith(adapted) for k in moved), sorted(moved)[:5]

    # the merged checkpoint scores in-process and over HTTP (what `critic serve` runs), the same values
    history, candidates = toy_conversation(2), TOY_CANDIDATES[:3]
    local = LocalCritic(out, device="cpu", max_context=128).score(history, candidates)
    assert all(0.0 <= q <= 1.0 for q in local) and len(local) == 3
    serve = ServeConfig(checkpoint=str(out), device="cpu", max_context=128, batch_wait_ms=0)
    with ServerThread(create_app(build_scorer(serve), serve)) as url:
        remote = HTTPCritic(url).score(history, candidates)
    assert max(abs(a - b) for a, b in zip(local, remote, strict=True)) < 1e-4, (local, remote)
