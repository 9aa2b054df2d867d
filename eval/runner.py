"""The batch runner's worker pool: W worker threads run `work(task, runner)` over the tasks, under a
per-instance deadline, resumably, and survive Ctrl-C.

What a worker does per task is its `work` (eval.instance: solve_and_grade, grade_prediction); the
batch is prepared in eval.prepare and started in eval.batch; the run folder and the statuses of its
records are described in eval.records; the watchdog that stops a late instance is eval.watchdog.

Resume: an instance is finished when its done.json exists with status ok or timeout; instances
with status error are redone by every rerun (`--retry-errors` also redoes timeouts). Anything an
unfinished instance left is wiped and it is redone. At start the batch removes the containers a
killed earlier attempt left behind, and refuses a run id whose containers belong to a live process.
"""

from __future__ import annotations

import glob
import json
import queue
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agent.redaction import scrub, scrub_text
from envs.files import write_atomic
from envs.types import Task
from eval.records import (
    FROM_PREDICTIONS,
    InstanceRecord,
    done_path,
    failed_record,
    is_infra_failure,
    load_records,
    reason_key,
    write_preds,
)
from eval.watchdog import ABANDONED, InstanceTimeout, Watchdog

INTERRUPT_WAIT_SECONDS = 2.0
"""After Ctrl-C closed every container, how long the runner waits for its workers before leaving
them (daemon threads, blocked on I/O that the closed containers no longer feed)."""


class Interrupted(RuntimeError):
    """The batch is stopping (Ctrl-C); the instance is left unfinished so a rerun redoes it."""


# ----------------------------------------------------------------------------- the runner

Work = Callable[[Task, "Runner"], InstanceRecord]


