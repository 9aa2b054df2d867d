"""The Runner's pool: how instances execute, and the one boundary every instance runs inside.

A work function gets its task and a Context (never the Runner), so the same work runs in a thread
here (ThreadPool) or in a Ray worker on another machine (eval.ray_executor.RayPool), which makes its
own Context there.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent.redaction import scrub_text
from envs.types import Task
from eval.records import InstanceRecord, failed_record
from eval.watchdog import ABANDONED, InstanceTimeout, Watchdog

if TYPE_CHECKING:
    from eval.runner import Runner

INTERRUPT_WAIT_SECONDS = 2.0
"""After Ctrl-C closed every container, how long the runner waits for its workers before leaving
them (daemon threads, blocked on I/O that the closed containers no longer feed)."""


class Interrupted(RuntimeError):
    """The batch is stopping (Ctrl-C); the instance is left unfinished so a rerun redoes it."""


@dataclass
class Context:
    """What a work function gets besides its task (never the Runner itself, so a Ray worker can make
    its own): the folder to write the instance's files in, the run id that labels its containers,
    the watchdog that enforces its deadline, and the flag that says the batch is stopping."""

    out: Path
    run_id: str
    watchdog: Watchdog
    stopping: threading.Event


Work = Callable[[Task, Context], InstanceRecord]


class Pool(Protocol):
    """How a Runner's instances execute: threads in this process (ThreadPool) or Ray tasks across
    machines (eval.ray_executor.RayPool)."""

    def start(
        self, runner: Runner, tasks: list[Task], work: Work, results: queue.Queue[InstanceRecord | None]
    ) -> None:
        """Start solving `tasks`; put each record once the runner finished it, then None after the last."""

    def interrupt(self, runner: Runner) -> None:
        """Ctrl-C (runner.stopping is set, its containers closed): take no new work, let go within seconds."""

    def close(self) -> None:
        """The batch is over (finished or interrupted): release what start() took."""


def attempt(task: Task, work: Work, ctx: Context) -> InstanceRecord | None:
    """The per-instance reporting boundary: any exception becomes an error record (its traceback in
    instances/<id>/error.txt under ctx.out); None when the batch is stopping (the instance stays
    unfinished, so a rerun redoes it)."""
    started = time.time()
    try:
        rec = work(task, ctx)
    except Interrupted:
        return None
    except InstanceTimeout as e:
        rec = failed_record(task, "timeout", str(e), started, "timeout")
    except Exception as e:  # noqa: BLE001 -- one instance's failure must not stop the batch
        if ctx.stopping.is_set():
            return None
        tb = traceback.format_exc()
        (ctx.out / "instances" / task.instance_id).mkdir(parents=True, exist_ok=True)
        (ctx.out / "instances" / task.instance_id / "error.txt").write_text(scrub_text(tb))
        rec = failed_record(task, "error", scrub_text(f"{type(e).__name__}: {e}"), started, "exception")
    return None if ctx.stopping.is_set() else rec


class ThreadPool:
    """W worker threads in this process take tasks from a queue."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self.jobs: queue.Queue[Task] = queue.Queue()
        self.threads: list[threading.Thread] = []

    def start(
        self, runner: Runner, tasks: list[Task], work: Work, results: queue.Queue[InstanceRecord | None]
    ) -> None:
        for t in tasks:
            self.jobs.put(t)
        count = min(self.workers, len(tasks))
        if not count:
            results.put(None)
            return
        left, lock = [count], threading.Lock()

        def worker() -> None:
            try:
                while not runner.stopping.is_set():
                    try:
                        task = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    rec = runner.one(task, work)
                    if rec is not None:
                        results.put(rec)
            finally:
                with lock:
                    left[0] -= 1
                    last = left[0] == 0
                if last:
                    results.put(None)

        self.threads = [
            threading.Thread(target=worker, name=f"worker-{i}", daemon=True) for i in range(count)
        ]
        for th in self.threads:
            th.start()

    def interrupt(self, runner: Runner) -> None:
        """Drop the queued tasks, give the workers a moment to return.

        Workers still blocked after INTERRUPT_WAIT_SECONDS are left (daemon threads; the CLI exits
        with os._exit once every file is written and every container removed)."""
        while True:
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                break
        deadline = time.monotonic() + INTERRUPT_WAIT_SECONDS
        for th in self.threads:
            th.join(max(0.0, deadline - time.monotonic()))
        ABANDONED.extend(th for th in self.threads if th.is_alive())

    def close(self) -> None:
        pass
