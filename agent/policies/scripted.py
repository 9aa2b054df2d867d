"""Policies with no model behind them: `ScriptedPolicy` (replays replies; tests and end-to-end runs),
the `--model scripted:NAME` scripts built from each task (SCRIPTS), and the `--model testbed` factory
(agent.testbed). `scripted_policies` and `testbed_policies` are agent.policies.POLICIES entries."""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

from agent.policies import PolicyFor, ScriptExhaustedError, UnknownModelError
from agent.types import Completion, Message, Usage, request_completions
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


def _slowgold_script(task: Task) -> Callable[[list[Message]], str]:
    """Wait 5 s in the container, then as `gold` (a run that is surely in flight for a few seconds)."""
    gold = _gold_script(task)

    def reply(messages: list[Message]) -> str:
        turns = _assistant_turns(messages)
        if turns == 0:
            return "Wait.\n```bash\nsleep 5\n```"
        return gold([] if turns == 1 else messages)  # gold's first reply (apply), then its submit

    return reply


SCRIPTS: dict[str, Callable[[Task], Callable[[list[Message]], str]]] = {
    "gold": _gold_script,
    "slowgold": _slowgold_script,
    "empty": _empty_script,
    "sleep": _sleep_script,
}
"""`--model scripted:NAME`: deterministic policies for tests and benchmarks (no model involved)."""


def scripted_policies(name: str | None, base_url: str | None = None, **knobs: Any) -> PolicyFor:
    """`--model scripted:NAME`: a fresh ScriptedPolicy per task, replying by SCRIPTS[NAME]."""
    if name not in SCRIPTS:
        raise UnknownModelError(
            f"unknown scripted policy 'scripted:{name or ''}'; use one of scripted:{', scripted:'.join(SCRIPTS)}"
        )
    return lambda task: ScriptedPolicy(SCRIPTS[name](task), name=f"scripted:{name}")


def testbed_policies(arg: str | None, base_url: str | None = None, **knobs: Any) -> PolicyFor:
    """`--model testbed[:STYLE]`: agent.testbed.TestbedPolicy, with the run config's `policy:` as its
    knobs; STYLE (agent.testbed_styles: classic, scout) is short for `policy.style=STYLE`."""
    from agent.testbed import TestbedError, TestbedFactory  # imports this package's errors

    if base_url:
        raise TestbedError("--base-url does not apply to --model testbed (it runs in-process)")
    if arg:
        if knobs.get("style", arg) != arg:
            raise TestbedError(f"--model testbed:{arg} and policy.style={knobs['style']} disagree; give one")
        knobs = {**knobs, "style": arg}
    return TestbedFactory(**knobs)


Reply = str | Sequence[str] | BaseException


class ScriptedPolicy:
    """A real Policy that replays replies, for tests and end-to-end runs.

    `replies` is a list consumed one item per `sample` call (a string, a list of n strings, or an
    exception to raise), or a callable `f(messages) -> str | list[str]`. One string answers n > 1
    with n copies; a shorter list is cycled. Token counts are estimated (4 characters per token).
    """

    def __init__(
        self,
        replies: Sequence[Reply] | Callable[[list[Message]], str | Sequence[str]],
        cost_per_call: float = 0.0,
        name: str = "scripted",
    ) -> None:
        self.replies = replies if callable(replies) else list(replies)
        self.cost_per_call = cost_per_call
        self.name = name
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted", "name": self.name, "cost_per_call": self.cost_per_call}

    def _next(self, messages: list[Message]) -> Reply:
        if callable(self.replies):
            return self.replies(messages)
        index = len(self.calls) - 1
        if index >= len(self.replies):
            raise ScriptExhaustedError(
                f"scripted policy {self.name!r} ran out after {len(self.replies)} replies"
            )
        return self.replies[index]

    def sample(
        self, messages: list[Message], n: int = 1, temperature: float | None = None
    ) -> list[Completion]:
        with self._lock:
            self.calls.append({"messages": [dict(m) for m in messages], "n": n, "temperature": temperature})
            reply = self._next(messages)
        if isinstance(reply, BaseException):
            raise reply
        texts = [reply] if isinstance(reply, str) else list(reply)
        texts = [texts[i % len(texts)] for i in range(n)]
        prompt = math.ceil(sum(len(m["content"]) for m in messages) / 4)
        own = [math.ceil(len(t) / 4) for t in texts]
        # one call, one request: its prompt counts once (agent.types.Usage)
        return request_completions(texts, Usage(prompt, sum(own), self.cost_per_call), own)
