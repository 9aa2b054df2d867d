"""Solve one task with a search strategy: greedy or lookahead once, or select over N runs.

Layout of `out_dir`:
- single runs (greedy, lookahead): `out_dir/trajectory.json`
- select, lookahead+select: `out_dir/run-<i>/trajectory.json` for i in 0..N-1
- always: `out_dir/selection.json` (rule, per-run status/patch_empty/final_q/mean_q/error, chosen, reason)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.config import AgentConfig
from agent.loop import Agent
from agent.registry import lookup
from agent.trajectory import ExitStatus, Trajectory
from agent.types import Policy, StepChooser
from critic.protocol import Critic, describe_critic, last_call
from envs.types import Env, Task
from search.budget import Budget, BudgetExhausted
from search.config import CHOOSERS, MissingCritic, SearchConfig
from search.select import RunOutcome, Selection, choose, final_q, mean_q, run_all, scores_runs

__all__ = ["MissingCritic", "SolveResult", "make_chooser", "solve", "trajectory_path"]

MakeEnv = Callable[[Task, int], Env]
"""(task, run index) -> a fresh container for that run."""


@dataclass
class SolveResult:
    """Every run (a trajectory or an error) and the one chosen."""

    runs: list[RunOutcome]
    selection: Selection

    @property
    def chosen(self) -> int | None:
        return self.selection.chosen

    @property
    def patch(self) -> str:
        return self.selection.patch

    @property
    def trajectories(self) -> list[Trajectory | None]:
        return [r.trajectory for r in self.runs]

    @property
    def trajectory(self) -> Trajectory | None:
        """The chosen run's trajectory."""
        return None if self.chosen is None else self.runs[self.chosen].trajectory


def make_chooser(config: SearchConfig, critic: Critic | None, budget: Budget | None = None) -> StepChooser:
    """The StepChooser for one run: the factory that search.config.CHOOSERS names for the strategy's
    step (greedy, lookahead), or the step's own import path."""
    return lookup(config.step, CHOOSERS, "strategy")(config, critic, budget)


def session_critic(critic: Critic | None, session: str) -> Critic | None:
    """A per-run view of the critic with its own session (the server keeps that run's KV cache),
    when the client supports sessions (`with_session`); otherwise the critic itself."""
    with_session = getattr(critic, "with_session", None)
    return with_session(session) if callable(with_session) else critic


def trajectory_path(out_dir: Path, index: int, config: SearchConfig) -> Path:
    return out_dir / f"run-{index}" / "trajectory.json" if config.uses_select else out_dir / "trajectory.json"


def solve(
    task: Task,
    config: SearchConfig,
    make_env: MakeEnv,
    policy: Policy,
    critic: Critic | None,
    agent_config: AgentConfig,
    out_dir: Path | str,
    budget: Budget | None = None,
) -> SolveResult:
    """Run the strategy on `task`, save every trajectory and selection.json, return the choice.

    A run that crashes is recorded (RunOutcome.error) and does not stop the others. When the
    budget runs out, running runs stop at their next step, unstarted runs are skipped, and
    the best finished run is chosen.
    """
    if config.uses_select:  # before any container starts; a lookahead run's chooser checks its own
        config.check_critic(critic)
    out_dir = Path(out_dir)
    budget = budget or Budget(config.budget)
    search = config.model_dump(mode="json")

    def run_once(i: int) -> RunOutcome:
        try:
            budget.check()
        except BudgetExhausted as stop:  # never started: nothing to record but the reason
            return RunOutcome(index=i, status=ExitStatus.budget_exhausted.value, error=str(stop))
        run_critic = session_critic(critic, f"{task.instance_id}-run-{i}-{uuid.uuid4().hex[:8]}")
        try:
            chooser = make_chooser(config, run_critic, budget)
            path = trajectory_path(out_dir, i, config)
            env = make_env(task, i)
            try:
                agent = Agent(env, policy, chooser, agent_config, metadata={"search": search, "run_index": i})
                traj = agent.run(path)
            finally:
                env.close()
            outcome = outcome_of(i, traj, run_critic, budget)
        finally:
            if run_critic is not critic and hasattr(run_critic, "close"):
                run_critic.close()
        traj.final_q = outcome.final_q
        traj.config["strategy"] = {**traj.config.get("strategy", {}), "critic": describe_critic(run_critic)}
        traj.save(path)
        return outcome

    runs = run_all(run_once, config.runs, config.concurrency)
    selection = choose(runs, config.rule, config.seed)
    selection.save(out_dir / "selection.json")
    return SolveResult(runs=runs, selection=selection)


def outcome_of(
    index: int, traj: Trajectory, critic: Critic | None, budget: Budget | None = None
) -> RunOutcome:
    """Summarise a finished trajectory for selection (scores its final turn if lookahead did not)."""
    submitted = traj.exit_status == ExitStatus.submitted
    recorded = None
    if submitted and traj.steps and traj.steps[-1].candidates:
        last = traj.steps[-1]
        recorded = last.candidates[last.chosen_index].q
    q = final_q(traj.messages, recorded, critic, traj.patch)
    if q is not None and (recorded is None or scores_runs(critic)):  # a critic call was made
        call = last_call(critic)
        if budget:
            budget.charge(critic_calls=1, critic_usage=call.usage if call else None)
        traj.stats.critic_calls += 1  # the run's own scoring, outside its steps
        if call is not None:  # what it reported (a judge's cost and prompt size) goes into the record
            traj.stats.critic_usage += call.usage
            traj.stats.critic_undecided += call.undecided
            traj.final_q_tokens = call.prompt_tokens[0] if call.prompt_tokens else None
    status = traj.exit_status.value if traj.exit_status else "unknown"
    return RunOutcome(
        index=index,
        status=status,
        submitted=submitted,
        patch=traj.patch,
        final_q=q,
        mean_q=mean_q(traj.steps),
        error=None,
        trajectory=traj,
    )
