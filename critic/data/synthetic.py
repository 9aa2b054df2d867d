"""Synthetic trajectories for tests, demos and the benchmark (no model, no containers).

Success depends on a pattern in the actions: a run resolves its task iff it ran `python fix.py`
at some turn before `submit`. A critic that learns this reads the whole history.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from agent.types import Message

SYSTEM = "You are an agent. Run one bash command per turn."
COMMANDS = [
    "ls src",
    "cat src/file.py",
    "grep -n def src/file.py",
    "python -m pytest tests",
    "open src/file.py",
]
FIX = "python fix.py"


def _turn(cmd: str) -> Message:
    return {"role": "assistant", "content": f"```bash\n{cmd}\n```"}


def _obs(rng: random.Random) -> Message:
    words = " ".join(
        rng.choice(["ok", "error", "line", "test", "file", "value"]) for _ in range(rng.randint(1, 4))
    )
    return {"role": "user", "content": f"{words}\nbash-$"}


def synthetic_episode(rng: random.Random, index: int) -> dict[str, Any]:
    """One nebius-shaped row whose `target` is True iff `python fix.py` ran."""
    n = rng.randint(2, 5)
    cmds = [rng.choice(COMMANDS) for _ in range(n)]
    resolved = rng.random() < 0.5
    if resolved:
        cmds[rng.randrange(n)] = FIX
    cmds.append("submit")
    messages: list[Message] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Fix the bug (issue {index})."},
    ]
    for cmd in cmds:
        messages += [_turn(cmd), _obs(rng)]
    role = {"assistant": "ai"}
    return {
        "instance_id": f"synthetic__task-{index}",
        "model_name": "synthetic",
        "target": resolved,
        "exit_status": "submitted",
        "generated_patch": "",
        "eval_logs": "",
        "trajectory": [
            {
                "role": role.get(m["role"], m["role"]),
                "text": m["content"],
                "system_prompt": SYSTEM,
                "mask": m["role"] == "assistant",
                "cutoff_date": "2024-01-01",
            }
            for m in messages
        ],
    }


def write_synthetic_jsonl(path: str | Path, n: int, seed: int = 0) -> Path:
    """n synthetic rows in the nebius JSONL format."""
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(synthetic_episode(rng, i)) + "\n")
    return path


def synthetic_history(tokenizer: Any, tokens: int, seed: int = 0, obs_lines: int = 20) -> list[Message]:
    """A history of about `tokens` tokens (system, issue, then turn pairs), for benchmarks."""
    rng = random.Random(seed)
    messages: list[Message] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Fix the bug in src/file.py."},
    ]
    total = sum(len(tokenizer(m["content"])["input_ids"]) + 5 for m in messages)
    while total < tokens:
        obs = {"role": "user", "content": "\n".join(_obs(rng)["content"] for _ in range(obs_lines))}
        turn = _turn(rng.choice(COMMANDS))
        messages += [turn, obs]
        total += sum(len(tokenizer(m["content"])["input_ids"]) + 6 for m in (turn, obs))
    return messages


def toy_conversation(turns: int, words: int = 5) -> list[Message]:
    """system, issue, then `turns` assistant/observation pairs (small, deterministic)."""
    msgs: list[Message] = [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": "fix the bug in src/file.py"},
    ]
    for t in range(turns):
        msgs.append(
            {"role": "assistant", "content": f"step {t}\n```bash\ncat src/file.py | grep def {t}\n```"}
        )
        msgs.append(
            {"role": "user", "content": " ".join(["line", "error", "value"][i % 3] for i in range(words + t))}
        )
    return msgs


TOY_CANDIDATES = ["```bash\nls src\n```", "I will submit.\n```bash\nsubmit\n```", "edit the file " * 6, ""]
