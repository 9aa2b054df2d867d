"""The agent loop: reset, then step until a typed stop (the paper's Algorithm 1).

Each step asks a StepChooser for the next action (greedy samples one; search's lookahead samples K
and asks the critic), runs it in the container, and records the step. Every way a run ends is an
AgentStop subclass carrying its ExitStatus; the trajectory is saved atomically after every step.
"""

from __future__ import annotations

import math
import shlex
import time
from pathlib import Path
from typing import Any

from agent import deadline, scaffold
from agent.config import AgentConfig
from agent.policies import ContextOverflowError, PolicyError
from agent.stops import (
    AgentStop,
    ContextExhausted,
    CostLimitReached,
    DiskLimitReached,
    EnvFailed,
    PolicyFailed,
    StepLimitReached,
    Submitted,
    TimeLimitReached,
    TooManyFormatErrors,
)
from agent.trajectory import ExitStatus, Trajectory
from agent.types import Choice, Message, Policy, StepChooser
from envs.types import DiskLimitExceeded, Env

__all__ = ["Agent", "AgentConfig", "AgentStop", "ExitStatus", "GreedyChooser", "Trajectory"]


class GreedyChooser:
    """The default StepChooser: sample one reply and act on it."""

    def __init__(self, temperature: float | None = None) -> None:
        self.temperature = temperature

    def describe(self) -> dict[str, Any]:
        return {"strategy": "greedy", "temperature": self.temperature}

    def choose(self, history: list[Message], policy: Policy) -> Choice:
        start = time.monotonic()
        completion = policy.sample(history, n=1, temperature=self.temperature)[0]
        candidate = scaffold.to_candidate(completion.text)
        return Choice(
            completion=completion,
            action=candidate.action,
            candidates=[candidate],
            error=candidate.error,
            latency=time.monotonic() - start,
            usage=completion.usage,
        )