class Runner:
    """Runs `work` over tasks with W workers, writes the run folder, shows progress, survives Ctrl-C.

    `work(task, runner)` solves and grades one instance and returns its record; `Runner` wraps it
    with the per-instance boundary (errors become records), the done marker, preds.jsonl and events.
    """

    def __init__(
        self,
        out: Path,
        run_id: str,
        workers: int = 1,
        model_name: str = "swe-search",
        retry_errors: bool = False,
        console: Console | None = None,
        progress: bool = True,
    ) -> None:
        self.out = Path(out)
        self.run_id = run_id
        self.workers = max(1, workers)
        self.model_name = model_name
        self.retry_errors = retry_errors
        self.console = console or Console(stderr=True)
        self.show_progress = progress
        self.watchdog = Watchdog()
        self.stopping = threading.Event()
        self.records: dict[str, InstanceRecord] = {}
        self.redone = 0
        self._reasons: dict[str, str] = {}  # error reason -> the first instance that showed it
        self._lock = threading.Lock()

    # -- folder state

    def pending(self, tasks: list[Task]) -> list[Task]:
        """The tasks to run: unfinished ones, those whose attempt failed for infrastructure reasons
        (always), and timeouts when retrying errors. Finished model outcomes are kept."""
        self.records = load_records(self.out)
        wanted = {t.instance_id for t in tasks}
        redo = [
            i
            for i, r in self.records.items()
            if i in wanted and (is_infra_failure(r) or (self.retry_errors and r.status != "ok"))
        ]
        for iid in redo:
            done_path(self.out, iid).unlink()
            del self.records[iid]
        self.redone = len(redo)
        return [t for t in tasks if t.instance_id not in self.records]

    def event(self, name: str, instance_id: str, **extra: Any) -> None:
        line = json.dumps(scrub({"t": time.time(), "event": name, "instance_id": instance_id, **extra}))
        with self._lock, (self.out / "events.jsonl").open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def reset_instance(self, instance_id: str) -> None:
        """Wipe what an unfinished earlier attempt of this instance left."""
        shutil.rmtree(self.out / "trajectories" / instance_id, ignore_errors=True)
        shutil.rmtree(self.out / "instances" / instance_id, ignore_errors=True)
        (self.out / "grades" / f"{instance_id}.json").unlink(missing_ok=True)
        for grade_file in (self.out / "grades").glob(f"{glob.escape(instance_id)}.run-*.json"):
            grade_file.unlink(missing_ok=True)
        shutil.rmtree(self.out / "grades" / "logs" / instance_id, ignore_errors=True)

    def finish(self, record: InstanceRecord) -> None:
        """Mark an instance finished: done.json (last, atomically), then preds.jsonl."""
        body = json.dumps(scrub(record.model_dump(mode="json")), indent=1, ensure_ascii=False)
        write_atomic(done_path(self.out, record.instance_id), body)
        with self._lock:
            self.records[record.instance_id] = record
            write_preds(self.out, self.records, self.model_name)
        self.event("done", record.instance_id, status=record.status, resolved=record.resolved)

    # -- the batch

    def run(self, tasks: list[Task], work: Work) -> bool:
        """Run every unfinished task; True when all finished, False when interrupted (Ctrl-C)."""
        todo = self.pending(tasks)
        skipped = len(tasks) - len(todo)
        if skipped or self.redone:
            again = f", {self.redone} that failed for infrastructure reasons redone" if self.redone else ""
            self.console.print(
                f"resume: {skipped} finished instance(s) skipped{again}, {len(todo)} to run", soft_wrap=True
            )
        jobs: queue.Queue[Task] = queue.Queue()
        for t in todo:
            jobs.put(t)
        results: queue.Queue[InstanceRecord | None] = queue.Queue()
        threads = [
            threading.Thread(target=self._worker, args=(jobs, results, work), name=f"worker-{i}", daemon=True)
            for i in range(min(self.workers, len(todo)))
        ]
        for th in threads:
            th.start()
        done_before = [r for r in self.records.values() if r.instance_id in {t.instance_id for t in tasks}]
        stats = {"resolved": sum(r.resolved for r in done_before), "cost": sum(r.cost for r in done_before)}
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("resolved [green]{task.fields[resolved]}"),
            TextColumn("cost ${task.fields[cost]:.2f}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.show_progress,
        )
        finished = 0
        try:
            with progress:
                bar = progress.add_task(
                    "instances",
                    total=len(tasks),
                    completed=skipped,
                    resolved=stats["resolved"],
                    cost=stats["cost"],
                )
                while finished < len(threads):
                    try:
                        rec = results.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    if rec is None:  # a worker ran out of jobs
                        finished += 1
                        continue
                    stats["resolved"] += rec.resolved
                    stats["cost"] += rec.cost
                    progress.update(bar, advance=1, resolved=stats["resolved"], cost=stats["cost"])
                    progress.console.print(self._line(rec), soft_wrap=True)
        except KeyboardInterrupt:
            self._interrupt(jobs, threads)
            return False
        finally:
            self.watchdog.stop()
        return True

    def _worker(
        self, jobs: queue.Queue[Task], results: queue.Queue[InstanceRecord | None], work: Work
    ) -> None:
        while not self.stopping.is_set():
            try:
                task = jobs.get_nowait()
            except queue.Empty:
                break
            rec = self._one(task, work)
            if rec is not None:
                results.put(rec)
        results.put(None)

    def _one(self, task: Task, work: Work) -> InstanceRecord | None:
        """The per-instance reporting boundary: any exception becomes an error record."""
        started = time.time()
        self.reset_instance(task.instance_id)
        self.event("start", task.instance_id)
        try:
            rec = work(task, self)
        except Interrupted:
            self.event("interrupted", task.instance_id)
            return None
        except InstanceTimeout as e:
            rec = failed_record(task, "timeout", str(e), started, "timeout")
        except Exception as e:  # noqa: BLE001 -- one instance's failure must not stop the batch
            if self.stopping.is_set():
                self.event("interrupted", task.instance_id)
                return None
            tb = traceback.format_exc()
            (self.out / "instances" / task.instance_id).mkdir(parents=True, exist_ok=True)
            (self.out / "instances" / task.instance_id / "error.txt").write_text(scrub_text(tb))
            rec = failed_record(task, "error", scrub_text(f"{type(e).__name__}: {e}"), started, "exception")
        if self.stopping.is_set():
            self.event("interrupted", task.instance_id)
            return None
        self.finish(rec)
        return rec

    def _interrupt(self, jobs: queue.Queue[Task], threads: list[threading.Thread]) -> None:
        """Ctrl-C: take no new work, close every container, give the workers a moment to return.

        Workers still blocked after INTERRUPT_WAIT_SECONDS are left (daemon threads; the CLI exits
        with os._exit once every file is written and every container removed)."""
        self.stopping.set()
        self.console.print("[yellow]interrupted: closing containers; finished instances are kept[/]")
        while True:
            try:
                jobs.get_nowait()
            except queue.Empty:
                break
        self.watchdog.close_all()
        deadline = time.monotonic() + INTERRUPT_WAIT_SECONDS
        try:
            for th in threads:
                th.join(max(0.0, deadline - time.monotonic()))
            ABANDONED.extend(th for th in threads if th.is_alive())
        except KeyboardInterrupt:
            self.console.print("[red]second interrupt: not waiting for the workers[/]")

    def _line(self, rec: InstanceRecord) -> str:
        mark = "[green]resolved[/]" if rec.resolved else f"[red]{rec.grade_status}[/]"
        if rec.status != "ok":
            mark = f"[red]{rec.status}[/]"
        extra = f" ({escape(rec.error)})" if rec.error else ""
        if rec.status == "error":  # one cause is told once; later instances point back to it
            first = self._reasons.setdefault(reason_key(rec), rec.instance_id)
            told = (
                escape(f"{rec.error_kind}: {rec.error}")
                if first == rec.instance_id
                else f"{rec.error_kind}, as {first}"
            )
            extra = f" ({told})"
        how = "graded from predictions" if rec.exit_status == FROM_PREDICTIONS else f"exit={rec.exit_status}"
        return scrub_text(f"{rec.instance_id}: {mark}  {how}  {rec.duration:.0f}s{extra}")
