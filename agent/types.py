"""The vocabulary of one agent step: messages, completions, actions, candidates, choices.

These are the seams that search/ and critic/ code against (docs/contracts.md, "Seams").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

Message = dict[str, str]
"""A chat message: {"role": "system" | "user" | "assistant", "content": str}."""


@dataclass(frozen=True)
class Usage:
    """What policy calls consumed: tokens and USD. Values add up with `+`.

    Completion, Choice, the trajectory's Step and Stats and search's Spent each carry one Usage; a
    trajectory file still stores its three numbers as flat keys (agent.trajectory.Spending).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens (what a token budget counts)."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost + other.cost,
        )


@dataclass
class Completion:
    """One sampled reply of the policy, with what it cost."""

    text: str
    usage: Usage = Usage()
    latency: float = 0.0


@dataclass(frozen=True)
class Action:
    """A parsed turn: free-text thought, then exactly one fenced command block."""

    thought: str
    command: str

    @property
    def is_submit(self) -> bool:
        return self.command.strip() == "submit"


@dataclass
class Candidate:
    """One of the actions proposed at a step, as search saw it.

    `action` is None when the text failed to parse (`error` then says why); such a
    candidate is invalid and never chosen while a valid one exists.
    """

    text: str
    action: Action | None = None
    error: str | None = None
    q: float | None = None
    count: int = 1
    critic_tokens: int | None = None
    """The prompt tokens of the critic request that scored it, when the critic reports them (the judge)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Choice:
    """What a StepChooser decided: the completion to act on plus every candidate it weighed, and what
    choosing it consumed (`usage`: every sample of the step, duplicates included)."""

    completion: Completion
    action: Action | None
    candidates: list[Candidate] = field(default_factory=list)
    chosen_index: int = 0
    error: str | None = None
    """Set when the chosen text is a format error (the loop then sends the corrective message)."""
    usage: Usage = Usage()
    critic_calls: int = 0
    latency: float = 0.0
    critic_usage: Usage = Usage()
    """What the critic's calls cost, for critics that charge (the LLM judge); apart from the policy's."""
    critic_undecided: int = 0
    """Candidates the judge answered with neither YES nor NO (scored 0.5)."""


class Policy(Protocol):
    """Anything that proposes replies to a chat history."""

    def sample(
        self, messages: list[Message], n: int = 1, temperature: float | None = None
    ) -> list[Completion]: ...


class StepChooser(Protocol):
    """Picks the action for the next step. Greedy samples one; lookahead samples K and asks the critic."""

    def choose(self, history: list[Message], policy: Policy) -> Choice: ...
