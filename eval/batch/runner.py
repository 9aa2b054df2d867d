"""The batch runner: W workers run `work(task, context)` over the tasks, under a per-instance
deadline, resumably, and survive Ctrl-C.

The workers are a Pool (eval.batch.executor, the seam both sides import): threads here, or Ray tasks across machines (eval.batch.ray_pool);
`make_pool` picks it from the config. What a worker does per task is its `work` (eval.batch.instance:
SolveAndGrade, grade_prediction); the batch is prepared in eval.batch.prepare and started in eval.batch.run;
the run folder and the statuses of its records are described in eval.batch.records; the watchdog that
stops a late instance is eval.batch.watchdog.

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
from pathlib import Path
from types import ModuleType
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
from eval.batch.config import RunConfig
from eval.batch.executor import Context, Pool, Work, attempt
from eval.batch.pool import ThreadPool
from eval.batch.records import (
    FROM_PREDICTIONS,
    Damaged,
    InstanceRecord,
    RunnerError,
    damaged_trajectories,
    done_path,
    is_infra_failure,
    read_records,
    reason_key,
    write_preds,
)
from eval.batch.watchdog import Watchdog

# ----------------------------------------------------------------------------- the runner


class Runner:
    """Runs `work` over tasks in a pool (W threads by default), writes the run folder, shows
    progress, survives Ctrl-C.

    `work(task, context)` solves and grades one instance and returns its record; `Runner` wraps it
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
        pool: Pool | None = None,
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
        self.damaged: list[Damaged] = []
        """Files of the run folder that could not be read back (pending() found them; their instances are redone)."""
        self._reasons: dict[str, str] = {}  # error reason -> the first instance that showed it
        self._lock = threading.Lock()
        self.pool: Pool = pool or ThreadPool(self.workers)
        self.context = Context(self.out, run_id, self.watchdog, self.stopping)

    # -- folder state

    def pending(self, tasks: list[Task]) -> list[Task]:
        """The tasks to run: unfinished ones, those whose attempt failed for infrastructure reasons
        (always), and timeouts when retrying errors. Finished model outcomes are kept."""
        self.records, damaged = read_records(self.out)
        wanted = {t.instance_id for t in tasks}
        redo = [
            i
            for i, r in self.records.items()
            if i in wanted and (is_infra_failure(r) or (self.retry_errors and r.status != "ok"))
        ]
        self.redone = len(redo)
        for iid, rec in self.records.items():  # a finished record is only as good as its trajectories
            if iid in wanted and iid not in redo and (bad := damaged_trajectories(self.out, rec)):
                damaged += bad
                redo.append(iid)
        self.damaged = [d for d in damaged if d.instance_id in wanted]
        for iid in redo:
            done_path(self.out, iid).unlink()
            del self.records[iid]
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
        for bad in self.damaged:  # each damaged file once, by name; its instance is redone
            self.console.print(
                f"[yellow]damaged: {escape(bad.line())}; {escape(bad.instance_id or '')} is redone[/]",
                soft_wrap=True,
                highlight=False,
            )
        skipped = len(tasks) - len(todo)
        if skipped or self.redone or self.damaged:
            again = f", {self.redone} that failed for infrastructure reasons redone" if self.redone else ""
            hurt = {d.instance_id for d in self.damaged}
            again += f", {len(hurt)} with damaged files redone" if hurt else ""
            self.console.print(
                f"resume: {skipped} finished instance(s) skipped{again}, {len(todo)} to run", soft_wrap=True
            )
        results: queue.Queue[InstanceRecord | None] = queue.Queue()
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
        try:
            with progress:
                bar = progress.add_task(
                    "instances",
                    total=len(tasks),
                    completed=skipped,
                    resolved=stats["resolved"],
                    cost=stats["cost"],
                )
                self.pool.start(self, todo, work, results)
                while True:
                    try:
                        rec = results.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    if rec is None:  # the pool ran out of work
                        break
                    stats["resolved"] += rec.resolved
                    stats["cost"] += rec.cost
                    progress.update(bar, advance=1, resolved=stats["resolved"], cost=stats["cost"])
                    progress.console.print(self._line(rec), soft_wrap=True)
        except KeyboardInterrupt:
            self._interrupt()
            return False
        finally:
            self.watchdog.stop()
            self.pool.close()
        return True

    def one(self, task: Task, work: Work) -> InstanceRecord | None:
        """Solve one instance here: wipe an earlier attempt, run `work` inside the boundary, finish it."""
        self.reset_instance(task.instance_id)
        self.event("start", task.instance_id)
        rec = attempt(task, work, self.context)
        if rec is None:
            self.event("interrupted", task.instance_id)
            return None
        self.finish(rec)
        return rec

    def _interrupt(self) -> None:
        """Ctrl-C: take no new work, close every container, let the pool wind down within seconds."""
        self.stopping.set()
        self.console.print("[yellow]interrupted: closing containers; finished instances are kept[/]")
        self.watchdog.close_all()
        try:
            self.pool.interrupt(self)
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
        where = f"  on {rec.node[:12]}" if rec.node else ""
        return scrub_text(f"{rec.instance_id}: {mark}  {how}  {rec.duration:.0f}s{where}{extra}")


# ----------------------------------------------------------------------------- the pool


def containers_per_instance(config: RunConfig) -> int:
    """The most containers one instance holds at once: its select runs in flight, else one."""
    search = config.search
    return min(search.concurrency, search.n) if search.uses_select else 1


def make_pool(config: RunConfig) -> Pool:
    """The pool of `--executor`: threads here, or Ray tasks (eval.batch.ray_pool)."""
    if config.executor == "ray":
        return ray_pool().RayPool(config.ray, config.workers, containers_per_instance(config))
    return ThreadPool(config.workers)


def ray_pool() -> ModuleType:
    """eval.batch.ray_pool, imported on use: Ray is an optional extra."""
    try:
        import eval.batch.ray_pool
    except ModuleNotFoundError as e:
        if e.name != "ray":
            raise
        raise RunnerError("--executor ray needs Ray: pip install 'swe-search[ray]'") from None
    return eval.batch.ray_pool
