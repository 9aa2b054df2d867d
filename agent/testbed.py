"""The testbed policy (`--model testbed`): a scripted agent that fixes a testbed task only sometimes.

No language model that runs offline on two CPU cores can fix a bug, so the testbed (examples/testbed)
plays the policy with one that knows each task's answer: it reads the task's `gold.patch` and its
`decoys/*.patch` (plausible wrong edits) from the task folder, and the issue's reproducible example
(the first ```python block of the problem statement). It is a testbed, not an agent: it cannot solve
anything it has not been given the answer to.

It acts only through the real scaffold: every reply is a thought plus one ```bash block that the
real loop parses and runs in the real container with the real tools. Where it stands is read from
the conversation alone (its own earlier replies and what the environment answered), so any of its
replies may be the one a search chose. A run goes through these phases, each decided by a knob:

    explore    find_file, search_file, open on the file the change touches    (p_explore)
    reproduce  write the example to /tmp/repro.py and run it                  (p_reproduce)
    edit       the gold change (p_right) or a uniformly drawn decoy, rendered alike
    verify     rerun the example after the edit (p_verify), else submit at once
    after a failed verification: submit anyway (p_submit_after_fail), else revert with
    `git checkout` and edit again, at most `max_edits` edits; after a passed one: submit

Right and wrong edits are rendered by one function (`render_edit`): one `replace FILE <<'EOF'`
command per file with one SEARCH/REPLACE block per hunk, under the same thought. Nothing but the
code tells them apart, so a critic can tell right from wrong only through what the environment shows
back: the example's output after the edit. That is where search helps: lookahead, by choosing verify
over a premature submit and a re-edit over submitting a failure; selection, by preferring runs whose
last verification passed.

Randomness. The k-th draw from a conversation state (a hash of the messages) for a task and seed is
always the same: its RNG is seeded by (seed, instance id, state hash, k), k counting the draws this
policy object made from that state. `sample(messages, n)` makes draws k..k+n-1, so a single sample
is the first of K lookahead candidates (a constant-critic lookahead replays the base run), and the N
runs of a selection, which all start from the same state, differ. With search.concurrency=1 a run is
identical across processes and on resume.

Temperature T reshapes each yes/no knob p as sigmoid(logit(p) / T): T = 1 uses the knobs as given,
T < 1 sharpens them towards their likelier branch, T > 1 flattens them towards 1/2; T = 0 always takes
the likelier branch (ties: the branch the knob names) and the first decoy by name, so the policy is
deterministic. None means the `temperature` knob (1.0). The decoy is drawn uniformly at any T > 0.

Base Pass@1. When the example fails on every decoy and passes on gold, one run resolves with
probability r (1 - q^m) / (1 - q), q = (1 - r) v (1 - s), for the tempered r = p_right, v = p_verify,
s = p_submit_after_fail and m = max_edits (exploring and reproducing do not change it). The defaults
(0.25, 0.9, 0.6, 6) give 34.2% at T = 1 and 31.5% at T = 0.9; a lookahead that always verifies and
re-edits would reach 1 - (1 - r)^m = 82.2% / 78.8%. `analytic_pass_at_1` computes it.

Why these defaults. The policy's typical mistake is the one a critic can see: it checks most edits
(p_verify 0.9), but after a failed check it submits anyway more often than not (0.6), so search
gains by reading the check's output, which is what the critic has to learn from. With p_verify 0.7 and
p_submit_after_fail 0.5, more of the gain lay in checking before submitting; whether that is better
is a difference of about 0.1 in expected outcome between two actions after the same edit, and a tiny
critic trained on 160 runs could not learn it (it chose submit as often as the policy did; see
BENCHMARKS.md). Up to six edits leave room to recover after a failed check.

Mind the sampling temperature of a run: a single greedy run samples at search.greedy_temperature, which is 0
in configs/strategies.yaml, and at T = 0 the policy always edits with the first decoy (p_right < 1/2).
Run the base policy with `--temperature 0.9` (or 1); select and lookahead sample at
search.temperature (0.9 by default).
"""

from __future__ import annotations

import math
import random
import re
import shlex
import threading
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.scaffold import FormatError, parse_action
from agent.testbed_styles import REPRO_PATH, STYLES, Style
from agent.testbed_task import (
    GOLD,
    TestbedError,
    draw_rng,
    load_patches,
    render_edit,
    reply,
    state_hash,
    tempered,
)
from agent.types import Completion, Message, Usage, request_completions
from envs.types import Task

NAME = "testbed"
__all__ = ["REPRO_PATH", "TestbedFactory", "TestbedKnobs", "TestbedPolicy", "analytic_pass_at_1"]

_FAILED = re.compile(r"\(exit code -?\d+\)|Traceback \(most recent call last\)|\(the command timed out")


