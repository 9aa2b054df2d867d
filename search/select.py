"""Trajectory selection: run N independent attempts, keep the one the critic rates highest."""

from __future__ import annotations

import json
import math
import random
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.redaction import scrub
from agent.types import Message
from critic.protocol import Critic
from envs.files import write_atomic
from search.config import Rule


@dataclass
class RunOutcome:
    """One finished (or crashed) run, summarised for selection."""

    index: int
    status: str = "unknown"
    """The run's exit status (e.g. "submitted"), or "error" when it crashed."""
    submitted: bool = False
    patch: str = ""
    final_q: float | None = None
    """Q of the final (submit) action after the history before it."""
    mean_q: float | None = None
    """Mean Q of the chosen actions over the steps that were scored."""
    error: str | None = None
    trajectory: Any = field(default=None, repr=False)
    """The run's record (agent.trajectory.Trajectory in `solve`); not written to selection.json."""

    @property
    def preferred(self) -> bool:
        """Submitted with a non-empty patch: such runs are ranked before all others."""
        return self.submitted and bool(self.patch.strip()) and self.error is None

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("trajectory", "patch")}
        out["patch_empty"] = not self.patch.strip()
        return out


@dataclass
class Selection:
    """The decision: which run, by which rule, and why."""

    rule: Rule
    chosen: int | None
    reason: str
    runs: list[RunOutcome]
    seed: int = 0

    @property
    def patch(self) -> str:
        return "" if self.chosen is None else self.runs[self.chosen].patch

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "seed": self.seed,
            "chosen": self.chosen,
            "reason": self.reason,
            "runs": [r.summary() for r in self.runs],
        }

    def save(self, path: Path) -> None:
        """Write selection.json atomically."""
        write_atomic(path, json.dumps(scrub(self.to_dict()), indent=2))


def final_q(messages: list[Message], recorded: float | None, critic: Critic | None) -> float | None:
    """The paper's selection value: Q of the final (submit) action.

    Reuses the Q lookahead recorded for the chosen submit when there is one; otherwise scores
    the final assistant turn after the history that preceded it (one critic call).
    """
    if recorded is not None:
        return recorded
    return None if critic is None else final_turn_q(messages, critic)


def final_turn_q(messages: list[Message], critic: Critic) -> float | None:
    """Q of the last assistant turn, scored as the single candidate after the history before it."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "assistant":
            return float(critic.score(messages[:i], [messages[i]["content"]])[0])
    return None


def run_all(run_once: Callable[[int], RunOutcome], n: int, concurrency: int = 1) -> list[RunOutcome]:
    """Call run_once(0..n-1), up to `concurrency` at a time. A crash is recorded, not raised."""

    def guarded(i: int) -> RunOutcome:
        try:
            outcome = run_once(i)
        except Exception as e:  # noqa: BLE001 -- the per-run reporting boundary
            return RunOutcome(index=i, status="error", error=_describe(e))
        outcome.index = i
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, n))) as pool:
        return list(pool.map(guarded, range(n)))


def choose(outcomes: list[RunOutcome], rule: Rule = "final_q", seed: int = 0) -> Selection:
    """Pick one run: submitted-with-patch runs first, then the rule's score, then the lowest index."""
    scores = _scores(outcomes, rule, seed)
    live = [o for o in outcomes if o.error is None]
    if not live:
        return Selection(rule, None, f"all {len(outcomes)} runs failed", outcomes, seed)
    best = max(live, key=lambda o: (o.preferred, scores[o.index], -o.index))
    tier = "submitted a non-empty patch" if best.preferred else "no run submitted a non-empty patch"
    score = scores[best.index]
    shown = "none" if math.isinf(score) else f"{score:.4f}"
    n_pref = sum(o.preferred for o in outcomes)
    reason = f"{tier} ({n_pref}/{len(outcomes)} did); highest {rule} = {shown}; ties -> lowest index"
    return Selection(rule, best.index, reason, outcomes, seed)


def select(
    run_once: Callable[[int], RunOutcome],
    n: int,
    rule: Rule = "final_q",
    concurrency: int = 1,
    seed: int = 0,
) -> Selection:
    """Run N independent attempts (see run_all) and choose one (see choose)."""
    return choose(run_all(run_once, n, concurrency), rule, seed)


def _scores(outcomes: list[RunOutcome], rule: Rule, seed: int) -> dict[int, float]:
    if rule == "random":
        rng = random.Random(seed)
        return {o.index: rng.random() for o in outcomes}
    attr = "final_q" if rule == "final_q" else "mean_q"
    out = {}
    for o in outcomes:
        v = getattr(o, attr)
        out[o.index] = -math.inf if v is None or math.isnan(v) else float(v)
    return out


def _describe(e: BaseException) -> str:
    last = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
    return f"{type(e).__name__}: {e}{where}"
