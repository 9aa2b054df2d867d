"""The trajectory record: round trip, atomic writes (even under kill -9), and no secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.loop import Agent, ExitStatus
from agent.policies import make_policy
from agent.redaction import scrub
from agent.trajectory import SCHEMA_VERSION, Trajectory
from agent.types import Action, Candidate, Choice, Completion, Usage
from envs.container import cleanup
from envs.docker import DockerEnv
from tests.agent.support import base_task, reply
from tests.helpers.openai_server import OpenAIServer

ROOT = Path(__file__).resolve().parents[2]


def sample_trajectory() -> Trajectory:
    traj = Trajectory(instance_id="x-1", run_id="r", config={"agent": {"step_limit": 3}})
    traj.messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "fix ✓"}]
    good = Candidate("t\n```\nls\n```", Action("t", "ls"), q=0.7, count=2)
    bad = Candidate("no block", error="no fenced command block", q=None)
    choice = Choice(
        Completion(good.text, Usage(10, 3, 0.01), 0.5),
        good.action,
        [bad, good],
        1,
        None,
        Usage(20, 6, 0.02, 8),
        1,
        0.9,
    )
    traj.record(choice, "file.txt\n(Current directory: /, current file: n/a) bash-$", 0, False, cwd="/")
    traj.final_q = 0.7
    traj.finish(ExitStatus.step_limit, "reached the step limit of 1", "diff --git a/x b/x\n")
    return traj


def test_round_trip_keeps_every_candidate_and_score(tmp_path):
    traj = sample_trajectory()
    traj.save(tmp_path / "t.json")
    loaded = Trajectory.load(tmp_path / "t.json")
    assert loaded.model_dump() == traj.model_dump()
    step = loaded.steps[0]
    assert [c.q for c in step.candidates] == [None, 0.7] and step.candidates[1].count == 2
    assert step.candidates[0].error == "no fenced command block" and step.chosen_index == 1
    assert (step.usage.prompt_tokens, step.usage.completion_tokens, step.critic_calls) == (20, 6, 1)
    assert loaded.exit_status is ExitStatus.step_limit and loaded.stats.usage.cost == pytest.approx(0.02)
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["exit_status"] == "step_limit"


def test_usage_is_stored_as_flat_keys_with_the_critics_apart():
    traj = sample_trajectory()
    # a final-Q scoring, outside the steps, as search.solve.outcome_of records it
    traj.stats.critic_calls += 1
    traj.stats.critic_usage += Usage(prompt_tokens=300, cached_prompt_tokens=200)
    data = json.loads(traj.to_json())
    step, stats = data["steps"][0], data["stats"]
    keys = ["prompt_tokens", "completion_tokens", "cost", "cached_prompt_tokens", "critic_calls"]
    assert list(step)[:5] == keys
    assert (step["prompt_tokens"], step["completion_tokens"], step["cost"]) == (20, 6, 0.02)
    assert step["cached_prompt_tokens"] == 8 and step["critic_usage"]["prompt_tokens"] == 0
    assert "usage" not in step and "usage" not in stats and stats["prompt_tokens"] == 20
    critic = stats["critic_usage"]  # the critic's usage stays one nested dict (as the judge wrote it)
    assert (stats["critic_calls"], critic["prompt_tokens"], critic["cached_prompt_tokens"]) == (2, 300, 200)
    loaded = Trajectory.model_validate(data)
    assert loaded.stats.usage == Usage(20, 6, 0.02, 8) and loaded.stats.critic_usage == Usage(
        300, 0, 0.0, 200
    )
    assert loaded.usage_note is None


def test_a_version_1_file_is_read_with_a_note_that_its_prompts_were_counted_per_sample(tmp_path):
    """Files written before tokens were counted per request: same keys, no cached keys (a judge's
    `critic_usage` without them; before the judge, no critic keys)."""
    data = json.loads(sample_trajectory().to_json())
    for record in (*data["steps"], data["stats"]):
        for key in [k for k in record if k.startswith(("cached_", "critic_")) and k != "critic_calls"]:
            del record[key]
    (tmp_path / "old.json").write_text(json.dumps({**data, "schema_version": 1}))
    old = Trajectory.load(tmp_path / "old.json")
    assert old.schema_version == 1 and "counted once per sample" in old.usage_note
    assert old.steps[0].usage == Usage(20, 6, 0.02) and old.stats.critic_usage == Usage()
    old.save(tmp_path / "again.json")  # re-saved, it keeps its version and so its note
    again = Trajectory.load(tmp_path / "again.json")
    assert again.model_dump() == old.model_dump() and again.usage_note == old.usage_note


def test_load_rejects_other_schema_versions(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({**json.loads(sample_trajectory().to_json()), "schema_version": 99}))
    with pytest.raises(ValueError, match="schema_version 99"):
        Trajectory.load(path)


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "t.json"
    traj = sample_trajectory()
    traj.save(path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    traj.steps = traj.steps * 3
    with pytest.raises(OSError, match="disk full"):
        traj.save(path)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_scrub_redacts_secret_fields_tokens_and_env_values():
    secrets = ["supersecretvalue123"]
    data = {
        "api_key": "abc",
        "api_key_env": ["OPENAI_API_KEY"],
        "headers": {"Authorization": "Bearer abcdefghijkl"},
        "text": "key supersecretvalue123 and sk-abcdefghijklmnopqrstuv and Bearer zyxwvutsrqpo",
    }
    out = scrub(data, secrets)
    assert out["api_key"] == "***" and out["api_key_env"] == ["OPENAI_API_KEY"]
    assert out["headers"]["Authorization"] == "***"
    assert out["text"] == "key *** and *** and Bearer ***"


@pytest.mark.slow
def test_trajectory_of_an_openai_run_has_no_api_key(tmp_path, monkeypatch):
    key = "sk-proj-THISISASECRETKEY0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    leaky = reply(f"echo {key}", thought=f"My key is {key}; Authorization: Bearer {key}")
    with OpenAIServer([leaky, reply("submit")]) as server:
        policy = make_policy("test-model", base_url=server.url, retry_wait=0)
        with DockerEnv(base_task("agent-secrets"), run_id="test-agent") as env:
            traj = Agent(env, policy, config=AgentConfig(step_limit=1)).run(tmp_path / "t.json")
        assert server.completions[0].headers["Authorization"] == f"Bearer {key}"  # it was really used
    text = (tmp_path / "t.json").read_text()
    assert key not in text and "THISISASECRETKEY" not in text
    assert traj.exit_status is ExitStatus.step_limit and "***" in text


KILL_SCRIPT = """
import sys
from agent.config import AgentConfig
from agent.loop import Agent
from agent.policies import ScriptedPolicy
from envs.docker import DockerEnv
from tests.agent.support import base_task, reply
env = DockerEnv(base_task("agent-kill"), run_id="test-agent-kill")
policy = ScriptedPolicy(lambda messages: reply("sleep 0.2; echo step"))
Agent(env, policy, config=AgentConfig(step_limit=1000)).run(sys.argv[1])
"""


@pytest.mark.slow
def test_kill_minus_9_loses_at_most_the_step_in_flight(tmp_path):
    path = tmp_path / "t.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path)], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if path.exists() and len(Trajectory.load(path).steps) >= 3:
                break
            assert proc.poll() is None, "the agent process ended early"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        cleanup(run_id="test-agent-kill")
    traj = Trajectory.load(path)
    assert len(traj.steps) >= 3 and traj.exit_status is None
    assert all("step" in s.observation for s in traj.steps)
    assert not [p for p in tmp_path.iterdir() if p != path and not p.name.endswith(".tmp")]
