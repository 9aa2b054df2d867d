"""ContainerSettings: parsed and checked once, applied to the agent's container as configured."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.configfile import ConfigError
from envs.docker import DockerEnv
from envs.settings import ContainerSettings, TooManyCpus, parse_size
from envs.types import Task
from eval.batch.config import RunConfig


def test_parse_size_reads_docker_sizes() -> None:
    assert parse_size("4g") == 4 << 30
    assert parse_size("512M") == 512 << 20
    assert parse_size("1.5gb") == 3 << 29
    assert parse_size("1048576") == 1 << 20
    for bad in ("lots", "4 gigs", "", "-1g"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_bad_limits_are_refused_when_the_config_is_read() -> None:
    with pytest.raises(ConfigError, match="mem_limit"):
        RunConfig.load(overrides=["container.mem_limit=lots"])
    with pytest.raises(ValidationError, match="minimum"):
        ContainerSettings(mem_limit="1m")
    with pytest.raises(ValidationError):
        ContainerSettings(pids_limit=0)


def test_run_config_carries_the_settings_to_every_container() -> None:
    cfg = RunConfig.load(overrides=["container.pids_limit=512", "container.network=true"])
    assert cfg.container == ContainerSettings(pids_limit=512, network=True)
    assert cfg.container.offline().docker_kwargs()["network_mode"] == "none"
    assert cfg.container.docker_kwargs()["network_mode"] is None


def test_cpus_have_one_answer_for_the_check_and_the_container() -> None:
    """Unset: 2, or the host's CPUs when fewer; set above the host: refused (the pre-flight check and
    docker_kwargs both ask cpu_quota), never silently lowered."""
    assert ContainerSettings().cpu_quota(1) == 1 and ContainerSettings().cpu_quota(16) == 2
    assert ContainerSettings(cpus=4).cpu_quota(8) == 4
    assert ContainerSettings().docker_kwargs(1)["nano_cpus"] == 10**9
    with pytest.raises(TooManyCpus, match=r"container.cpus=4 but the Docker host has 2 CPU"):
        ContainerSettings(cpus=4).cpu_quota(2)
    with pytest.raises(TooManyCpus):
        ContainerSettings(cpus=4).docker_kwargs(2)


@pytest.mark.slow
def test_agent_container_gets_the_configured_limits_and_security(tiny_task: Task, run_id: str) -> None:
    settings = ContainerSettings(mem_limit="300m", cpus=1, pids_limit=100, cap_drop=["NET_RAW"])
    with DockerEnv(tiny_task, run_id=run_id, container=settings) as env:
        assert env.execute("cat /sys/fs/cgroup/pids/pids.max").output.strip() == "100"
        limit = env.execute("cat /sys/fs/cgroup/memory/memory.limit_in_bytes").output.strip()
        assert int(limit) == 300 << 20
        env.container.reload()
        host = env.container.attrs["HostConfig"]
        assert host["NetworkMode"] == "none" and host["SecurityOpt"] == ["no-new-privileges"]
        assert host["CapDrop"] == ["NET_RAW"] and host["MemorySwap"] == 300 << 20
