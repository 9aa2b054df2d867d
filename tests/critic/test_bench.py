"""bench/critic_scoring.py runs end to end, also on the bare GPU image of the `device` tool.

That image has torch, transformers, tokenizers and pyyaml but not our service dependencies, so the
benchmark runs here with those made unimportable: a GPU session can then spend its few device
minutes measuring, not repairing imports.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import torch

from critic.model import build_critic, make_tiny_tokenizer, qwen2_7b_config

ROOT = Path(__file__).resolve().parents[2]
# What we depend on that the device image lacks (KINDS.md in the device tool's library entry).
NOT_ON_DEVICE = [
    "pydantic",
    "fastapi",
    "uvicorn",
    "starlette",
    "openai",
    "docker",
    "swebench",
    "tenacity",
    "datasets",
]

RUN_WITHOUT = """
import runpy, sys
for name in {blocked!r}:
    sys.modules[name] = None  # `import name` now fails, and find_spec reports it absent
sys.argv = ["bench/critic_scoring.py", *{argv!r}]
try:
    runpy.run_path("bench/critic_scoring.py", run_name="__main__")
except SystemExit as e:
    sys.exit(e.code)
"""


def test_scoring_bench_runs_without_service_dependencies(tmp_path):
    out = tmp_path / "report.md"
    argv = ["--histories", "200,400", "--k", "3", "--cand-tokens", "40", "--repeats", "1", "--steps", "1"]
    argv += ["--runs", "2", "--out", str(out)]
    code = RUN_WITHOUT.format(blocked=NOT_ON_DEVICE, argv=argv)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = out.read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| (\d+) \| ([^|]+) \| ([\d.]+) \| (\d+) \| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \|$", report, re.M
    )
    assert len(rows) == 8, report  # 4 methods x 2 histories
    by = {(int(h), m.split(" (")[0]): (float(ms), int(tok), float(xn)) for h, m, ms, tok, _, xn, _ in rows}
    histories = sorted({h for h, _ in by})
    for h in histories:
        hist_tok = by[(h, "history forward")][1]
        naive_tok, prefix_tok = by[(h, "naive")][1], by[(h, "prefix-shared")][1]
        cand_tok = prefix_tok - hist_tok
        assert cand_tok > 0 and naive_tok == 3 * hist_tok + cand_tok  # K full sequences vs one history
        assert by[(h, "naive")][2] == 1.0
        assert by[(h, "session-incremental")][1] < prefix_tok  # a session computes only the new turn
    assert len(re.findall(r"^\| ~\d+ \| 2 \|", report, re.M)) == 2  # the batching table, one row a history


def test_the_7b_shape_builds_with_a_scalar_head():
    tokenizer = make_tiny_tokenizer()
    with torch.device("meta"):
        model = build_critic(qwen2_7b_config(), tokenizer, dtype=torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    # Qwen2-7B is 7.62B with its LM head (152064 x 3584); the critic swaps that for one scalar.
    assert 7.0e9 < params < 7.2e9, params
    assert model.score.weight.shape == (1, 3584)
    assert model.config.num_hidden_layers == 28


def test_training_bench_dry_runs_without_service_dependencies(tmp_path):
    """bench/device_critic_train.sh's Python on a tiny shape on CPU, as the device image would run it."""
    out = tmp_path / "train.md"
    argv = ["--size", "tiny", "--context", "256", "--steps", "2", "--device", "cpu", "--out", str(out)]
    code = RUN_WITHOUT.format(blocked=NOT_ON_DEVICE, argv=argv).replace("critic_scoring", "critic_train")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["context"] == 256 and result["lora_r"] == 16 and result["gradient_checkpointing"]
    assert 0 < result["trainable_parameters"] < result["total_parameters"] and result["tokens_per_s"] > 0
    assert len(result["losses"]) == 2 and "memory estimate per GPU" in proc.stdout
