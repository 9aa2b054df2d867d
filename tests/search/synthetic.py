"""A synthetic task family with known odds, for testing search without Docker or an LLM.

An episode is `depth` decisive steps followed by `submit`. At each step the policy samples
one of the task's arms (or, with probability `p_format_error`, a malformed reply) from a known
distribution. Running arm `a` keeps the episode on track with probability `a.success`
(resolved by a seeded RNG in the env); one failed step dooms the episode. The observation
says `result: ok` or `result: failed`, so an oracle critic can read the state from the history.

Everything is seeded: the policy's i-th sample is a function of (seed, history, i), and the
env's draw at step t is a function of (seed, t), so two choosers that pick the same actions
see the same observations.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.types import Choice, Completion, Message, StepChooser, Usage
from critic.protocol import CriticCall
from envs.types import Observation, Task
from search.budget import BudgetExhausted
from search.select import RunOutcome, final_q

FENCE = re.compile(r"```[a-z]*\n(.*?)\n```", re.DOTALL)
CORRECTION = "Your reply must contain exactly one fenced command block. Try again."


@dataclass(frozen=True)
class Arm:
    name: str
    p: float
    """Probability the policy samples this arm."""
    success: float
    """Probability that running it keeps the episode on track."""


@dataclass(frozen=True)
class SyntheticTask:
    arms: tuple[Arm, ...]
    depth: int = 3
    p_format_error: float = 0.0

    def __post_init__(self) -> None:
        assert abs(sum(a.p for a in self.arms) + self.p_format_error - 1.0) < 1e-9

    def arm(self, name: str) -> Arm:
        return next(a for a in self.arms if a.name == name)

    # --- analytical predictions -------------------------------------------------------------
    def greedy_step(self) -> float:
        """P(step ok) for greedy: format errors are resampled, so the arm is p restricted to valid."""
        return sum(a.p * a.success for a in self.arms) / (1 - self.p_format_error)

    def greedy_rate(self) -> float:
        """Pass@1 of one greedy run."""
        return self.greedy_step() ** self.depth

    def oracle_lookahead_step(self, k: int) -> float:
        """P(step ok) when the best of K samples (by `success`) runs, given at least one is valid."""
        ranked = sorted(self.arms, key=lambda a: -a.success)
        total, top, prev = 0.0, 0.0, 0.0
        for a in ranked:
            top += a.p
            at_least = 1 - (1 - top) ** k  # P(the best sample is this arm or better)
            total += a.success * (at_least - prev)
            prev = at_least
        return total / (1 - self.p_format_error**k)

    def oracle_lookahead_rate(self, k: int) -> float:
        return self.oracle_lookahead_step(k) ** self.depth


def pass_at(n: int, p: float) -> float:
    """P(at least one of n iid runs succeeds)."""
    return 1 - (1 - p) ** n


def reply(command: str) -> str:
    return f"I will run {command}.\n```\n{command}\n```"


def command_of(text: str) -> str | None:
    m = FENCE.findall(text)
    return m[0].strip() if len(m) == 1 else None


def steps_done(history: list[Message]) -> int:
    return sum(m["content"].count("result: ") for m in history if m["role"] == "user")


def doomed(history: list[Message]) -> bool:
    return any("result: failed" in m["content"] for m in history if m["role"] == "user")


class SyntheticPolicy:
    """A real Policy: samples arms from the task's distribution, `submit` after `depth` steps."""

    def __init__(self, task: SyntheticTask, seed: int | str = 0) -> None:
        self.task = task
        self.seed = seed
        self.calls = 0

    def sample(
        self, messages: list[Message], n: int = 1, temperature: float | None = None
    ) -> list[Completion]:
        self.calls += 1
        digest = hashlib.sha256(json.dumps(messages).encode()).hexdigest()[:16]
        return [self._one(messages, random.Random(f"{self.seed}:{digest}:{i}")) for i in range(n)]

    def _one(self, messages: list[Message], rng: random.Random) -> Completion:
        if steps_done(messages) >= self.task.depth:
            text = reply("submit")
        else:
            u, text = rng.random(), None
            for arm in self.task.arms:
                if u < arm.p:
                    text = reply(arm.name)
                    break
                u -= arm.p
            text = text or "I am not sure what to run."  # a format error
        return Completion(text=text, usage=Usage(prompt_tokens=10, completion_tokens=5, cost=0.001))


