"""The agent loop in a real container: each exit status is reached by a scenario that causes it."""

from __future__ import annotations

import pytest

from agent.config import AgentConfig
from agent.loop import Agent, ExitStatus, GreedyChooser
from agent.policies import ContextOverflowError, PolicyUnavailableError, ScriptedPolicy
from agent.trajectory import Trajectory
from agent.types import Choice, Completion, Usage
from envs.docker import DockerEnv
from tests.agent.support import base_task, reply

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loop_env():
    with DockerEnv(base_task("agent-loop"), run_id="test-agent") as env:
        yield env


def run(env, replies, traj_path=None, **config) -> Trajectory:
    policy = replies if isinstance(replies, ScriptedPolicy) else ScriptedPolicy(replies)
    return Agent(env, policy, config=AgentConfig(**config)).run(traj_path)


def test_step_limit_records_the_diff_so_far(base_env, tmp_path):
    commit = "git -c user.name=a -c user.email=a@b commit -q --allow-empty -m base"
    replies = [reply(f"git init -q && {commit}"), reply("echo hello > new.txt"), reply("ls")]
    traj = run(base_env, replies, tmp_path / "t.json", step_limit=3)
    assert traj.exit_status is ExitStatus.step_limit and len(traj.steps) == 3
    assert "+hello" in traj.patch and "new.txt" in traj.patch
    assert Trajectory.load(tmp_path / "t.json").patch == traj.patch


