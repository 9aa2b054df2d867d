"""The per-instance budget: shared, thread-safe, and a clean stop that still yields a choice."""

from __future__ import annotations

import threading

import pytest
from synthetic import Arm, OracleCritic, SyntheticEnv, SyntheticPolicy, SyntheticTask, run_episode

from agent.types import Usage
from search.budget import Budget, BudgetExhausted
from search.config import BudgetConfig
from search.lookahead import LookaheadChooser
from search.select import select

TASK = SyntheticTask(arms=(Arm("a", 0.5, 0.9), Arm("b", 0.5, 0.5)), depth=3)
TOKENS_PER_SAMPLE = 15  # SyntheticPolicy: 10 prompt + 5 completion tokens


def test_charges_from_many_threads_add_up():
    budget = Budget()

    def work():
        for _ in range(1000):
            budget.charge(Usage(prompt_tokens=1, cost=0.001), critic_calls=1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = budget.spent()
    assert (
        spent.usage.tokens == 8000 and spent.critic_calls == 8000 and spent.usage.cost == pytest.approx(8.0)
    )


@pytest.mark.parametrize(
    ("limits", "charge"),
    [
        (BudgetConfig(policy_tokens=100), {"usage": Usage(prompt_tokens=100)}),
        (BudgetConfig(cost=1.0), {"usage": Usage(cost=1.0)}),
        (BudgetConfig(critic_calls=3), {"critic_calls": 3}),
    ],
)
def test_check_raises_once_a_limit_is_reached(limits, charge):
    budget = Budget(limits)
    budget.check()
    budget.charge(**charge)
    with pytest.raises(BudgetExhausted, match="budget exhausted"):
        budget.check()


def test_wall_time_limit_uses_the_clock():
    now = [0.0]
    budget = Budget(BudgetConfig(wall_time=10), clock=lambda: now[0])
    budget.check()
    now[0] = 10.0
    with pytest.raises(BudgetExhausted, match="wall time"):
        budget.check()


def test_exhausted_budget_stops_the_runs_and_still_returns_a_choice():
    """Lookahead K=4 over N=5 runs: each run costs 4 turns x 4 samples x 15 tokens = 240 tokens.

    A budget of 600 tokens lets runs 0 and 1 finish; run 2 is stopped mid-way; 3 and 4 stop at once.
    """
    k, n = 4, 5
    critic = OracleCritic(TASK)
    budget = Budget(BudgetConfig(policy_tokens=600))

    def run_once(i):
        chooser = LookaheadChooser(critic, k=k, budget=budget)
        seed = f"budget:{i}"
        return run_episode(SyntheticEnv(TASK, seed), SyntheticPolicy(TASK, seed), chooser, critic)

    sel = select(run_once, n=n, rule="final_q", concurrency=1)
    assert [r.status for r in sel.runs] == ["submitted"] * 2 + ["budget_exhausted"] * 3
    assert len(sel.runs[2].trajectory.actions) == 2  # stopped cleanly after two steps
    assert sel.runs[3].trajectory.actions == [] and sel.runs[4].trajectory.actions == []
    assert sel.chosen in (0, 1) and sel.patch
    assert budget.spent().usage.tokens == 600


def test_exhausted_budget_stops_parallel_runs_too():
    critic = OracleCritic(TASK)
    budget = Budget(BudgetConfig(critic_calls=5))

    def run_once(i):
        chooser = LookaheadChooser(critic, k=4, budget=budget)
        return run_episode(SyntheticEnv(TASK, i), SyntheticPolicy(TASK, i), chooser, critic)

    sel = select(run_once, n=6, concurrency=3)
    assert any(r.status == "budget_exhausted" for r in sel.runs)
    # check-then-spend is not one atomic step: each of the other concurrent runs may overshoot by one call
    assert 5 <= budget.spent().critic_calls <= 5 + 2