class TestbedKnobs(BaseModel):
    """The testbed policy's knobs (`policy:` in a run config, e.g. `policy: {seed: 0, p_right: 0.3}`)."""

    __test__ = False
    model_config = ConfigDict(extra="forbid")

    style: str = Field(
        "classic",
        description="How the policy phrases and paces its replies (agent.testbed_styles.STYLES: classic, "
        "scout); a style's knob defaults apply under the knobs given here.",
    )
    seed: int = Field(0, description="Seed of every draw; runs with the same seed are identical.")
    p_right: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Probability that an edit is the gold change, not a uniformly drawn decoy.",
    )
    p_explore: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Probability of exploring (find_file, search_file, open) before anything.",
    )
    p_reproduce: float = Field(
        0.6, ge=0, le=1, description="Probability of running the issue's example before the first edit."
    )
    p_verify: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Probability of rerunning the example after an edit, instead of submitting.",
    )
    p_submit_after_fail: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Probability of submitting after a failed verification, instead of reverting and editing again.",
    )
    max_edits: int = Field(6, ge=1, description="Most edits per run; after the last one fails, it submits.")
    temperature: float = Field(
        1.0, ge=0, description="Temperature used when `sample` gets None (1: the knobs as given)."
    )

    @model_validator(mode="before")
    @classmethod
    def _style_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        style = data.get("style", "classic")
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; the styles are {', '.join(STYLES)}")
        return {**STYLES[style].defaults, **data}

    @property
    def style_of(self) -> Style:
        return STYLES[self.style]

    @classmethod
    def parse(cls, values: dict[str, Any]) -> TestbedKnobs:
        """The knobs from a mapping, or a one-line TestbedError naming the bad ones."""
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'policy'}: {err['msg']}" for err in e.errors()
            )
            raise TestbedError(
                f"bad testbed policy knob ({problems}); the knobs are {', '.join(cls.model_fields)}"
            ) from None


# ---------------------------------------------------------------- probabilities


def analytic_pass_at_1(knobs: TestbedKnobs | None = None, temperature: float | None = None) -> float:
    """Expected Pass@1 of one run on a task whose example fails on every decoy and passes on gold."""
    knobs = knobs or TestbedKnobs()
    t = knobs.temperature if temperature is None else temperature
    r = tempered(knobs.p_right, t)
    q = (1 - r) * tempered(knobs.p_verify, t) * (1 - tempered(knobs.p_submit_after_fail, t))
    return r * sum(q**i for i in range(knobs.max_edits))


# ---------------------------------------------------------------- where the conversation is


@dataclass(frozen=True)
class Actions:
    """Every reply the policy can give on one task, rendered once."""

    explore: tuple[str, ...]
    reproduce: str | None
    verify: str | None
    """Rerun the example written by `reproduce`."""
    verify_first: str | None
    """Write the example and run it, when it was not reproduced before the edit."""
    edits: dict[str, str]
    undo: str
    submit: str


@dataclass(frozen=True)
class Situation:
    """What the policy reads from a conversation: what it did so far and what the last check showed."""

    explored: int = 0
    reproduced: bool = False
    edits: int = 0
    last: str | None = None
    """The last recognised action: explore | reproduce | edit | verify | undo (None: nothing yet)."""
    passed: bool = False
    """The last verification exited 0 without a traceback."""


def check_failed(observation: str) -> bool:
    """Whether a command's observation shows a failure: a non-zero exit code, a traceback or a timeout."""
    return bool(_FAILED.search(observation))


