"""A per-instance budget shared by every run and every sample of one search."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.loop import AgentStop
from agent.trajectory import ExitStatus
from agent.types import Usage
from search.config import BudgetConfig

BUDGET_MESSAGE = "search budget exhausted"


class BudgetExhausted(AgentStop):
    """The instance's search budget is spent; the run stops and selection uses what finished.

    An AgentStop, so the agent loop ends the run cleanly and keeps its trajectory, with exit
    status `budget_exhausted`.
    """

    status = ExitStatus.budget_exhausted


@dataclass
class Spent:
    """What the search has used so far (the budget's `policy_tokens` limit counts `usage.tokens`)."""

    usage: Usage = Usage()
    critic_calls: int = 0
    wall_time: float = 0.0
    critic_usage: Usage = Usage()
    """What a critic that charges (an LLM judge) used: its cost counts toward the `cost` limit."""


class Budget:
    """Thread-safe counters checked against a BudgetConfig.

    Choosers call `check()` before spending and `charge(...)` after. Once any limit is
    reached, every later `check()` raises BudgetExhausted, so all N runs stop cleanly.
    The limit is soft: a request already past its check still finishes, so concurrent runs
    may overshoot by at most one request each.
    """

    def __init__(
        self, config: BudgetConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or BudgetConfig()
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        self._usage = Usage()
        self._critic_usage = Usage()
        self._critic_calls = 0

    def charge(
        self, usage: Usage | None = None, critic_calls: int = 0, critic_usage: Usage | None = None
    ) -> None:
        """Record spending (never raises: work already done is always counted)."""
        with self._lock:
            if usage is not None:
                self._usage += usage
            if critic_usage is not None:
                self._critic_usage += critic_usage
            self._critic_calls += critic_calls

    def spent(self) -> Spent:
        with self._lock:
            return Spent(self._usage, self._critic_calls, self._clock() - self._start, self._critic_usage)

    def exhausted(self) -> str | None:
        """The reason the budget is spent, or None while some is left."""
        s, c = self.spent(), self.config
        tokens, cost = s.usage.tokens, s.usage.cost + s.critic_usage.cost
        if c.policy_tokens is not None and tokens >= c.policy_tokens:
            return f"policy tokens {tokens} >= {c.policy_tokens}"
        if c.cost is not None and cost >= c.cost:
            return f"cost ${cost:.4f} >= ${c.cost:.4f}"
        if c.critic_calls is not None and s.critic_calls >= c.critic_calls:
            return f"critic calls {s.critic_calls} >= {c.critic_calls}"
        if c.wall_time is not None and s.wall_time >= c.wall_time:
            return f"wall time {s.wall_time:.1f}s >= {c.wall_time:.1f}s"
        return None

    def check(self) -> None:
        """Raise BudgetExhausted if any limit is reached."""
        reason = self.exhausted()
        if reason is not None:
            raise BudgetExhausted(f"{BUDGET_MESSAGE}: {reason}")