class Agent:
    """One policy acting in one task container until it submits or a limit stops it."""

    def __init__(
        self,
        env: Env,
        policy: Policy,
        chooser: StepChooser | None = None,
        config: AgentConfig | None = None,
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.env, self.policy = env, policy
        self.config = config or AgentConfig()
        # no chooser: greedy at 0, the default of a single greedy run (search.config.SearchConfig)
        self.chooser = chooser or GreedyChooser(temperature=0.0)
        self.run_id = run_id or getattr(env, "run_id", None) or "adhoc"
        self.metadata = metadata or {}
        self.format_errors = 0
        self._started = 0.0
        self._measured: tuple[int, int] | None = None  # (prompt tokens, history chars) at the last call

    def run(self, traj_path: Path | str | None = None) -> Trajectory:
        """Run the episode; the trajectory is saved to `traj_path` after every step."""
        self.traj_path = Path(traj_path) if traj_path else None
        task = self.env.task
        traj = Trajectory(instance_id=task.instance_id, run_id=self.run_id, config=self._describe())
        self._started, self._measured, self.format_errors = time.monotonic(), None, 0
        try:
            self._setup(traj)
            while True:
                self._check_limits(traj)
                self.step(traj)
                self._save(traj)
        except AgentStop as stop:
            patch = stop.patch if stop.patch is not None else self._diff_or_empty()
            traj.finish(stop.status, stop.message or None, patch)
        finally:  # also on an unexpected error, keep what we have
            self._save(traj)
        return traj

    def step(self, traj: Trajectory) -> None:
        """Choose an action, run it, record it; raise an AgentStop when the run is over."""
        choice = self._choose(traj.messages)
        reply: Message = {"role": "assistant", "content": choice.completion.text}
        if choice.action is None:  # a format error: tell the model, count, maybe stop
            message = scaffold.format_error_message(self.config, choice.error or "unparsable reply")
            traj.messages += [reply, message]
            traj.record(choice, message["content"], None, False)
            self.format_errors += 1
            if self.format_errors >= self.config.max_format_errors:
                raise TooManyFormatErrors(f"{self.format_errors} replies in a row without one command block")
            return
        self.format_errors = 0
        if choice.action.is_submit:
            patch = self._env_call(self.env.diff)
            traj.messages.append(reply)
            traj.record(choice, scaffold.truncate(patch, self.config.observation_chars), 0, False)
            raise Submitted("the agent submitted", patch=patch)
        timeout = self._command_timeout()
        try:
            obs = self._env_call(self.env.execute, choice.action.command, timeout=timeout)
            state = self._env_call(scaffold.read_state, self.env, self.env.task.workdir)
        except (EnvFailed, DiskLimitReached) as failure:  # keep the action that was in flight
            traj.messages.append(reply)
            traj.record(choice, str(failure), None, False)
            raise
        message = scaffold.observation_message(self.config, obs, state, timeout)
        traj.messages += [reply, message]
        traj.record(
            choice,
            message["content"],
            obs.exit_code,
            obs.timed_out,
            duration=obs.duration,
            cwd=state.cwd,
            current_file=state.current_file,
        )

    # ------------------------------------------------------------ helpers

    def _setup(self, traj: Trajectory) -> None:
        task = self.env.task
        traj.messages = scaffold.initial_messages(
            self.config, task.problem_statement, task.workdir, task.instance_id
        )
        if self.config.install_tools:
            try:
                scaffold.install_tools(self.env, self.config.window)
                self.env.execute(f"cd {shlex.quote(task.workdir)}", timeout=30)
            except Exception as exc:  # noqa: BLE001 - the env boundary: any failure is recorded as env_error
                raise EnvFailed(f"could not set up the tools in the container: {exc}") from exc

    def _choose(self, history: list[Message]) -> Choice:
        chars = sum(len(m["content"]) for m in history)
        try:
            # model and critic calls end by the run's wall time (agent.deadline), even a hung one
            with deadline.within(self._started + self.config.wall_time):
                choice = self.chooser.choose(history, self.policy)
        except deadline.DeadlineExceeded as exc:
            raise TimeLimitReached(
                f"the {self.config.wall_time:g} s limit ran out during a call: {exc}"
            ) from exc
        except ContextOverflowError as exc:
            raise ContextExhausted(str(exc)) from exc
        except PolicyError as exc:
            raise PolicyFailed(f"{type(exc).__name__}: {exc}") from exc
        # the request's prompt, on whichever sample was chosen (a policy of your own may set only usage)
        measured = choice.completion.prompt_tokens or choice.completion.usage.prompt_tokens
        if measured:
            self._measured = (measured, chars)
        return choice

    def _check_limits(self, traj: Trajectory) -> None:
        c, stats = self.config, traj.stats
        if stats.steps >= c.step_limit:
            raise StepLimitReached(f"reached the step limit of {c.step_limit}")
        if c.cost_limit and traj.cost >= c.cost_limit:  # the policy's and a judge's calls
            raise CostLimitReached(f"spent ${traj.cost:.4f} of the ${c.cost_limit:g} limit")
        if self._elapsed() >= c.wall_time:
            raise TimeLimitReached(f"ran for {self._elapsed():.0f} s of the {c.wall_time:g} s limit")
        tokens = self._estimate_prompt_tokens(traj.messages)
        if tokens >= c.context_tokens:
            raise ContextExhausted(
                f"the next prompt has about {tokens} tokens; the budget is {c.context_tokens}"
            )

    def _estimate_prompt_tokens(self, messages: list[Message]) -> int:
        """The last measured prompt size plus about 4 characters per token for what came since."""
        chars = sum(len(m["content"]) for m in messages)
        tokens, measured_chars = self._measured or (0, 0)
        return tokens + math.ceil((chars - measured_chars) / 4)

    def _command_timeout(self) -> float:
        left = self.config.wall_time - self._elapsed()
        return max(1.0, min(self.config.command_timeout, left))

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _env_call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DiskLimitExceeded as exc:  # the model's own doing, not the environment failing
            raise DiskLimitReached(str(exc), patch="") from exc
        except Exception as exc:  # noqa: BLE001 - the env boundary: any failure is recorded as env_error
            raise EnvFailed(f"the environment failed: {type(exc).__name__}: {exc}") from exc

    def _diff_or_empty(self) -> str:
        try:
            return self.env.diff()
        except Exception:  # noqa: BLE001 - best effort: a dead container has no diff
            return ""

    def _describe(self) -> dict[str, Any]:
        def describe(obj: Any) -> dict[str, Any]:
            return obj.describe() if hasattr(obj, "describe") else {"class": type(obj).__name__}

        return {
            "agent": self.config.model_dump(mode="json"),
            "policy": describe(self.policy),
            "strategy": describe(self.chooser),
            **self.metadata,
        }

    def _save(self, traj: Trajectory) -> None:
        if hasattr(self.chooser, "describe"):  # what it learns while running (a judge's fallback) too
            traj.config["strategy"] = self.chooser.describe()
        if self.traj_path is not None:
            traj.save(self.traj_path)
