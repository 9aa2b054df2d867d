"""No container is left behind: close(), exceptions, SIGTERM, and `cleanup()` by label."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import docker
import pytest

from envs.container import cleanup
from envs.docker import DockerEnv
from envs.types import ImageNotFound, Task


def test_close_is_idempotent_and_removes_the_container(tiny_task: Task, labelled: Callable) -> None:
    env = DockerEnv(tiny_task, run_id="test-close")
    assert len(labelled("test-close")) == 1
    env.close()
    env.close()
    assert labelled("test-close") == []


def test_exception_inside_the_with_block_leaves_no_container(tiny_task: Task, labelled: Callable) -> None:
    with pytest.raises(RuntimeError, match="boom"), DockerEnv(tiny_task, run_id="test-raise") as env:
        env.execute("echo working")
        raise RuntimeError("boom")
    assert labelled("test-raise") == []


def hold_envs(task: Task, run_id: str, count: int = 1) -> subprocess.Popen:
    """A Python process that starts `count` envs, prints "ready", then runs `sleep 60` in the first."""
    script = textwrap.dedent(
        f"""
        from envs.docker import DockerEnv
        from envs.types import Task
        envs = [DockerEnv(Task({task.instance_id!r}, "", {task.image!r}), run_id={run_id!r}) for _ in range({count})]
        print("ready", flush=True)
        envs[0].execute("sleep 60")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)  # let it enter `sleep 60`
    return proc


@pytest.mark.slow
def test_sigterm_to_a_process_holding_an_env_leaves_no_container(tiny_task: Task, labelled: Callable) -> None:
    proc = hold_envs(tiny_task, "test-sigterm", count=2)
    try:
        assert len(labelled("test-sigterm")) == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert labelled("test-sigterm") == []


@pytest.mark.slow
def test_cleanup_removes_what_a_killed_process_left_of_one_run_only(
    tiny_task: Task, labelled: Callable, docker_client: docker.DockerClient
) -> None:
    with DockerEnv(tiny_task, run_id="test-keep") as keep:
        proc = hold_envs(tiny_task, "test-leak", count=2)
        proc.kill()
        proc.wait()
        assert len(labelled("test-leak")) == 2
        assert cleanup(run_id="test-leak", client=docker_client) == 2
        assert cleanup(run_id="test-leak", client=docker_client) == 0
        assert keep.execute("echo alive").output == "alive\n"


def test_an_env_dropped_without_close_is_removed(tiny_task: Task, labelled: Callable) -> None:
    DockerEnv(tiny_task, run_id="test-dropped").execute("true")
    gc.collect()
    assert labelled("test-dropped") == []


def test_missing_image_raises_a_clear_error(labelled: Callable) -> None:
    task = Task(
        "nope__missing-1", "", "swe-search/task:does-not-exist", build_context="/repo/tasks/nope__missing-1"
    )
    with pytest.raises(
        ImageNotFound, match=r"not present locally; build it with `swe-search images build /repo`"
    ):
        DockerEnv(task, run_id="test-missing")
    swebench_task = Task("django__django-1", "", "swebench/sweb.eval.x86_64.django_1776_django-1:latest")
    with pytest.raises(ImageNotFound, match="docker pull"):
        DockerEnv(swebench_task, run_id="test-missing")
    assert labelled("test-missing") == []
