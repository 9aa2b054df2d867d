"""The client-side seam that search/ codes against."""

from __future__ import annotations

from typing import Protocol

from agent.types import Message, Usage


class Critic(Protocol):
    """Q(s, a) for each candidate action `a` after history `s`: the estimated chance the run succeeds.

    A critic may also say what its last `score` call consumed in a `last_usage: Usage` attribute
    (read with `last_usage`): the trajectory records it per step and the cost tables show it.
    """

    def score(self, history: list[Message], candidates: list[str]) -> list[float]: ...


def last_usage(critic: Critic | None) -> Usage:
    """What the critic's last `score` call consumed, when it says so (`last_usage`); else nothing."""
    usage = getattr(critic, "last_usage", None)
    return usage if isinstance(usage, Usage) else Usage()


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
