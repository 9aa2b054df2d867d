"""The note on a cut observation reports what the command printed, not what the env kept of it."""

from __future__ import annotations

import pytest

from agent.config import AgentConfig
from agent.scaffold import ShellState, observation_message
from envs.docker import DockerEnv
from tests.agent.support import base_task


@pytest.mark.slow
def test_cut_note_reports_the_bytes_a_50_mb_command_printed() -> None:
    with DockerEnv(base_task("agent-big-output"), run_id="test-agent", output_limit=1_000_000) as env:
        obs = env.execute("head -c 50000000 /dev/zero | tr '\\0' y", timeout=60)
    content = observation_message(AgentConfig(observation_chars=2000), obs, ShellState("/testbed"))["content"]
    assert "(50000000 bytes in all)" in content
    assert "1000045" not in content and len(content) < 3000
