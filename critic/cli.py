"""`swe-search critic train|serve` (eval/cli.py calls `add_critic_commands`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from agent.progress import silence_library_progress

TRAIN_HELP = """\
Train a critic Q(s, a) with TD(lambda) targets on graded trajectories.

Data sources (repeat --data; the format of each is detected, critic/data/sources.py):
run folders written by `swe-search run` (trajectories/<id>/**/trajectory.json +
grades/<id>*.json); mini-swe-agent run folders (<id>/<id>.traj.json, preds.json and
a grading result); .parquet/.jsonl files of nebius/SWE-agent-trajectories rows, of
OpenAI chat logs {messages, resolved} (tool calls rendered as actions), or of
Responses-API rollouts {response.output, reward} as nemo-gym writes them. Writes a
HF checkpoint and metrics.json (held-out AUC, Brier, Spearman, calibration, each
source's format) to --out.

Multi-GPU / multi-node: launch the same command with torchrun (FSDP); see critic/README.md.

examples:
  swe-search critic train --model Qwen/Qwen2.5-7B-Instruct --data runs/batch1 --data nebius.parquet --out runs/critic7b
  swe-search critic train -c configs/critic.yaml train.lr=1e-5 train.epochs=2
  swe-search critic train --model smollm2 --data runs/batch1 --out runs/critic-smollm2   # offline, LoRA
"""

SERVE_HELP = """\
Serve a critic checkpoint over HTTP: POST /v1/score {messages, candidates, session?}.

K candidates share one pass over the history; sessions keep the history's KV cache
between steps; concurrent requests are batched into shared forward passes (on GPU).
Use --device cuda (bf16 by default there). GET /health shows limits, cache use and
batching counters.

example:
  swe-search critic serve --checkpoint runs/critic7b --port 8008
"""


def add_critic_commands(subparsers: Any) -> None:
    """Register `critic train` and `critic serve` under a `critic` command."""
    critic = subparsers.add_parser("critic", help="train or serve the critic Q(s, a)")
    sub = critic.add_subparsers(dest="critic_command", required=True)

    t = sub.add_parser(
        "train",
        help="train a critic (TD(lambda), MSE)",
        description=TRAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("-c", "--config", help="YAML with train/serve sections (default: configs/critic.yaml)")
    t.add_argument(
        "--model",
        help="backbone (HF folder or name), a critic checkpoint to continue, or a named starting model: "
        "tiny (random tiny Qwen2, full fine-tune) or smollm2 (the bundled SmolLM2-135M, LoRA; offline)",
    )
    t.add_argument(
        "--data",
        action="append",
        help="run folder (ours or mini-swe-agent's) or .parquet/.jsonl of nebius rows, OpenAI chat logs or "
        "Responses-API rollouts (repeatable)",
    )
    t.add_argument("--eval-data", action="append", help="held-out source (repeatable)")
    t.add_argument("--out", help="output folder for the checkpoint and metrics.json")
    t.add_argument("--epochs", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--device", help="auto, cpu, cuda")
    t.add_argument("overrides", nargs="*", help="key.path=value overrides, e.g. train.lam=1.0")
    t.set_defaults(func=run_train)

    s = sub.add_parser(
        "serve",
        help="serve a critic over HTTP",
        description=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("-c", "--config", help="YAML with train/serve sections (default: configs/critic.yaml)")
    s.add_argument("--checkpoint", help="critic checkpoint folder")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    s.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"])
    s.add_argument("--max-context", type=int, help="token limit (default 32768)")
    s.add_argument("--max-batch-tokens", type=int, help="most query tokens per forward pass (default 8192)")
    s.add_argument(
        "--max-batch-rows",
        type=int,
        help="most concurrent requests' rows batched into one forward (default 64 on GPU, 1 on CPU)",
    )
    s.add_argument("overrides", nargs="*", help="key.path=value overrides, e.g. serve.cache_bytes=8000000000")
    s.set_defaults(func=run_serve)


def _flags(section: str, args: argparse.Namespace, names: dict[str, str]) -> dict[str, object]:
    """flag dest -> `section.key` with the flag's value (None: not given, the YAML's value stays)."""
    return {f"{section}.{key}": getattr(args, flag, None) for flag, key in names.items()}


def _setup_errors_reported(command: str, run: Callable[[], None]) -> int:
    """Run; a config, input or output folder the command cannot start from is one line, exit 2."""
    from agent.configfile import ConfigError
    from critic.errors import CriticSetupError

    try:
        run()
    except (CriticSetupError, ConfigError) as e:
        print(f"swe-search critic {command}: error: {e}", file=sys.stderr)
        return 2
    return 0


def run_train(args: argparse.Namespace) -> int:
    from critic.config import CriticConfig
    from critic.train.loop import train

    flags = _flags(
        "train",
        args,
        {
            "model": "model",
            "data": "data",
            "eval_data": "eval_data",
            "out": "out_dir",
            "epochs": "epochs",
            "lr": "lr",
            "device": "device",
        },
    )
    return _setup_errors_reported(
        "train", lambda: train(CriticConfig.load(args.config, flags, list(args.overrides)).train)
    )


def run_serve(args: argparse.Namespace) -> int:
    from critic.config import CriticConfig
    from critic.serve.server import serve

    flags = _flags(
        "serve",
        args,
        {
            "checkpoint": "checkpoint",
            "host": "host",
            "port": "port",
            "device": "device",
            "dtype": "dtype",
            "max_context": "max_context",
            "max_batch_tokens": "max_batch_tokens",
            "max_batch_rows": "max_batch_rows",
        },
    )
    return _setup_errors_reported(
        "serve", lambda: serve(CriticConfig.load(args.config, flags, list(args.overrides)).serve)
    )


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m critic.cli critic train ...`) until eval/cli.py wires it in."""
    silence_library_progress()
    parser = argparse.ArgumentParser(prog="swe-search")
    add_critic_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
