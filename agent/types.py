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
    """What model calls consumed, counted per request as the server bills it. Values add up with `+`.

    A request's prompt counts once, however many samples (`n`) it asked for; `cached_prompt_tokens`
    is the part of `prompt_tokens` the server reused from its prefix cache (billed at a discount, or
    not recomputed); `completion_tokens` are every sample's own. A policy that answers one request with
    n samples puts the request's prompt on the first sample only (`split_request`), so that summing
    the samples of a step never counts a shared prompt twice.

    Completion, Choice, the trajectory's Step and Stats and search's Spent each carry one Usage; a
    trajectory file stores its numbers as flat keys (agent.trajectory.Spending).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached_prompt_tokens: int = 0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens (what a token budget counts)."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost + other.cost,
            self.cached_prompt_tokens + other.cached_prompt_tokens,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens - other.prompt_tokens,
            self.completion_tokens - other.completion_tokens,
            self.cost - other.cost,
            self.cached_prompt_tokens - other.cached_prompt_tokens,
        )


def split_request(request: Usage, completion_tokens: list[int], prompt_cost: float = 0.0) -> list[Usage]:
    """One request's usage as the usages of its n samples, which add up to it exactly.

    Each sample keeps its own completion tokens (`completion_tokens[i]`, summing to the request's).
    The prompt, its cached part and `prompt_cost` (what the prompt cost) go on the first sample only;
    the rest of the cost is shared in proportion to the completion tokens.
    """
    n = len(completion_tokens)
    if n == 0:
        return []
    total = sum(completion_tokens)
    rest = request.cost - prompt_cost
    costs = [rest * t / total if total else rest / n for t in completion_tokens]
    costs[0] = request.cost - sum(costs[1:])  # the first absorbs the prompt and any rounding
    return [
        Usage(
            request.prompt_tokens if i == 0 else 0,
            tokens,
            costs[i],
            request.cached_prompt_tokens if i == 0 else 0,
        )
        for i, tokens in enumerate(completion_tokens)
    ]


def apportion(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder), summing to `total` exactly; evenly
    when every weight is zero. How a request's completion tokens are shared when the server reports
    only their sum (OpenAI's usage counts all n choices together)."""
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    shares = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass
class Completion:
    """One sampled reply of the policy, with what it cost."""

    text: str
    usage: Usage = Usage()
    """What this sample adds to the bill: its own completion tokens, and the request's prompt when it is
    the first sample of its request (split_request); sum the samples, never multiply a prompt."""
    latency: float = 0.0
    prompt_tokens: int = 0
    """The request's prompt length as the server counted it, on every sample (the loop measures the
    context with it; only `usage` is charged)."""


def request_completions(
    texts: list[str],
    request: Usage,
    completion_tokens: list[int] | None = None,
    prompt_cost: float = 0.0,
    latency: float = 0.0,
) -> list[Completion]:
    """The n Completions of one request (`texts`), whose usages add up to `request` (split_request).

    `completion_tokens`: each sample's own count; None shares the request's total in proportion to
    the texts' lengths (servers report only the sum).
    """
    own = completion_tokens
    if own is None:
        own = apportion(request.completion_tokens, [len(t) for t in texts])
    usages = split_request(request, own, prompt_cost)
    return [
        Completion(text, usage, latency, request.prompt_tokens)
        for text, usage in zip(texts, usages, strict=True)
    ]


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
    choosing it consumed (`usage`: every request of the step, each prompt once and every sample's
    completion, duplicates included; `critic_usage`: what the critic's calls reported)."""

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
    """What the critic's calls reported they consumed (critic.protocol.CriticCall); apart from the policy's."""
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
