"""Seeded statistical checks of the method on the synthetic task family (no Docker, no LLM).

Bound used throughout: for E independent episodes with success probability p, the observed
rate lies within 4 * sqrt(p (1 - p) / E) of p except with probability < 1e-4 (4-sigma binomial;
Hoeffding's 2 exp(-2 E t^2) gives the same order at E = 4000, t = 0.05). Runs are seeded, so
each test is deterministic; the bound is what makes a pass meaningful. The gaps we test
(Pass@N vs Pass@1, lookahead vs greedy) are many times that width.
"""

from __future__ import annotations

import math

from synthetic import (
    Arm,
    ConstantCritic,
    OracleCritic,
    RandomCritic,
    SyntheticEnv,
    SyntheticPolicy,
    SyntheticTask,
    pass_at,
    run_episode,
)

from agent.loop import GreedyChooser
from search.lookahead import LookaheadChooser
from search.select import select

TASK = SyntheticTask(
    arms=(Arm("good", 0.25, 0.95), Arm("mid", 0.35, 0.7), Arm("bad", 0.3, 0.2)), depth=3, p_format_error=0.1
)
CLEAN = SyntheticTask(arms=(Arm("good", 0.3, 0.9), Arm("mid", 0.4, 0.6), Arm("bad", 0.3, 0.2)), depth=3)


def bound(p: float, episodes: int) -> float:
    return 4 * math.sqrt(p * (1 - p) / episodes)


def assert_rate(observed: float, predicted: float, episodes: int) -> None:
    width = bound(predicted, episodes)
    assert abs(observed - predicted) <= width, f"{observed:.3f} vs predicted {predicted:.3f} +- {width:.3f}"


def greedy_run(task: SyntheticTask, seed: str, temperature: float | None = None, critic=None):
    chooser = GreedyChooser(temperature=temperature)
    return run_episode(SyntheticEnv(task, seed), SyntheticPolicy(task, seed), chooser, critic)


def lookahead_run(task: SyntheticTask, seed: str, critic, k: int = 4):
    chooser = LookaheadChooser(critic, k=k, temperature=0.9)
    return run_episode(SyntheticEnv(task, seed), SyntheticPolicy(task, seed), chooser, critic)


def select_episodes(critic, episodes: int, n: int, tag: str) -> tuple[float, float]:
    """(rate of the selected run, mean single-run rate) over seeded episodes of N greedy runs."""
    chosen = singles = 0
    for e in range(episodes):
        sel = select(lambda i, e=e: greedy_run(TASK, f"{tag}{e}:{i}", 0.9, critic), n=n, rule="final_q")
        chosen += sel.runs[sel.chosen].trajectory.resolved
        singles += sum(r.trajectory.resolved for r in sel.runs)
    return chosen / episodes, singles / (episodes * n)


def test_fixture_greedy_matches_its_analytical_pass_at_1():
    episodes = 3000
    rate = sum(greedy_run(TASK, f"g{e}").trajectory.resolved for e in range(episodes)) / episodes
    assert_rate(rate, TASK.greedy_rate(), episodes)


def test_select_with_oracle_critic_reaches_pass_at_n():
    n, episodes = 5, 1000
    chosen, single = select_episodes(OracleCritic(TASK), episodes, n, "o")
    p1, predicted = TASK.greedy_rate(), pass_at(n, TASK.greedy_rate())
    assert predicted - p1 > 8 * bound(predicted, episodes)  # 0.219 -> 0.709: the gap is meaningful
    assert_rate(single, p1, episodes * n)
    assert_rate(chosen, predicted, episodes)


def test_select_with_random_critic_matches_the_mean_single_run_pass_at_1():
    n, episodes = 5, 1000
    chosen, single = select_episodes(RandomCritic(seed=7), episodes, n, "r")
    p1 = TASK.greedy_rate()
    assert_rate(single, p1, episodes * n)
    assert_rate(chosen, p1, episodes)
    assert abs(chosen - single) <= bound(p1, episodes) + bound(p1, episodes * n)


def test_lookahead_with_oracle_critic_beats_greedy_by_the_predicted_margin():
    episodes, k = 3000, 4
    critic = OracleCritic(TASK)
    greedy = sum(greedy_run(TASK, f"l{e}").trajectory.resolved for e in range(episodes)) / episodes
    look = (
        sum(lookahead_run(TASK, f"l{e}", critic, k).trajectory.resolved for e in range(episodes)) / episodes
    )
    predicted_greedy, predicted_look = TASK.greedy_rate(), TASK.oracle_lookahead_rate(k)
    assert predicted_look - predicted_greedy > 0.4  # 0.219 -> 0.632 for this fixture
    assert_rate(greedy, predicted_greedy, episodes)
    assert_rate(look, predicted_look, episodes)
    margin_width = bound(predicted_greedy, episodes) + bound(predicted_look, episodes)
    assert abs((look - greedy) - (predicted_look - predicted_greedy)) <= margin_width


def test_lookahead_with_constant_critic_takes_the_same_actions_as_greedy():
    """Without format errors, same seed => identical actions and outcomes (ties go to sample 0)."""
    critic = ConstantCritic()
    for e in range(300):
        g = greedy_run(CLEAN, f"c{e}", 0.9).trajectory
        la = lookahead_run(CLEAN, f"c{e}", critic).trajectory
        assert la.actions == g.actions and la.resolved == g.resolved
    assert critic.calls > 0  # the critic was consulted, and its indifference changed nothing


def test_lookahead_with_constant_critic_has_the_greedy_rate_despite_format_errors():
    """With format errors lookahead skips the malformed samples, so actions differ; the rate does not."""
    episodes = 3000
    critic = ConstantCritic()
    rate = sum(lookahead_run(TASK, f"f{e}", critic).trajectory.resolved for e in range(episodes)) / episodes
    assert_rate(rate, TASK.greedy_rate(), episodes)
