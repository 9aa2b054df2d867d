"""The client-side seam that search/ codes against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agent.types import Message, Usage


class Critic(Protocol):
    """Q(s, a) for each candidate action `a` after history `s`: the estimated chance the run succeeds.

    A critic may also say what its last `score` call consumed in a `last_call: CriticCall` attribute
    (read with `last_call`): search charges it to the budget, the trajectory records it per step and
    the cost tables show it.
    """

    def score(self, history: list[Message], candidates: list[str]) -> list[float]: ...


@dataclass(frozen=True)
class CriticCall:
    """What one `score` call of a critic cost (the LLM judge's request; our critic server's history
    and candidate tokens), and how sure it was.

    Such a critic sets `last_call` (per thread) after each `score`; search reads it with `last_call`,
    charges `usage` to the budget and records it in the trajectory apart from the policy's.
    """

    usage: Usage = Usage()
    """Tokens and USD of the call's requests (each request's prompt counted once)."""
    prompt_tokens: list[int] = field(default_factory=list)
    """Per candidate: the prompt tokens of the request that scored it."""
    undecided: int = 0
    """Candidates whose answer held neither YES nor NO (scored 0.5)."""


def last_call(critic: object) -> CriticCall | None:
    """The CriticCall of the critic's last `score` in this thread, or None for a critic that has none."""
    call = getattr(critic, "last_call", None)
    return call if isinstance(call, CriticCall) else None


def describe_critic(critic: object | None) -> dict | None:
    """The critic as the trajectory's config records it: its class, plus its own `describe()` if any."""
    if critic is None:
        return None
    describe = getattr(critic, "describe", None)
    return {"class": type(critic).__name__, **(describe() if callable(describe) else {})}


def final_turn(messages: list[Message]) -> tuple[list[Message], str]:
    """(history before the last assistant turn, that turn's text): what selection scores."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "assistant":
            return messages[:i], messages[i]["content"]
    raise ValueError("the trajectory has no assistant turn to score")


def score_last_turn(critic: Critic, messages: list[Message]) -> float:
    """Q of the last assistant turn after the history before it: trajectory selection's value.

    Raises ValueError when there is no assistant turn.
    """
    history, action = final_turn(messages)
    return float(critic.score(history, [action])[0])


def score_run(critic: Critic, messages: list[Message], patch: str) -> float:
    """Selection's value of a finished run: the critic's own `score_run(messages, patch)` when it has
    one (the LLM judge reads the whole run and its patch), else `score_last_turn`.

    Raises ValueError when there is no assistant turn.
    """
    own = getattr(critic, "score_run", None)
    if callable(own):
        final_turn(messages)  # the same ValueError when there is nothing to score
        return float(own(messages, patch))
    return score_last_turn(critic, messages)
