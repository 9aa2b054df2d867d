"""The seam between the Runner and its pools, imported by both sides (neither imports the other):
what a pool sees of the runner (Host), what a pool is (Pool), what a work function gets (Context), and
the one boundary every instance runs inside (attempt).

A work function gets its task and a Context (never the Runner), so the same work runs in a thread
here (eval.batch.pool.ThreadPool) or in a Ray worker on another machine (eval.batch.ray_pool.RayPool),
which makes its own Context there.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.redaction import scrub_text
from envs.types import Task
from eval.batch.records import InstanceRecord, failed_record
from eval.batch.watchdog import InstanceTimeout, Watchdog

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


class Host(Protocol):
    """The runner as a pool sees it (eval.batch.runner.Runner): the run folder, the stop flag, and
    the steps a pool drives for each instance."""

    out: Path
    run_id: str
    stopping: threading.Event

    def one(self, task: Task, work: Work) -> InstanceRecord | None:
        """Solve one instance in this process: wipe an earlier attempt, run `work`, finish it."""

    def reset_instance(self, instance_id: str) -> None:
        """Wipe what an unfinished earlier attempt of this instance left."""

    def event(self, name: str, instance_id: str, **extra: Any) -> None:
        """Append one line to events.jsonl."""

    def finish(self, record: InstanceRecord) -> None:
        """Mark an instance finished (done.json, then preds.jsonl)."""


class Pool(Protocol):
    """How a Runner's instances execute: threads in this process (ThreadPool) or Ray tasks across
    machines (eval.batch.ray_pool.RayPool)."""

    def start(
        self, runner: Host, tasks: list[Task], work: Work, results: queue.Queue[InstanceRecord | None]
    ) -> None:
        """Start solving `tasks`; put each record once the runner finished it, then None after the last."""

    def interrupt(self, runner: Host) -> None:
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
