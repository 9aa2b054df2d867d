"""solve(): the real agent loop over the synthetic env (no Docker), saved runs and selection.json."""

from __future__ import annotations

import json

import pytest
from synthetic import (
    Arm,
    BilledCritic,
    OracleCritic,
    SyntheticEnv,
    SyntheticPolicy,
    SyntheticTask,
    TableCritic,
    reply,
)

from agent.config import AgentConfig
from agent.policies import ScriptedPolicy
from agent.trajectory import ExitStatus, Trajectory
from agent.types import Usage
from search.budget import Budget
from search.config import BudgetConfig, SearchConfig
from search.solve import MissingCritic, solve

TASK = SyntheticTask(arms=(Arm("good", 0.4, 0.95), Arm("bad", 0.6, 0.3)), depth=2)
AGENT = AgentConfig(install_tools=False, cost_limit=None)


def envs(seed: str = "solve"):
    return lambda task, i: SyntheticEnv(TASK, f"{seed}:{i}")


def run(tmp_path, strategy, critic=None, policy=None, make_env=None, budget=None, **kw):
    config = SearchConfig(**{"strategy": strategy, "k": 3, "n": 3, "concurrency": 2, **kw})
    policy = policy or SyntheticPolicy(TASK, seed=1)
    env_task = SyntheticEnv(TASK).task
    return solve(env_task, config, make_env or envs(), policy, critic, AGENT, tmp_path, budget=budget)


def test_greedy_runs_once_into_out_dir_trajectory_json(tmp_path):
    result = run(tmp_path, "greedy")
    assert result.chosen == 0 and result.patch.startswith("--- a/log")
    traj = Trajectory.load(tmp_path / "trajectory.json")
    assert traj.exit_status == ExitStatus.submitted and len(traj.steps) == 3
    assert traj.config["search"]["strategy"] == "greedy" and traj.config["strategy"]["strategy"] == "greedy"
    assert json.loads((tmp_path / "selection.json").read_text())["chosen"] == 0


def test_lookahead_select_saves_every_run_with_candidates_and_q(tmp_path):
    critic = OracleCritic(TASK)
    result = run(tmp_path, "lookahead+select", critic)
    selection = json.loads((tmp_path / "selection.json").read_text())
    assert selection["rule"] == "final_q" and len(selection["runs"]) == 3
    for i in range(3):
        traj = Trajectory.load(tmp_path / f"run-{i}" / "trajectory.json")
        assert traj.exit_status == ExitStatus.submitted
        assert traj.final_q == selection["runs"][i]["final_q"] == result.runs[i].final_q
        scored = [s for s in traj.steps if s.critic_calls]
        assert scored and all(c.q is not None for s in scored for c in s.candidates)
        assert all(sum(c.count for c in s.candidates) == 3 for s in traj.steps)
    resolved = [r.trajectory.final_q == 1.0 for r in result.runs]
    assert any(resolved) and resolved[result.chosen]


def test_final_q_reuses_the_q_lookahead_recorded_for_submit(tmp_path):
    critic = TableCritic({"good": 0.3, "bad": 0.6, "submit": 0.9})
    policy = ScriptedPolicy([[reply("good"), reply("bad")], [reply("submit"), reply("good")]])
    result = run(tmp_path, "lookahead", critic, policy)
    traj = result.trajectory
    assert [s.action for s in traj.steps] == ["bad", "submit"]
    assert traj.final_q == 0.9 and critic.calls == 2  # no extra call to score the final turn


def test_final_q_scores_the_submit_turn_when_lookahead_skipped_the_critic(tmp_path):
    critic = BilledCritic({"good": 0.3, "bad": 0.6, "submit": 0.8})
    policy = ScriptedPolicy([[reply("good"), reply("bad")], reply("submit")])
    result = run(tmp_path, "lookahead", critic, policy)
    assert result.trajectory.steps[-1].candidates[0].q is None
    assert result.trajectory.final_q == 0.8 and critic.requests[-1] == [reply("submit")]
    saved = Trajectory.load(tmp_path / "trajectory.json")  # the final scoring's usage is the run's too
    assert [s.critic_usage for s in saved.steps] == [Usage(100, 2, 0.002), Usage()]
    assert saved.stats.critic_calls == 2 and saved.stats.critic_usage == Usage(150, 3, 0.004)


def test_a_crashing_run_is_recorded_and_the_others_finish(tmp_path):
    def make_env(task, i):
        if i == 1:
            raise OSError("no container for you")
        return SyntheticEnv(TASK, f"crash:{i}")

    result = run(tmp_path, "select", OracleCritic(TASK), make_env=make_env)
    assert result.runs[1].error.startswith("OSError: no container for you")
    assert result.chosen in (0, 2)
    assert not (tmp_path / "run-1" / "trajectory.json").exists()
    assert json.loads((tmp_path / "selection.json").read_text())["runs"][1]["status"] == "error"


def test_budget_stops_the_runs_cleanly_and_the_finished_one_is_chosen(tmp_path):
    # lookahead K=3 x 3 turns x 15 tokens = 135 tokens per run; 150 lets run 0 finish, then stops run 1
    budget = Budget(BudgetConfig(policy_tokens=150))
    result = run(tmp_path, "lookahead+select", OracleCritic(TASK), budget=budget, concurrency=1)
    statuses = [r.status for r in result.runs]
    assert statuses == ["submitted", "budget_exhausted", "budget_exhausted"]
    stopped = Trajectory.load(tmp_path / "run-1" / "trajectory.json")
    assert (
        stopped.exit_status == ExitStatus.budget_exhausted
        and "search budget exhausted" in stopped.exit_message
    )
    assert not (tmp_path / "run-2").exists()
    assert result.chosen == 0 and result.patch


def test_strategies_that_need_a_critic_refuse_to_run_without_one(tmp_path):
    with pytest.raises(MissingCritic):
        run(tmp_path, "select")
    result = run(tmp_path, "lookahead")
    assert result.chosen is None and "MissingCritic" in result.runs[0].error


class SessionCritic(OracleCritic):
    """An OracleCritic whose `with_session` hands out per-run views, like HTTPCritic and LocalCritic."""

    def __init__(self, task, opened=None, closed=None, session=None):
        super().__init__(task)
        self.opened = [] if opened is None else opened
        self.closed = [] if closed is None else closed
        self.session = session

    def with_session(self, session=None):
        self.opened.append(session)
        return SessionCritic(self.task, self.opened, self.closed, session)

    def close(self):
        self.closed.append(self.session)


def test_each_run_scores_in_its_own_critic_session(tmp_path):
    critic = SessionCritic(TASK)
    run(tmp_path, "lookahead+select", critic)
    assert len(set(critic.opened)) == 3 and all(s.startswith("synthetic-run-") for s in critic.opened)
    assert sorted(critic.closed) == sorted(critic.opened)
