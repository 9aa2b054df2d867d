"""Trajectory selection: run N independent attempts, keep the one the critic rates highest.

This module is the one home of the selection facts, which eval.report.run_report and eval.report.bootstrap import:
- a run is *preferred* when it submitted a non-empty patch (`is_preferred`);
- a missing (or NaN) Q ranks below every real one (`q_score`);
- a run's `mean_q` is the mean Q of its chosen actions over the scored steps (`mean_q`);
- the order is preferred first, then the rule's score, then the lowest index (`rank_key`).
"""

from __future__ import annotations

import json
import math
import random
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.redaction import scrub
from agent.types import Message
from critic.protocol import Critic, score_run
from envs.files import write_atomic
from search.config import Rule

if TYPE_CHECKING:
    from agent.trajectory import Step


def q_score(q: float | None) -> float:
    """A Q value for ranking: a missing (None) or NaN Q is -inf, below every real one."""
    return -math.inf if q is None or math.isnan(q) else float(q)


def is_preferred(submitted: bool, patch_empty: bool) -> bool:
    """Submitted with a non-empty patch: such runs are ranked before all others."""
    return submitted and not patch_empty


def rule_score(run: Any, rule: Rule | str) -> float:
    """The score `rule` ranks a run by (final_q or mean_q; any object with those fields)."""
    return q_score(run.final_q if rule == "final_q" else run.mean_q)


def rank_key(run: Any, index: int, rule: Rule | str = "final_q") -> tuple[bool, float, int]:
    """`choose`'s order (the largest key is chosen): preferred runs first, then the highest score of
    the rule, then the lowest index. `run` has `preferred`, `final_q` and `mean_q`."""
    return (run.preferred, rule_score(run, rule), -index)


def mean_q(steps: list[Step]) -> float | None:
    """Mean Q of the chosen actions over the steps whose chosen candidate has a Q (None when none has)."""
    qs = [
        s.candidates[s.chosen_index].q
        for s in steps
        if s.candidates and s.chosen_index < len(s.candidates) and s.candidates[s.chosen_index].q is not None
    ]
    return sum(qs) / len(qs) if qs else None


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
        """See `is_preferred`; a crashed run never is."""
        return is_preferred(self.submitted, not self.patch.strip()) and self.error is None

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


def scores_runs(critic: Critic | None) -> bool:
    """Whether the critic scores a finished run itself (`score_run(messages, patch)`: the LLM judge's
    selection prompt, which reads the patch), rather than by the Q of its last turn."""
    return callable(getattr(critic, "score_run", None))


def final_q(
    messages: list[Message], recorded: float | None, critic: Critic | None, patch: str = ""
) -> float | None:
    """The paper's selection value: Q of the final (submit) action.

    Reuses the Q lookahead recorded for the chosen submit when there is one; otherwise scores
    the final assistant turn after the history that preceded it (one critic call). A critic that
    scores runs itself (`scores_runs`: the judge) always scores the run with its patch.
    """
    if recorded is not None and not scores_runs(critic):
        return recorded
    return None if critic is None else final_turn_q(messages, critic, patch)


def final_turn_q(messages: list[Message], critic: Critic, patch: str = "") -> float | None:
    """Q of the run's last assistant turn (critic.protocol.score_run); None when there is none."""
    try:
        return score_run(critic, messages, patch)
    except ValueError:  # no assistant turn: nothing to score
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
    best = max(live, key=lambda o: (o.preferred, scores[o.index], -o.index))  # rank_key, or a draw
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
    return {o.index: rule_score(o, rule) for o in outcomes}


def _describe(e: BaseException) -> str:
    last = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
    return f"{type(e).__name__}: {e}{where}"
