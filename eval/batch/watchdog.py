"""The per-instance watchdog: closes the containers of an instance that overruns its deadline, and
runs a solve in a thread that is abandoned (not waited for) once it is past its deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from envs.types import Env


class InstanceTimeout(RuntimeError):
    """An instance overran its wall-clock limit and did not stop after its containers were closed."""


class _Instance:
    """The live containers of one instance, and its deadline."""

    def __init__(self, instance_id: str, deadline: float) -> None:
        self.instance_id = instance_id
        self.deadline = deadline
        self.envs: list[Env] = []
        self.start_failures: dict[int, tuple[str, str]] = {}
        """Run index -> (failure kind, message) for runs whose container could not be created."""
        self.expired = False
        self.lock = threading.Lock()

    def track(self, env: Env) -> Env:
        with self.lock:
            self.envs.append(env)
            late = self.expired
        if late:
            self.close()
            raise InstanceTimeout(f"{self.instance_id}: past its deadline; no new container")
        return env

    def close(self) -> None:
        with self.lock:
            envs, self.envs = self.envs, []
        for env in envs:
            try:
                env.close()
            except Exception as e:  # noqa: BLE001 -- closing is best effort; cleanup() follows
                print(f"warning: closing a container of {self.instance_id} failed: {e}")


class Watchdog:
    """Closes the containers of instances that overrun their deadline (the agent then stops on env_error)."""

    def __init__(self, interval: float = 0.5) -> None:
        self._live: dict[str, _Instance] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._loop, name="watchdog", daemon=True)
        self._thread.start()

    @contextmanager
    def watch(self, instance_id: str, seconds: float) -> Iterator[_Instance]:
        inst = _Instance(instance_id, time.monotonic() + seconds)
        with self._lock:
            self._live[instance_id] = inst
        try:
            yield inst
        finally:
            with self._lock:
                self._live.pop(instance_id, None)
            inst.close()

    def close_all(self) -> None:
        """Close every live container (Ctrl-C): the agents stop at their next command."""
        with self._lock:
            live = list(self._live.values())
        for inst in live:
            inst.expired = True
            inst.close()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            with self._lock:
                late = [i for i in self._live.values() if not i.expired and now > i.deadline]
            for inst in late:
                inst.expired = True
                inst.close()


ABANDONED: list[threading.Thread] = []
"""Solve threads left running past their deadline (see call_with_deadline)."""


def abandoned_alive() -> bool:
    """Whether an abandoned solve thread still runs (it may hold the interpreter's exit)."""
    return any(t.is_alive() for t in ABANDONED)


def call_with_deadline(fn: Callable[[], Any], seconds: float, name: str) -> Any:
    """fn() in a daemon thread; raise InstanceTimeout if it has not returned after `seconds`.

    A thread cannot be killed: a hung one (e.g. a policy call that never returns) is abandoned,
    its containers already closed by the watchdog, and the batch goes on.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 -- handed back to the caller below
            box["error"] = e

    thread = threading.Thread(target=target, name=f"solve-{name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        ABANDONED.append(thread)
        raise InstanceTimeout(f"{name}: still running after {seconds:.0f}s, past its deadline; abandoned")
    if "error" in box:
        raise box["error"]
    return box["value"]
