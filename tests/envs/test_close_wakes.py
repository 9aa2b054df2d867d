"""Closing an env from another thread ends a command that is blocked reading the shell, at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from envs.docker import DockerEnv
from envs.types import EnvError, Task


def test_close_from_another_thread_ends_a_running_command_within_a_second(
    tiny_task: Task, labelled: Callable
) -> None:
    env = DockerEnv(tiny_task, run_id="test-close-wakes")
    raised: list[BaseException] = []
    returned = threading.Event()

    def run() -> None:
        try:
            env.execute("sleep 300", timeout=300)
        except EnvError as e:  # what the agent sees: the env is gone
            raised.append(e)
        returned.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    time.sleep(1.0)  # let it block in the read
    t0 = time.monotonic()
    env.close()
    assert returned.wait(5), "the blocked read did not return after close()"
    assert time.monotonic() - t0 < 3
    assert raised and "closed" in str(raised[0])
    assert labelled("test-close-wakes") == []
    with pytest.raises(EnvError):
        env.execute("true")
