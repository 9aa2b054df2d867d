"""The thread pool: W worker threads in this process run the Runner's instances (the Pool of
eval.batch.executor; eval.batch.ray_pool runs them as Ray tasks instead)."""

from __future__ import annotations

import queue
import threading
import time

from envs.types import Task
from eval.batch.executor import INTERRUPT_WAIT_SECONDS, Host, Work
from eval.batch.records import InstanceRecord
from eval.batch.watchdog import ABANDONED


class ThreadPool:
    """W worker threads in this process take tasks from a queue."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self.jobs: queue.Queue[Task] = queue.Queue()
        self.threads: list[threading.Thread] = []

    def start(
        self, runner: Host, tasks: list[Task], work: Work, results: queue.Queue[InstanceRecord | None]
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

    def interrupt(self, runner: Host) -> None:
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