class TestbedPolicy:
    """A real Policy for testbed tasks: explore, reproduce, edit (right or wrong), verify, submit."""

    __test__ = False

    def __init__(self, task: Task, **knobs: Any) -> None:
        self.task = task
        self.knobs = TestbedKnobs.parse(knobs)
        self.style = self.knobs.style_of
        self.gold, self.decoys = load_patches(task)
        self.actions = self._render()
        self._commands = self._index()
        self._draws: dict[str, int] = {}
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        name = NAME if self.knobs.style == "classic" else f"{NAME}:{self.knobs.style}"
        return {"backend": NAME, "name": name, **self.knobs.model_dump(), "decoys": sorted(self.decoys)}

    # -------------------------------------------------------- rendering

    def _render(self) -> Actions:
        style, thoughts = self.style, self.style.thoughts
        check = style.check(self.task)
        changes = {c.path: c for patch in (self.gold, *self.decoys.values()) for c in patch}
        tracked = [shlex.quote(p) for p, c in sorted(changes.items()) if not c.added]
        created = [shlex.quote(p) for p, c in sorted(changes.items()) if c.added]
        return Actions(
            explore=tuple(style.explore(self.gold[0], thoughts)),
            reproduce=reply("reproduce", check[0], thoughts) if check else None,
            verify=reply("verify", check[1], thoughts) if check else None,
            verify_first=reply("verify", check[0], thoughts) if check else None,
            edits={
                GOLD: render_edit(self.gold, thoughts),
                **{name: render_edit(p, thoughts) for name, p in self.decoys.items()},
            },
            undo=reply("undo", style.undo(tracked, created), thoughts),
            submit=reply("submit", "submit", thoughts),
        )

    def _index(self) -> dict[str, tuple[str, int]]:
        """Command text -> (kind, index), to recognise the policy's own earlier replies."""
        index: dict[str, tuple[str, int]] = {}
        for i, text in enumerate(self.actions.explore):
            index[parse_action(text).command] = ("explore", i)
        for text in self.actions.edits.values():
            index.setdefault(parse_action(text).command, ("edit", 0))
        if self.actions.reproduce and self.actions.verify:
            index[parse_action(self.actions.reproduce).command] = ("run", 1)
            index[parse_action(self.actions.verify).command] = ("run", 0)
        index[parse_action(self.actions.undo).command] = ("undo", 0)
        return index

    # -------------------------------------------------------- reading the conversation

    def situation(self, messages: list[Message]) -> Situation:
        """Where the conversation stands, from the policy's own replies and the observations after them."""
        explored, reproduced, edits, last, passed = 0, False, 0, None, False
        for i, message in enumerate(messages):
            if message.get("role") != "assistant":
                continue
            try:
                command = parse_action(message.get("content", "")).command
            except FormatError:
                continue
            kind, index = self._commands.get(command, ("other", 0))
            observation = messages[i + 1].get("content", "") if i + 1 < len(messages) else ""
            if kind == "explore":
                explored, last = max(explored, index + 1), "explore"
            elif kind == "run":
                reproduced = reproduced or bool(index)
                if last in ("edit", "verify"):
                    last, passed = "verify", not check_failed(observation)
                else:
                    last = "reproduce"
            elif kind == "edit":
                edits, last = edits + 1, "edit"
            elif kind == "undo":
                last = "undo"
        return Situation(explored, reproduced, edits, last, passed)

    def decide(self, messages: list[Message], draw: random.Random, temperature: float) -> str:
        """The reply for this conversation, given one draw's RNG."""
        k, a = self.knobs, self.actions
        u = [draw.random() for _ in range(4)]  # always four, in this order: each decision has its own

        def yes(p: float, i: int) -> bool:
            return u[i] < tempered(p, temperature) if temperature > 0 else tempered(p, 0) == 1.0

        s = self.situation(messages)
        can_check = a.reproduce is not None
        if s.last is None and yes(k.p_explore, 0):
            return a.explore[0]
        if s.last == "explore" and s.explored < len(a.explore):
            return a.explore[s.explored]
        if s.last in (None, "explore") and can_check and yes(k.p_reproduce, 1):
            return a.reproduce  # type: ignore[return-value]
        if s.last == "edit":
            if can_check and yes(k.p_verify, 0):
                return a.verify if s.reproduced else a.verify_first  # type: ignore[return-value]
            return a.submit
        if s.last == "verify":
            if s.passed or s.edits >= k.max_edits or yes(k.p_submit_after_fail, 0):
                return a.submit
            return a.undo
        return self._edit(yes(k.p_right, 2), u[3], temperature)

    def _edit(self, right: bool, u: float, temperature: float) -> str:
        if right or not self.decoys:
            return self.actions.edits[GOLD]
        names = sorted(self.decoys)
        return self.actions.edits[
            names[0] if temperature == 0 else names[min(int(u * len(names)), len(names) - 1)]
        ]

    # -------------------------------------------------------- the Policy protocol

    def sample(
        self, messages: list[Message], n: int = 1, temperature: float | None = None
    ) -> list[Completion]:
        """n independent replies: draws k..k+n-1 from this conversation state."""
        t = self.knobs.temperature if temperature is None else temperature
        if t < 0:
            raise TestbedError(f"temperature must be >= 0, got {t}")
        state = state_hash(messages)
        with self._lock:
            first = self._draws.get(state, 0)
            self._draws[state] = first + n
        prompt = math.ceil(sum(len(m.get("content", "")) for m in messages) / 4)
        seed, iid = self.knobs.seed, self.task.instance_id
        texts = [self.decide(messages, draw_rng(seed, iid, state, first + i), t) for i in range(n)]
        own = [math.ceil(len(text) / 4) for text in texts]
        # one call, one request: the prompt counts once however many draws (agent.types.Usage)
        return request_completions(texts, Usage(prompt, sum(own)), own)


class TestbedFactory:
    """Task -> TestbedPolicy, with the knobs checked once; `check_tasks` vets a dataset before any container."""

    __test__ = False

    def __init__(self, **knobs: Any) -> None:
        self.knobs = TestbedKnobs.parse(knobs).model_dump()

    def __call__(self, task: Task) -> TestbedPolicy:
        return TestbedPolicy(task, **self.knobs)

    def check_tasks(self, tasks: list[Task]) -> None:
        """Raise TestbedError unless every task has a gold patch and decoys the policy can render."""
        for task in tasks:
            load_patches(task)
