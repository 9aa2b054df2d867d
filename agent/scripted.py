"""Scripted policies for `--model scripted:NAME`: deterministic replies built from the task, for
tests and benchmarks (no model involved). Each entry of SCRIPTS turns a task into the reply
function of an agent.policies.ScriptedPolicy."""

from __future__ import annotations

import base64
from collections.abc import Callable

from agent.types import Message
from envs.types import Task

GOLD_EOF = "SWE_SEARCH_GOLD_PATCH_EOF"


def _assistant_turns(messages: list[Message]) -> int:
    return sum(m["role"] == "assistant" for m in messages)


def _gold_script(task: Task) -> Callable[[list[Message]], str]:
    """Apply the task's gold patch (written with a heredoc, then `git apply`), then submit."""
    patch = task.instance.get("patch") or ""
    if not patch.endswith("\n"):
        patch += "\n"
    if "```" in patch or GOLD_EOF in patch:  # would break the fenced block or the heredoc
        encoded = base64.b64encode(patch.encode()).decode()
        write = f"echo {encoded} | base64 -d > /tmp/gold.patch"
    else:
        write = f"cat > /tmp/gold.patch <<'{GOLD_EOF}'\n{patch}{GOLD_EOF}"
    apply = f"Apply the reference fix.\n```bash\n{write}\ngit -C {task.workdir} apply /tmp/gold.patch\n```"
    return lambda messages: apply if _assistant_turns(messages) == 0 else "Done.\n```bash\nsubmit\n```"


def _empty_script(task: Task) -> Callable[[list[Message]], str]:
    """Submit at once, with no change."""
    return lambda messages: "Nothing to change.\n```bash\nsubmit\n```"


def _sleep_script(task: Task) -> Callable[[list[Message]], str]:
    """Run a command that never ends in time (to exercise the per-instance watchdog), then submit."""
    return lambda messages: (
        "Wait.\n```bash\nsleep 100000\n```"
        if _assistant_turns(messages) == 0
        else "Done.\n```bash\nsubmit\n```"
    )


SCRIPTS: dict[str, Callable[[Task], Callable[[list[Message]], str]]] = {
    "gold": _gold_script,
    "empty": _empty_script,
    "sleep": _sleep_script,
}
"""`--model scripted:NAME`: deterministic policies for tests and benchmarks (no model involved)."""
