import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from critic.clients.http import LocalCritic
from critic.config import CriticConfig, TrainConfig
from critic.data.prepared import load_prepared, serialize
from critic.data.sources import load_sources
from critic.data.synthetic import toy_conversation, write_synthetic_jsonl
from critic.model import backbone, load_critic, make_tiny_critic, make_tiny_tokenizer, tiny_config
from critic.serialize import Serializer
from critic.train.loop import Dist, _autocast, load_model, train, wrap
from critic.train.resume import find_state

REPO = Path(__file__).resolve().parents[2]
HIST = [{"role": "system", "content": "s"}, {"role": "user", "content": "Fix the bug in src/file.py."}]


def max_diff(a: Path, b: Path) -> float:
    """Largest absolute difference between two checkpoints' weights (same keys and shapes)."""
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


def train_command(init: Path, data: Path, eval_data: Path, out: Path, settings: dict) -> list[str]:
    """`critic train` as a command line; `settings` become train.* overrides."""
    cmd = ["-m", "critic.cli", "critic", "train", "--model", str(init), "--data", str(data)]
    cmd += ["--eval-data", str(eval_data), "--out", str(out), "--device", "cpu"]
    return cmd + [f"train.{k}={str(v).lower()}" for k, v in settings.items()]


def quiet_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    return env


