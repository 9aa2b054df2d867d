"""1-step lookahead: sample K actions, score them with the critic, run the argmax. Never roll back."""

from __future__ import annotations

import time
from typing import Any

from agent.types import Candidate, Choice, Message, Policy, Usage
from critic.protocol import Critic, CriticCall, describe_critic, last_call
from search.budget import Budget
from search.candidates import StepCandidates, unique_candidates
from search.config import MissingCritic, SearchConfig, TieBreak
from search.select import q_score


class CriticError(RuntimeError):
    """The critic answered with the wrong number of values; check the critic server and its version."""


class NoCandidates(RuntimeError):
    """The policy returned no completions for a step."""


class LookaheadChooser:
    """A StepChooser: K candidates from one policy call, one batched critic call, argmax Q.

    With K=1 and no critic it is search's greedy chooser (`greedy_chooser`): one sample per step,
    charged to the budget like every other sample.

    - Candidates that fail to parse are never chosen while a valid one exists; if none is
      valid the first is returned as a format-error choice (the loop sends its corrective message).
    - Duplicates (after normalising whitespace) are merged and scored once (`Candidate.count`).
    - With one unique valid candidate the critic is skipped (its Q stays None).
    - Ties on Q: `tie_break="first"` takes the first sampled, so an uninformative (constant)
      critic makes the same choices as greedy; `"count"` prefers the most sampled first.
    """

    def __init__(
        self,
        critic: Critic | None,
        k: int = 4,
        temperature: float | None = 0.9,
        budget: Budget | None = None,
        tie_break: TieBreak = "first",
    ) -> None:
        if critic is None and k > 1:
            raise MissingCritic("lookahead with k > 1 needs a critic")
        self.critic = critic
        self.k = k
        self.temperature = temperature
        self.budget = budget
        self.tie_break = tie_break

    def describe(self) -> dict[str, Any]:
        """What goes into the trajectory's config as the strategy."""
        return {
            "strategy": "lookahead" if self.k > 1 else "greedy",
            "k": self.k,
            "temperature": self.temperature,
            "tie_break": self.tie_break,
            "critic": describe_critic(self.critic),
        }

    def choose(self, history: list[Message], policy: Policy) -> Choice:
        start = time.monotonic()
        if self.budget:
            self.budget.check()
        completions = policy.sample(history, n=self.k, temperature=self.temperature)
        if not completions:
            raise NoCandidates(f"policy returned no completions (asked for {self.k})")
        step = unique_candidates(completions)
        if self.budget:
            self.budget.charge(step.usage)
        call = self._score(history, step)
        chosen = self._argmax(step)
        candidate = step.candidates[chosen]
        return Choice(
            completion=step.completions[chosen],
            action=candidate.action,
            candidates=step.candidates,
            chosen_index=chosen,
            error=candidate.error,
            critic_calls=0 if call is None else 1,
            critic_usage=call.usage if call else Usage(),
            critic_undecided=call.undecided if call else 0,
            latency=time.monotonic() - start,
            usage=step.usage,
        )

    def _score(self, history: list[Message], step: StepCandidates) -> CriticCall | None:
        """Fill in Q for the valid candidates with one critic call; None when no call was needed.

        A critic that reports what the call consumed (an LLM judge; our critic server) says so in a
        critic.protocol.CriticCall: it is charged to the budget and recorded apart from the policy's."""
        valid = step.valid
        if len(valid) < 2:
            return None
        assert self.critic is not None
        if self.budget:
            self.budget.check()
        values = self.critic.score(history, [step.candidates[i].text for i in valid])
        call = last_call(self.critic) or CriticCall()
        if self.budget:
            self.budget.charge(critic_calls=1, critic_usage=call.usage)
        if len(values) != len(valid):
            raise CriticError(f"critic returned {len(values)} values for {len(valid)} candidates")
        tokens = call.prompt_tokens if len(call.prompt_tokens) == len(valid) else [None] * len(valid)
        for i, q, n in zip(valid, values, tokens, strict=True):
            step.candidates[i].q = float(q)
            step.candidates[i].critic_tokens = n
        return call

    def _argmax(self, step: StepCandidates) -> int:
        """Index of the chosen candidate (0, a format error, when none is valid)."""
        valid = step.valid
        if not valid:
            return 0
        return max(valid, key=lambda i: self._rank(step.candidates[i], i))

    def _rank(self, c: Candidate, index: int) -> tuple[float, ...]:
        q = q_score(c.q)
        if self.tie_break == "count":
            return (q, c.count, -index)
        return (q, -index)


def greedy_chooser(temperature: float | None = None, budget: Budget | None = None) -> LookaheadChooser:
    """Greedy inside a search: one sample per step, no critic, charged to the shared `budget` (so greedy
    runs under `select` share the per-instance budget with their siblings). Without a budget,
    agent.loop.GreedyChooser does the same."""
    return LookaheadChooser(critic=None, k=1, temperature=temperature, budget=budget)


def greedy_step(
    config: SearchConfig, critic: Critic | None, budget: Budget | None = None
) -> LookaheadChooser:
    """CHOOSERS["greedy"]: a single greedy run samples at `greedy_temperature`; greedy runs under
    select at `temperature`, since N identical runs would leave nothing to select."""
    temperature = config.temperature if config.uses_select else config.greedy_temperature
    return greedy_chooser(temperature, budget)


def lookahead_step(
    config: SearchConfig, critic: Critic | None, budget: Budget | None = None
) -> LookaheadChooser:
    """CHOOSERS["lookahead"]: K candidates at `temperature`, scored by the critic (required)."""
    config.check_critic(critic)
    return LookaheadChooser(critic, config.k, config.temperature, budget, config.tie_break)