def test_steps_record_observation_state_and_history(loop_env):
    traj = run(loop_env, [reply("cd /tmp && echo hi && false"), reply("echo again")], step_limit=2)
    first = traj.steps[0]
    assert first.action == "cd /tmp && echo hi && false" and first.thought == "Next step."
    assert first.exit_code == 1 and first.cwd == "/tmp" and "hi" in first.observation
    assert first.observation.endswith("(Current directory: /tmp, current file: n/a) bash-$")
    roles = [m["role"] for m in traj.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert traj.messages[3]["content"] == first.observation
    assert first.candidates[0].command == first.action and first.chosen_index == 0
    assert traj.config["strategy"]["strategy"] == "greedy" and traj.config["policy"]["backend"] == "scripted"


def test_cost_limit(loop_env):
    policy = ScriptedPolicy(lambda messages: reply("echo paid"), cost_per_call=1.0)
    traj = run(loop_env, policy, cost_limit=2.5)
    assert traj.exit_status is ExitStatus.cost_limit and len(traj.steps) == 3
    assert traj.stats.usage.cost == pytest.approx(3.0)


def test_context_budget_is_checked_before_the_prompt_overflows(loop_env):
    traj = run(loop_env, lambda m: reply("seq 1 20000"), context_tokens=4000, observation_chars=12000)
    assert traj.exit_status is ExitStatus.context_overflow and "budget is 4000" in traj.exit_message


def test_policy_context_overflow_error_ends_the_run(loop_env):
    traj = run(loop_env, [ContextOverflowError("prompt has 9000 tokens, model fits 8192")])
    assert traj.exit_status is ExitStatus.context_overflow and "9000" in traj.exit_message


def test_consecutive_format_errors_end_the_run_and_valid_replies_reset_the_count(loop_env):
    replies = ["no block", reply("echo ok"), "still none", "```bash\nls\n```\n```bash\npwd\n```"]
    traj = run(loop_env, replies, max_format_errors=2)
    assert traj.exit_status is ExitStatus.format_error
    assert [s.error is not None for s in traj.steps] == [True, False, True, True]
    assert "2 command blocks" in traj.steps[-1].error and traj.stats.format_errors == 3
    corrective = traj.messages[3]["content"]
    assert "no fenced command block" in corrective and "exactly one fenced command block" in corrective


def test_policy_error_when_the_endpoint_is_down(loop_env):
    traj = run(loop_env, [reply("echo one"), PolicyUnavailableError("server at http://x is not answering")])
    assert traj.exit_status is ExitStatus.policy_error and "not answering" in traj.exit_message
    assert len(traj.steps) == 1


def test_policy_error_when_a_script_runs_out(loop_env):
    traj = run(loop_env, [reply("echo one")])
    assert traj.exit_status is ExitStatus.policy_error and "ran out" in traj.exit_message


def test_wall_clock_limit_interrupts_a_long_command_then_stops(loop_env):
    traj = run(loop_env, lambda m: reply("sleep 30"), wall_time=2.0)
    assert traj.exit_status is ExitStatus.timeout and len(traj.steps) == 1
    assert traj.steps[0].timed_out and "timed out" in traj.steps[0].observation


def test_env_error_when_the_container_dies(tmp_path):
    env = DockerEnv(base_task("agent-env-error"), run_id="test-agent")
    try:

        def script(messages):
            if len(messages) > 2:  # second turn: the container is gone
                env.container.kill()
            return reply("echo alive")

        traj = run(env, script, tmp_path / "t.json")
    finally:
        env.close()
    assert traj.exit_status is ExitStatus.env_error and len(traj.steps) == 2 and traj.patch == ""
    assert "the environment failed" in traj.steps[-1].observation and traj.steps[-1].action == "echo alive"
    assert Trajectory.load(tmp_path / "t.json").exit_status is ExitStatus.env_error


class PickSecond:
    """A chooser that samples two candidates, scores them and picks the second (as lookahead would)."""

    def choose(self, history, policy):
        from agent.scaffold import to_candidate

        completions = policy.sample(history, n=2, temperature=0.9)
        candidates = [to_candidate(c.text) for c in completions]
        for q, candidate in zip((0.2, 0.7), candidates, strict=True):
            candidate.q = q
        return Choice(
            completion=completions[1],
            action=candidates[1].action,
            candidates=candidates,
            chosen_index=1,
            usage=sum((c.usage for c in completions), Usage()),
            critic_calls=1,
        )


def test_a_custom_chooser_is_recorded_with_every_candidate_and_score(loop_env):
    policy = ScriptedPolicy([[reply("echo first"), reply("echo second")]])
    traj = Agent(loop_env, policy, chooser=PickSecond(), config=AgentConfig(step_limit=1)).run()
    step = traj.steps[0]
    assert [c.q for c in step.candidates] == [0.2, 0.7] and step.chosen_index == 1
    assert step.action == "echo second" and "second" in step.observation and step.critic_calls == 1
    assert policy.calls[0]["n"] == 2 and traj.config["strategy"] == {"class": "PickSecond"}


def test_greedy_chooser_passes_its_temperature(loop_env):
    policy = ScriptedPolicy([reply("echo x")])
    Agent(loop_env, policy, chooser=GreedyChooser(temperature=0.3), config=AgentConfig(step_limit=1)).run()
    assert policy.calls[0]["temperature"] == 0.3 and policy.calls[0]["n"] == 1
    assert Completion("t").usage.cost == 0.0


def test_writing_past_the_disk_limit_stops_the_command_and_ends_the_run_as_the_models_own(tmp_path):
    """container.disk_limit (issue 26.5): a storage_opt quota where the driver has one, else the env
    polls the writable layer's size; either way the run ends with exit status disk_limit."""
    import time

    from envs.container import disk_quota_supported
    from envs.settings import ContainerSettings
    from envs.types import DiskLimitExceeded

    settings = ContainerSettings(disk_limit="64m")
    with DockerEnv(base_task("agent-disk"), run_id="test-agent", container=settings) as env:
        assert env.disk_polled is not disk_quota_supported(env.client)
        # a writer that would go on for 100 x 10 MiB is stopped within a poll of passing 64 MiB
        writer = "for i in $(seq 100); do head -c 10M /dev/zero > /tmp/fill-$i; sleep 0.2; done; echo DONE"
        t0 = time.monotonic()
        with pytest.raises(DiskLimitExceeded, match="container.disk_limit of 64 MiB"):
            env.execute(writer, timeout=60)
        assert time.monotonic() - t0 < 15
        written = env.disk_used() or 0
        time.sleep(1)  # the writer is gone: nothing more lands
        assert 64 << 20 < written == env.disk_used() < 400 << 20
        assert env.execute("rm -f /tmp/fill-*; echo ok").output.strip() == "ok"
    # through the agent: a fast write, caught when the command ends; the patch is empty (not the filler)
    with DockerEnv(base_task("agent-disk"), run_id="test-agent", container=settings) as env:
        commit = "git -c user.name=a -c user.email=a@b commit -q --allow-empty -m base"
        replies = [reply(f"git init -q && {commit}"), reply("head -c 100M /dev/zero > big.bin"), reply("ls")]
        traj = run(env, replies, tmp_path / "t.json", step_limit=5, install_tools=False)
    assert traj.exit_status is ExitStatus.disk_limit and len(traj.steps) == 2
    assert traj.patch == "" and "container.disk_limit" in (traj.exit_message or "")