def torchrun_train(init: Path, data: Path, eval_data: Path, out: Path, settings: dict) -> str:
    """`swe-search critic train` on two gloo ranks under torchrun; returns its output."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += train_command(init, data, eval_data, out, settings)
    proc = subprocess.run(cmd, cwd=REPO, env=quiet_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr


def test_yaml_defaults_load_and_overrides_apply():
    cfg = CriticConfig.load(overrides=["train.lam=1.0", "serve.port=9000"])
    assert cfg.train.lam == 1.0 and cfg.train.gamma == 1.0 and cfg.serve.port == 9000
    assert TrainConfig().lam == 0.7
    assert all(f.description for f in TrainConfig.model_fields.values())


@pytest.mark.slow
def test_tiny_critic_learns_an_action_pattern(tmp_path):
    """Success iff `python fix.py` ran: held-out AUC >= 0.9 and the loss falls, on CPU."""
    train_file = write_synthetic_jsonl(tmp_path / "train.jsonl", 200, seed=1)
    eval_file = write_synthetic_jsonl(tmp_path / "eval.jsonl", 80, seed=100)
    init = make_tiny_critic(tmp_path / "init")
    cfg = TrainConfig(
        model=str(init),
        data=[str(train_file)],
        eval_data=[str(eval_file)],
        out_dir=str(tmp_path / "out"),
        epochs=6,
        lr=2e-3,
        batch_size=4,
        micro_batch_size=4,
        warmup_ratio=0.05,
        device="cpu",
        log_every=10_000,
    )
    result = train(cfg)
    epochs = result["epochs"]
    assert epochs[-1]["auc"] >= 0.9, [e["auc"] for e in epochs]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["final"]["auc"] == epochs[-1]["auc"] and saved["final"]["calibration"]
    critic = LocalCritic(tmp_path / "out", device="cpu")
    assert len(critic.score(HIST, ["```bash\nls\n```"])) == 1


@pytest.mark.slow
def test_torchrun_fsdp_on_cpu_trains_like_one_process(tmp_path):
    """Two gloo ranks under torchrun take the FSDP2 path a multi-node GPU run takes (meta init on
    rank 1, sharded steps, gathered save) and end with the weights of the same run in one process.

    With one window per micro batch, both runs average the same 8 per-window losses per step, so
    they agree up to float summation order; a rank that trained from wrong weights or buffers, or
    whose gradients were dropped, would be off by about the learning rate."""
    train_file = write_synthetic_jsonl(tmp_path / "train.jsonl", 40, seed=1)
    eval_file = write_synthetic_jsonl(tmp_path / "eval.jsonl", 16, seed=100)
    init = make_tiny_critic(tmp_path / "init")
    # gradient checkpointing on, as a 70B run uses it
    settings = dict(
        epochs=2, batch_size=8, micro_batch_size=1, lr=1e-3, log_every=1000, gradient_checkpointing=True
    )
    out = tmp_path / "fsdp"
    torchrun_train(init, train_file, eval_file, out, settings)

    saved = json.loads((out / "metrics.json").read_text())
    assert saved["world_size"] == 2 and saved["sharding"] == "fsdp"
    # each rank serialized its share of the trajectories; the weights below show the order held
    assert (
        sorted(q.name for q in (out / "prepared").glob("*/part-*"))
        == ["part-0-of-2.pt"] * 2 + ["part-1-of-2.pt"] * 2
    )
    assert [e["epoch"] for e in saved["epochs"]] == [1, 2]
    assert all(e["auc"] is not None for e in saved["epochs"])

    single = train(
        TrainConfig(
            model=str(init),
            data=[str(train_file)],
            eval_data=[str(eval_file)],
            out_dir=str(tmp_path / "single"),
            device="cpu",
            **settings,
        )
    )
    assert single["world_size"] == 1 and single["sharding"] == "none"
    assert max_diff(out, init) > 1e-3  # it trained, and the gathered weights were written
    assert max_diff(out, tmp_path / "single") < 1e-5
    for fsdp_epoch, one_epoch in zip(saved["epochs"], single["epochs"], strict=True):
        assert math.isclose(fsdp_epoch["train_loss"], one_epoch["train_loss"], rel_tol=1e-4)

    load_critic(out)  # a plain HF checkpoint with the marker
    values = LocalCritic(out, device="cpu").score(HIST, ["```bash\nls\n```", "```bash\nsubmit\n```"])
    assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)


@pytest.mark.slow
def test_bf16_mixed_precision_tracks_fp32_in_one_process_and_under_fsdp(tmp_path):
    """The GPU default (bf16 autocast in one process, bf16 MixedPrecisionPolicy under FSDP2), run on
    CPU: both compute in bf16 (losses differ from fp32 in the last digits), learn what the fp32 run
    learns, and write a bf16 checkpoint that says so in config.json."""
    train_file = write_synthetic_jsonl(tmp_path / "train.jsonl", 40, seed=1)
    eval_file = write_synthetic_jsonl(tmp_path / "eval.jsonl", 16, seed=100)
    init = make_tiny_critic(tmp_path / "init")
    settings = dict(epochs=2, batch_size=8, micro_batch_size=1, lr=1e-3, log_every=1000)
    torchrun_train(init, train_file, eval_file, tmp_path / "fsdp", {**settings, "precision": "bf16"})
    runs = {"fsdp": json.loads((tmp_path / "fsdp" / "metrics.json").read_text())}
    for precision in ("bf16", "fp32"):
        runs[precision] = train(
            TrainConfig(
                model=str(init),
                data=[str(train_file)],
                eval_data=[str(eval_file)],
                out_dir=str(tmp_path / precision),
                device="cpu",
                precision=precision,
                **settings,
            )
        )
    assert [(r["precision"], r["saved_dtype"], r["world_size"]) for r in runs.values()] == [
        ("bf16", "bfloat16", 2),
        ("bf16", "bfloat16", 1),
        ("fp32", "float32", 1),
    ]
    fp32_loss = runs["fp32"]["epochs"][-1]["train_loss"]
    for name in ("fsdp", "bf16"):
        assert 0 < abs(runs[name]["epochs"][-1]["train_loss"] / fp32_loss - 1) < 0.01, name
    for name, dtype in (("fsdp", torch.bfloat16), ("bf16", torch.bfloat16), ("fp32", torch.float32)):
        assert {t.dtype for t in load_file(tmp_path / name / "model.safetensors").values()} == {dtype}
        assert json.loads((tmp_path / name / "config.json").read_text())["dtype"] == str(dtype)[6:]

    histories = [toy_conversation(n) for n in (1, 2, 3)]

    def values(folder: Path) -> torch.Tensor:
        critic = LocalCritic(folder, device="cpu")
        return torch.tensor([v for h in histories for v in critic.score(h[:-2], [h[-2]["content"], "ls"])])

    fp32, start = values(tmp_path / "fp32"), values(init)
    assert float((fp32 - start).abs().max()) > 0.05  # training moved the values
    for name in ("fsdp", "bf16"):
        assert float((values(tmp_path / name) - fp32).abs().max()) < 0.005, name


def test_bf16_autocast_computes_in_bf16_on_fp32_master_weights(tmp_path):
    init = make_tiny_critic(tmp_path / "init")
    model, _ = load_model(TrainConfig(model=str(init), device="cpu", precision="bf16"), Dist())
    net = wrap(model, Dist(), bf16=True).train()
    seen: list[torch.dtype] = []
    backbone(model).layers[0].mlp.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    ids = torch.tensor([[5, 6, 7, 8]])
    with _autocast(Dist(), bf16=True):
        pred = net(ids, torch.ones_like(ids), torch.tensor([0]), torch.tensor([3]))
    pred.float().sum().backward()
    assert seen == [torch.bfloat16]
    assert {p.dtype for p in net.parameters()} == {p.grad.dtype for p in net.parameters()} == {torch.float32}


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_state_even_on_two_ranks(tmp_path):
    """kill -9 once epoch 1's state is written; the same command under torchrun (2 gloo ranks, so
    the one-process state is resharded on load) ends with the weights of an uninterrupted run.

    With LoRA (train.lora): the state holds the frozen base, the adapters and the value head (only
    the trainable ones in AdamW), FSDP2 shards a model of frozen and trainable parameters, and the
    two merged checkpoints agree. Full fine-tuning on two ranks is test_torchrun_fsdp_on_cpu_trains_like_one_process."""
    train_file = write_synthetic_jsonl(tmp_path / "train.jsonl", 60, seed=1)
    eval_file = write_synthetic_jsonl(tmp_path / "eval.jsonl", 16, seed=100)
    init = make_tiny_critic(tmp_path / "init")
    lora = {"r": 4, "alpha": 8.0}
    settings = dict(epochs=3, batch_size=8, micro_batch_size=1, lr=1e-3, log_every=1000, lora=lora)
    out = tmp_path / "run"
    cmd = [sys.executable, *train_command(init, train_file, eval_file, out, settings)]
    with (tmp_path / "first.log").open("w") as log:
        first = subprocess.Popen(cmd, cwd=REPO, env=quiet_env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not (out / "state" / "progress.json").is_file():
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no training state after 120 s"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
    progress = json.loads((out / "state" / "progress.json").read_text())
    assert progress["epochs_done"] == 1 and not (out / "model.safetensors").exists()

    changed = subprocess.run(
        [*cmd, "train.lr=0.002"], cwd=REPO, env=quiet_env(), capture_output=True, text=True, timeout=120
    )
    assert changed.returncode == 2 and "another config (differs in: lr)" in changed.stderr

    output = " ".join(torchrun_train(init, train_file, eval_file, out, settings).split())  # rich wraps
    assert "resuming from" in output and "1/3 epochs done" in output
    saved = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in saved["epochs"]] == [1, 2, 3] and saved["world_size"] == 2
    assert saved["epochs"][0] == progress["history"][0]  # epoch 1 as the killed run measured it
    assert not (out / "state").exists()

    reference = tmp_path / "uninterrupted"
    train(
        TrainConfig(
            **{
                **settings,
                "model": str(init),
                "data": [str(train_file)],
                "eval_data": [str(eval_file)],
                "out_dir": str(reference),
                "device": "cpu",
            }
        )
    )
    assert max_diff(reference, init) > 1e-3
    assert max_diff(out, reference) < 1e-5


def test_a_kill_between_the_renames_of_a_save_leaves_the_previous_state_found(tmp_path):
    assert find_state(tmp_path) is None
    (tmp_path / "state.tmp").mkdir()  # half written: never used
    (tmp_path / "state.tmp" / "progress.json").write_text("{}")
    assert find_state(tmp_path) is None
    (tmp_path / "state.old").mkdir()
    (tmp_path / "state.old" / "progress.json").write_text("{}")
    assert find_state(tmp_path) == tmp_path / "state.old"
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "progress.json").write_text("{}")
    assert find_state(tmp_path) == tmp_path / "state"


def as_plain(items: list) -> list:
    return [
        (p.instance_id, p.resolved, [(w.ids.tolist(), w.markers, w.turns) for w in p.windows]) for p in items
    ]


def test_serialized_trajectories_are_cached_and_keyed_by_what_they_depend_on(tmp_path, tokenizer):
    data = write_synthetic_jsonl(tmp_path / "data.jsonl", 12, seed=3)
    cache, serializer = tmp_path / "cache", Serializer(tokenizer)
    first, hit = load_prepared([str(data)], None, serializer, cache)
    assert not hit and len(first) == 12
    assert as_plain(first) == as_plain(serialize(load_sources([str(data)]), serializer))
    assert {w.ids.dtype for p in first for w in p.windows} == {torch.int32}
    (part,) = cache.glob("*/part-0-of-1.pt")
    written = part.stat().st_mtime_ns

    again, hit = load_prepared([str(data)], None, serializer, cache)
    assert hit and as_plain(again) == as_plain(first) and part.stat().st_mtime_ns == written
    assert not load_prepared([str(data)], 5, serializer, cache)[1]  # another limit
    assert not load_prepared([str(data)], None, Serializer(tokenizer, max_tokens=300), cache)[1]
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the source changed
    assert not load_prepared([str(data)], None, serializer, cache)[1]
    assert len(list(cache.iterdir())) == 4


def test_gradient_checkpointing_recomputes_layers_and_still_trains(tmp_path):
    data = write_synthetic_jsonl(tmp_path / "train.jsonl", 6, seed=3)
    init = make_tiny_critic(tmp_path / "init")
    cfg = TrainConfig(
        model=str(init),
        data=[str(data)],
        eval_fraction=0.0,
        out_dir=str(tmp_path / "out"),
        epochs=1,
        lr=1e-3,
        batch_size=2,
        micro_batch_size=2,
        device="cpu",
        gradient_checkpointing=True,
    )
    model, _ = load_model(cfg, Dist())
    net = wrap(model, Dist(), bf16=False).train()
    calls: list[int] = []
    backbone(model).layers[0].mlp.register_forward_pre_hook(lambda *_: calls.append(1))
    ids = torch.tensor([[5, 6, 7, 8]])
    net(ids, torch.ones_like(ids), torch.tensor([0]), torch.tensor([3])).sum().backward()
    assert len(calls) == 2  # forward, then again in backward

    assert [e["epoch"] for e in train(cfg)["epochs"]] == [1]
    assert max_diff(tmp_path / "out", init) > 1e-4


def test_meta_rank_builds_the_shapes_rank0_loads(tmp_path):
    """Ranks other than 0 build on the meta device; from a backbone without the marker, rank 0
    grows the embeddings, so the meta build must come out the same shape."""
    tokenizer = make_tiny_tokenizer()
    AutoModelForCausalLM.from_config(tiny_config(len(tokenizer) - 1)).save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    cfg = TrainConfig(model=str(tmp_path / "lm"), device="cpu")
    real, _ = load_model(cfg, Dist())
    meta, _ = load_model(cfg, Dist(rank=1, world=2))
    shapes = {k: (v.shape, v.dtype) for k, v in real.state_dict().items()}
    assert {k: (v.shape, v.dtype) for k, v in meta.state_dict().items()} == shapes
    assert all(p.is_meta for p in meta.parameters())
    assert real.get_input_embeddings().num_embeddings == len(tokenizer)


def test_compression_is_saved_with_the_checkpoint_and_every_scorer_applies_it(tmp_path):
    """Trained with a compression rule, the checkpoint carries it: LocalCritic (the server's Scorer)
    and the vLLM client's serializer cut messages exactly as training did."""
    from critic.clients.vllm import load_serializer
    from critic.config import CompressionConfig
    from critic.serialize import CONFIG_KEY, Compression

    data = write_synthetic_jsonl(tmp_path / "train.jsonl", 8, seed=1)
    init = make_tiny_critic(tmp_path / "init")
    cfg = TrainConfig(
        model=str(init),
        data=[str(data)],
        eval_data=[str(data)],
        out_dir=str(tmp_path / "out"),
        compression=CompressionConfig(head=10, tail=20),
        epochs=1,
        lr=1e-3,
        batch_size=4,
        device="cpu",
        log_every=10_000,
        save_state_every=0,
    )
    train(cfg)
    rule = Compression(10, 20)
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved[CONFIG_KEY] == {"head": 10, "tail": 20}
    episode = load_sources([str(data)])[0]
    _, tokenizer = load_critic(tmp_path / "out")
    trained = Serializer(tokenizer, max_tokens=cfg.max_context, compression=rule)
    window = trained.encode(episode.messages).ids
    assert window != Serializer(tokenizer, max_tokens=cfg.max_context).encode(episode.messages).ids
    history, last = episode.messages[:-1], episode.messages[-1]["content"]
    if episode.messages[-1]["role"] != "assistant":  # the observation after the final turn
        history, last = episode.messages[:-2], episode.messages[-2]["content"]
    for serializer in (
        LocalCritic(tmp_path / "out", device="cpu").scorer.serializer,
        load_serializer(tmp_path / "out"),
    ):
        assert serializer.compression == rule
        inp = serializer.for_scoring(history, [last])
        assert inp.history + inp.candidates[0] == window
    # a checkpoint trained without a rule keeps whole messages, also when continued from one with it
    cfg2 = cfg.model_copy(
        update={"model": str(tmp_path / "out"), "out_dir": str(tmp_path / "out2"), "compression": None}
    )
    train(cfg2)
    assert json.loads((tmp_path / "out2" / "config.json").read_text()).get(CONFIG_KEY) is None
    assert LocalCritic(tmp_path / "out2", device="cpu").scorer.serializer.compression is None


def _run_folder(root: Path, outcomes: dict[str, bool | None]) -> Path:
    """A run folder of one-turn trajectories; None: a damaged trajectory.json (not JSON)."""
    for iid, resolved in outcomes.items():
        d = root / "trajectories" / iid
        d.mkdir(parents=True)
        if resolved is None:
            (d / "trajectory.json").write_text('{"messages": [{"role": "sys')  # cut off mid-write
            continue
        msgs = [
            *HIST,
            {"role": "assistant", "content": f"```bash\n{'python fix.py' if resolved else 'ls'}\n```"},
        ]
        (d / "trajectory.json").write_text(json.dumps({"instance_id": iid, "messages": msgs, "patch": ""}))
        (root / "grades").mkdir(exist_ok=True)
        (root / "grades" / f"{iid}.json").write_text(json.dumps({"instance_id": iid, "resolved": resolved}))
    return root


def test_damaged_trajectories_are_skipped_by_name_and_one_class_data_is_warned(tmp_path, caplog, capsys):
    from critic.cli import main

    init = make_tiny_critic(tmp_path / "init")

    def train_on(run: Path) -> int:
        return main(["critic", "train", "--model", str(init), "--data", str(run), "--out", str(run / "ckpt"),
                     "--device", "cpu", "--epochs", "1", "train.eval_fraction=0", "train.log_every=1000"])  # fmt: skip

    mixed = _run_folder(tmp_path / "mixed", {"a__1": True, "b__2": False, "c__3": None, "d__4": False})
    assert train_on(mixed) == 0
    damaged = str(mixed / "trajectories" / "c__3" / "trajectory.json")
    assert [r.getMessage() for r in caplog.records if damaged in r.getMessage()], caplog.text
    assert "cannot learn to rank" not in capsys.readouterr().out
    one_class = _run_folder(tmp_path / "one", {"a__1": True, "b__2": True})
    assert train_on(one_class) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "all 2 training trajectories are resolved" in out and "cannot learn to rank" in out
    nothing = _run_folder(tmp_path / "nothing", {"c__3": None})
    assert train_on(nothing) == 2
    err = capsys.readouterr().err
    assert "no training trajectories" in err and "Traceback" not in err
