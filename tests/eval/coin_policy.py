"""`scripted:coin`, a seeded mixed policy for the experiment tests, and a `swe-search` entry that has it.

Each first turn is a draw: with probability P_GOLD the task's gold patch (the `scripted:gold`
script's edit), otherwise a wrong edit of the same form (a one-line append to the README, so the
patch is not empty and the run is graded unresolved); every later turn submits. A ScriptedPolicy
cannot see `n`, so each call returns MAX_SAMPLES draws (cycled to n). Draws are reproducible the
way the testbed policy's are: the c-th call from a conversation state is a hash of (instance id,
state, c, j), with a per-state counter, so runs one at a time give the same draws in any process.

Run as a module it is `swe-search` with `scripted:coin` registered:
    python -m tests.eval.coin_policy experiment -c ... --model scripted:coin
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable

from agent.policies.scripted import SCRIPTS
from agent.types import Message
from envs.types import Task

P_GOLD = 0.5
SALT = 2
"""Chosen so that the reduced test experiment (tests/eval/test_experiment.py) has resolved and
unresolved runs in every pool and lookahead steps with two different candidates."""
MAX_SAMPLES = 4
WRONG = "Apply the fix.\n```bash\necho '# checked the parser' >> README.md\n```"
SUBMIT = "Done.\n```bash\nsubmit\n```"


def _draw(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def coin_script(task: Task) -> Callable[[list[Message]], list[str]]:
    gold = SCRIPTS["gold"](task)([])  # the gold script's first reply: write and apply the gold patch
    counters: dict[str, int] = {}  # ScriptedPolicy calls this under its lock

    def reply(messages: list[Message]) -> list[str]:
        if any(m["role"] == "assistant" for m in messages):
            return [SUBMIT]
        state = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        call = counters.get(state, 0)
        counters[state] = call + 1
        return [
            gold if _draw(SALT, task.instance_id, state, call, j) < P_GOLD else WRONG
            for j in range(MAX_SAMPLES)
        ]

    return reply


def register() -> None:
    """Make `--model scripted:coin` available in this process."""
    SCRIPTS["coin"] = coin_script


if __name__ == "__main__":
    from eval.cli import main

    register()
    sys.exit(main(sys.argv[1:]))