class SyntheticEnv:
    """An Env whose step outcomes are drawn from a seeded RNG; cannot be rolled back."""

    def __init__(self, task: SyntheticTask, seed: int | str = 0) -> None:
        self.synthetic = task
        self.task = Task(instance_id="synthetic", problem_statement="Run the right commands.", image="none")
        self.seed = seed
        self.steps = 0
        self.broken = False
        self.submitted = False
        self.log: list[str] = []

    @property
    def resolved(self) -> bool:
        return self.submitted and not self.broken

    def execute(self, command: str, timeout: float | None = None) -> Observation:
        command = command.strip()
        if command == "submit":
            self.submitted = True
            return Observation(output=self.diff(), exit_code=0)
        if command not in {a.name for a in self.synthetic.arms}:  # e.g. the agent loop's state query
            return Observation(output="", exit_code=0)
        self.log.append(command)
        u = random.Random(f"{self.seed}:{self.steps}").random()
        self.steps += 1
        ok = u < self.synthetic.arm(command).success
        self.broken |= not ok
        return Observation(output=f"result: {'ok' if ok else 'failed'}", exit_code=0 if ok else 1)

    def read_file(self, path: str) -> bytes:
        return b""

    def write_file(self, path: str, data: bytes) -> None:
        pass

    def write_files(self, files: Mapping[str, bytes]) -> None:
        pass

    def diff(self) -> str:
        body = "".join(f"+{c}\n" for c in self.log if c != "submit")
        return f"--- a/log\n+++ b/log\n{body}"

    def close(self) -> None:
        pass

    def __enter__(self) -> SyntheticEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CountingCritic:
    """A real Critic base that records every request (history length, candidates)."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.histories: list[list[Message]] = []
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        return len(self.requests)

    def score(self, history: list[Message], candidates: list[str]) -> list[float]:
        with self._lock:
            self.requests.append(list(candidates))
            self.histories.append(list(history))
            return [self.q(history, c) for c in candidates]

    def q(self, history: list[Message], candidate: str) -> float:
        return 0.5


class ConstantCritic(CountingCritic):
    def __init__(self, value: float = 0.5) -> None:
        super().__init__()
        self.value = value

    def q(self, history: list[Message], candidate: str) -> float:
        return self.value


class RandomCritic(CountingCritic):
    """Uniform noise from one seeded stream: carries no information about success."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.rng = random.Random(seed)

    def q(self, history: list[Message], candidate: str) -> float:
        return self.rng.random()


class OracleCritic(CountingCritic):
    """The true odds: 0 once doomed; else the arm's success rate, and 1 for `submit`."""

    def __init__(self, task: SyntheticTask) -> None:
        super().__init__()
        self.task = task

    def q(self, history: list[Message], candidate: str) -> float:
        command = command_of(candidate)
        if doomed(history) or command is None:
            return 0.0
        if command == "submit":
            return 1.0
        return self.task.arm(command).success


class TableCritic(CountingCritic):
    """Q by command name, from a dict; unknown commands get `default`."""

    def __init__(self, table: dict[str, float], default: float = 0.0) -> None:
        super().__init__()
        self.table = table
        self.default = default

    def q(self, history: list[Message], candidate: str) -> float:
        return self.table.get(command_of(candidate) or "", self.default)


class BilledCritic(TableCritic):
    """A critic that says what each call consumed, as an LLM judge or our server's client does."""

    def score(self, history: list[Message], candidates: list[str]) -> list[float]:
        self.last_call = CriticCall(
            usage=Usage(prompt_tokens=50 * len(candidates), completion_tokens=len(candidates), cost=0.002)
        )
        return super().score(history, candidates)


@dataclass
class Episode:
    """What the fixture's runner recorded: the chat and every Choice."""

    messages: list[Message]
    choices: list[Choice] = field(default_factory=list)
    resolved: bool = False
    actions: list[str] = field(default_factory=list)


def run_episode(
    env: SyntheticEnv,
    policy: SyntheticPolicy,
    chooser: StepChooser,
    critic: CountingCritic | None = None,
    max_turns: int = 60,
) -> RunOutcome:
    """A minimal agent loop over the seams (chooser, policy, env) for fast statistical tests."""
    ep = Episode(messages=[{"role": "system", "content": "synthetic"}, {"role": "user", "content": "go"}])
    status = "step_limit"
    try:
        for _ in range(max_turns):
            choice = chooser.choose(ep.messages, policy)
            ep.choices.append(choice)
            ep.messages.append({"role": "assistant", "content": choice.completion.text})
            if choice.action is None:
                ep.messages.append({"role": "user", "content": CORRECTION})
                continue
            obs = env.execute(choice.action.command)
            ep.actions.append(choice.action.command)
            if choice.action.is_submit:
                status = "submitted"
                break
            ep.messages.append({"role": "user", "content": obs.output})
    except BudgetExhausted:
        status = "budget_exhausted"
    ep.resolved = env.resolved
    chosen_qs = [c.candidates[c.chosen_index].q for c in ep.choices if c.candidates]
    scored = [q for q in chosen_qs if q is not None]
    submit_q = chosen_qs[-1] if status == "submitted" else None
    return RunOutcome(
        index=0,
        status=status,
        submitted=status == "submitted",
        patch=env.diff() if status == "submitted" else "",
        final_q=final_q(ep.messages, submit_q, critic) if status == "submitted" else None,
        mean_q=sum(scored) / len(scored) if scored else None,
        trajectory=ep,
    )
