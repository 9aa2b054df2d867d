"""The deadline of the model and critic calls of one agent run.

The agent sets it (`within`) around each step's choice, at the end of its `wall_time` (which the
runner caps at the instance's own deadline). Every policy and critic call the step makes in that
thread reads it: OpenAIPolicy and HTTPCritic cap each request's timeout, their retries and the
waits between them by what is left, and raise DeadlineExceeded once it has passed, so a model
server that never answers costs at most the instance's time. The agent turns DeadlineExceeded
into its `timeout` exit. Code that hands a call to another thread passes `current()` along
(a contextvar does not follow a call into a thread pool).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("swe_search_deadline", default=None)


class DeadlineExceeded(TimeoutError):
    """The run's time ran out before or during a model or critic call."""


@contextmanager
def within(deadline: float | None) -> Iterator[None]:
    """Bound the calls made inside by `deadline` (a time.monotonic() value); an earlier one set outside wins."""
    outer = _DEADLINE.get()
    if deadline is None or (outer is not None and outer <= deadline):
        yield
        return
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def current() -> float | None:
    """The deadline in force in this context (time.monotonic()), or None."""
    return _DEADLINE.get()


def bound(timeout: float, deadline: float | None, what: str) -> float:
    """`timeout` capped by what is left before `deadline`; DeadlineExceeded when nothing is left."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(f"no time left for {what}: the run's deadline has passed")
    return min(timeout, left)


def passed(deadline: float | None) -> bool:
    """Whether `deadline` is set and has passed."""
    return deadline is not None and time.monotonic() >= deadline
