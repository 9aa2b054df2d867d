"""The batch runner: W worker threads solve and grade instances, resumably, under a per-instance deadline.

The run folder and the statuses of its records are described in eval.records; the watchdog that
stops a late instance is eval.watchdog.

Resume: an instance is finished when its done.json exists with status ok or timeout; instances
with status error are redone by every rerun (`--retry-errors` also redoes timeouts). Anything an
unfinished instance left is wiped and it is redone. At start the runner removes the containers a
killed earlier attempt left behind, and refuses a run id whose containers belong to a live process.
"""

from __future__ import annotations

import glob
import json
import os
import queue
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import yaml
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

from agent.policies import PolicyFor, policy_factory
from agent.redaction import PATCH_WITHHELD, carries_secret, register_secret, scrub, scrub_text
from agent.trajectory import ExitStatus
from critic.factory import make_critic
from critic.protocol import Critic
from envs.container import cleanup, live_owners
from envs.docker import DockerEnv
from envs.engine import ensure_docker
from envs.files import write_atomic
from envs.images import build_task_images
from envs.settings import ContainerSettings
from envs.tasks import load_tasks
from envs.types import Env, EnvError, ImageNotFound, Task
from eval.config import RunConfig, parse_shard
from eval.grading import grade
from eval.preflight import check_host, check_tasks
from eval.records import (
    FROM_PREDICTIONS,
    INFRA_EXIT_STATUSES,
    InstanceRecord,
    RunnerError,
    RunRecord,
    done_path,
    failed_record,
    instance_outcome,
    is_infra_failure,
    load_records,
    read_preds,
    reason_key,
    run_record,
    save_config,
    shard_tasks,
    stable_run_id,
    write_preds,
)
from eval.watchdog import ABANDONED, InstanceTimeout, Watchdog, call_with_deadline
from search.solve import SolveResult, solve, trajectory_path

GRACE_SECONDS = 120.0
"""How long after closing a late instance's containers the runner waits for its thread to return
(at least one policy call: a local model on a loaded CPU can take a minute per step)."""
AGENT_DEADLINE_SHARE = 0.9
"""The agent stops itself (between steps, keeping its patch) at this share of the instance timeout;
its model and critic calls end by then too (agent.deadline)."""
SECRET_IN_PATCH = ExitStatus.secret_in_patch.value
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


# ----------------------------------------------------------------------------- solve + grade


def _grade_runs(
    task: Task,
    runs: list[tuple[RunRecord, str]],
    out: Path,
    run_id: str,
    timeout: float,
    container: ContainerSettings | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """Grade every run's patch; fill in the records; return the grade entries and the time it took."""
    t0 = time.monotonic()
    entries = []
    for rec, patch in runs:
        g = grade(task, patch, run_id=run_id, timeout=timeout, container=container)
        rec.grade_status, rec.resolved = str(getattr(g.status, "value", g.status)), bool(g.resolved)
        if rec.grade_status == "infra_error" and not rec.failure_kind:
            rec.failure_kind, rec.failure = "infra_error", f"grading failed: {g.message}"
        log_path = out / "grades" / "logs" / task.instance_id / f"run-{rec.index}.log"
        write_atomic(log_path, scrub_text(g.log or ""))
        entries.append(
            {
                "index": rec.index,
                "status": rec.grade_status,
                "resolved": rec.resolved,
                "message": PATCH_WITHHELD if rec.exit_status == SECRET_IN_PATCH else g.message,
                "patch": patch,
                "report": g.report,
            }
        )
    return entries, time.monotonic() - t0


def _instance_record(
    task: Task,
    status: str,
    runs: list[RunRecord],
    chosen: int | None,
    patch: str,
    started: float,
    grading: float,
    error_kind: str | None = None,
    error: str | None = None,
) -> InstanceRecord:
    pick = runs[chosen] if chosen is not None and chosen < len(runs) else None
    now = time.time()
    return InstanceRecord(
        instance_id=task.instance_id,
        status=status,  # type: ignore[arg-type]
        error=error,
        error_kind=error_kind,
        chosen=chosen,
        model_patch=patch,
        exit_status=(pick.exit_status or "unknown") if pick else "error",
        grade_status=pick.grade_status if pick else "not_graded",
        resolved=pick.resolved if pick else False,
        runs=runs,
        cost=sum(r.cost for r in runs),
        duration=now - started,
        grading_time=grading,
        started_at=started,
        finished_at=now,
    )


def _write_grades(
    out: Path, instance_id: str, chosen: int | None, entries: list[dict[str, Any]], per_run: bool = False
) -> None:
    """grades/<id>.json: every run's grade plus the chosen one's at the top level.

    With `per_run` (selection) also grades/<id>.run-<i>.json, one per run, so that each
    trajectories/<id>/run-<i>/trajectory.json finds its own grade (critic.data matches by name).
    """
    pick = entries[chosen] if chosen is not None and chosen < len(entries) else None
    body = {
        "instance_id": instance_id,
        "chosen": chosen,
        "status": pick["status"] if pick else "not_graded",
        "resolved": bool(pick and pick["resolved"]),
        "model_patch": pick["patch"] if pick else "",
        "runs": entries,
    }
    write_atomic(out / "grades" / f"{instance_id}.json", json.dumps(scrub(body), indent=1, default=str))
    if per_run:
        for e in entries:
            one = {"instance_id": instance_id, **e}
            write_atomic(
                out / "grades" / f"{instance_id}.run-{e['index']}.json",
                json.dumps(scrub(one), indent=1, default=str),
            )


def solve_and_grade(task: Task, runner: Runner, batch: Batch) -> InstanceRecord:
    """One instance of `swe-search run`: search.solve under the watchdog, then grade every run."""
    started = time.time()
    cfg, out = batch.config, runner.out
    # the agent also stops itself at the instance deadline, between steps (the watchdog is the backstop)
    own_deadline = AGENT_DEADLINE_SHARE * cfg.instance_timeout
    agent_cfg = cfg.agent.model_copy(update={"wall_time": min(cfg.agent.wall_time, own_deadline)})
    with runner.watchdog.watch(task.instance_id, cfg.instance_timeout) as inst:

        def make_env(t: Task, index: int) -> Env:
            if runner.stopping.is_set():
                raise Interrupted(t.instance_id)
            try:
                env = DockerEnv(t, run_id=runner.run_id, container=cfg.container)
            except ImageNotFound as e:  # remembered, so that the record says why (not only selection.json)
                inst.start_failures[index] = ("image_missing", str(e))
                raise
            except (EnvError, docker.errors.DockerException) as e:
                why = f"the container for {t.instance_id} could not be created: {type(e).__name__}: {e}"
                inst.start_failures[index] = ("container_error", why)
                raise
            return inst.track(env)

        def run_solve() -> SolveResult:
            return solve(
                task,
                cfg.search,
                make_env,
                batch.policy_for(task),
                batch.critic,
                agent_cfg,
                out / "trajectories" / task.instance_id,
            )

        result = call_with_deadline(run_solve, cfg.instance_timeout + GRACE_SECONDS, task.instance_id)
        timed_out = inst.expired
    if runner.stopping.is_set():
        raise Interrupted(task.instance_id)
    to_grade = []
    for outcome in result.runs:
        traj = outcome.trajectory
        if traj is None:
            rec = RunRecord(index=outcome.index, exit_status=outcome.status or "error")
            if outcome.index in inst.start_failures:
                rec.failure_kind, rec.failure = inst.start_failures[outcome.index]
            elif outcome.status != ExitStatus.budget_exhausted:  # the run crashed (a critic down, a bug, ...)
                rec.failure_kind, rec.failure = "run_error", outcome.error or outcome.status
        else:
            path = trajectory_path(out / "trajectories" / task.instance_id, outcome.index, cfg.search)
            rec = run_record(out, outcome.index, traj, path)
            if rec.exit_status in INFRA_EXIT_STATUSES:
                rec.failure_kind, rec.failure = rec.exit_status, traj.exit_message or rec.exit_status
        if timed_out and rec.exit_status in (None, "env_error", "error"):
            rec.exit_status, rec.failure_kind, rec.failure = "timeout", None, None
        to_grade.append((rec, withhold_secret(rec, outcome.patch if traj is None else traj.patch)))
    runs = [rec for rec, _ in to_grade]
    # the agent stopping itself at the instance's deadline is the same timeout as the watchdog's
    own_stop = agent_cfg.wall_time >= own_deadline and any(r.exit_status == "timeout" for r in runs)
    if not timed_out and not own_stop and all(r.failure_kind for r in runs):
        grading = 0.0  # nothing the model did to grade: the instance is redone on resume
    else:
        entries, grading = _grade_runs(task, to_grade, out, runner.run_id, cfg.grade_timeout, cfg.container)
        _write_grades(out, task.instance_id, result.chosen, entries, per_run=cfg.search.uses_select)
    status, kind, why = instance_outcome(runs, result.chosen, timed_out or own_stop, cfg.instance_timeout)
    return _instance_record(task, status, runs, result.chosen, result.patch, started, grading, kind, why)


def withhold_secret(rec: RunRecord, patch: str) -> str:
    """The patch to grade and record: withheld ('') with exit status secret_in_patch when it carries a
    known secret, so the trajectory, grades, done.json and preds all agree (see agent.redaction)."""
    if not carries_secret(patch):
        return patch
    rec.exit_status, rec.submitted, rec.patch_empty = SECRET_IN_PATCH, False, True
    return ""


def grade_prediction(
    task: Task, runner: Runner, patch: str, timeout: float, container: ContainerSettings | None = None
) -> InstanceRecord:
    """One instance of `swe-search eval`: grade a given patch (under `container`'s limits)."""
    started = time.time()
    rec = RunRecord(index=0, exit_status=FROM_PREDICTIONS, patch_empty=not patch.strip())
    patch = withhold_secret(rec, patch)
    entries, grading = _grade_runs(task, [(rec, patch)], runner.out, runner.run_id, timeout, container)
    _write_grades(runner.out, task.instance_id, 0, entries)
    status, kind, why = instance_outcome([rec], 0, False)
    return _instance_record(task, status, [rec], 0, patch, started, grading, kind, why)


# ----------------------------------------------------------------------------- batches


class Batch:
    """A prepared `swe-search run`: config, run folder, tasks, policy and critic, all checked."""

    def __init__(
        self,
        config: RunConfig,
        out: Path,
        run_id: str,
        tasks: list[Task],
        policy_for: PolicyFor,
        critic: Critic | None,
    ) -> None:
        self.config, self.out, self.run_id, self.tasks = config, out, run_id, tasks
        self.policy_for, self.critic = policy_for, critic
        self.set_aside: Path | None = None
        """Where --force moved the folder's earlier run, if it did."""


def select_tasks(
    dataset: str,
    instances: list[str] | None = None,
    slice_: str | None = None,
    filter_: str | None = None,
    shuffle: int | None = None,
    shard_spec: str | None = None,
    check: bool = True,
) -> list[Task]:
    """Load the dataset, apply the selection flags, then take this machine's shard.

    With `check`, refuse tasks that could not be graded (eval.preflight) before anything runs.
    """
    tasks = load_tasks(dataset, instances=instances, slice=slice_, filter=filter_, shuffle_seed=shuffle)
    if shard_spec:
        i, n = parse_shard(shard_spec)
        tasks = shard_tasks(tasks, i, n)
    if not tasks:
        raise RunnerError(f"no tasks selected from {dataset!r} (check --instances/--slice/--filter/--shard)")
    if check:
        check_tasks(tasks)  # each can be graded: swebench 5 fields, base commit, test patch
    return tasks


def prepare(config: RunConfig, force: bool = False) -> Batch:
    """Everything that can fail fast, before any container starts: critic, dataset, engine, policy.

    A run folder that holds a run with a different result-changing config is refused
    (see config_changes); with `force` it is moved aside to `<out>.<timestamp>` first.
    """
    out = config.resolved_out()
    moved = set_aside(out) if force else None
    out.mkdir(parents=True, exist_ok=True)
    lock_folder(out)
    try:
        check_resume(out, config.public_dict())
        batch = _prepare(config, out)
    except BaseException:
        unlock_folder(out)
        raise
    batch.set_aside = moved
    return batch


def _prepare(config: RunConfig, out: Path) -> Batch:
    for url in (config.base_url, config.critic):  # user:password@ in a URL: scrubbed everywhere
        if url and "://" in url:  # a critic checkpoint path is no secret
            register_secret(url)
    register_secret(config.policy.get("api_key"))
    critic = make_critic(config.critic, out)
    config.search.check_critic(critic)
    tasks = select_tasks(
        config.dataset, config.instances, config.slice, config.filter, config.shuffle, config.shard
    )
    policy_for = policy_factory(config.model, config.base_url, **config.policy)
    check_tasks = getattr(policy_for, "check_tasks", None)
    if callable(check_tasks):  # e.g. the testbed policy needs every task's gold patch and decoys
        check_tasks(tasks)
    check_host(config.container, ensure_docker())
    run_id = stable_run_id(out, config.run_id)
    check_run_id(run_id)
    return Batch(config, out, run_id, tasks, policy_for, critic)


def lock_folder(out: Path) -> None:
    """Claim the run folder for this process; refuse when a live process holds it."""
    lock = out / "run.lock"
    if lock.exists():
        try:
            pid = int(lock.read_text().strip() or 0)
        except ValueError:
            pid = 0
        if pid and pid != os.getpid() and _alive(pid):
            raise RunnerError(f"{out} is in use by process {pid}; wait for it or stop it first")
    write_atomic(lock, str(os.getpid()))


def unlock_folder(out: Path) -> None:
    lock = out / "run.lock"
    if lock.exists() and lock.read_text().strip() == str(os.getpid()):
        lock.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


NOT_RESULT_CHANGING = (
    "workers",
    "out",
    "run_id",
    "instance_timeout",
    "grade_timeout",
    "build_images",
    "retry_errors",
    "container",
    "search.concurrency",
    "instances",
    "slice",
    "filter",
    "shuffle",
    "shard",
    "policy.timeout",
    "policy.max_attempts",
    "policy.retry_wait",
    "policy.retry_wait_max",
    "policy.concurrency",
)
"""Config keys a resume may change: how and where the run goes (workers, timeouts that guard the
infrastructure, container resources, retries), and which instances it covers (a resume may widen
or narrow the selection; each finished instance stays valid). Every other key (model, base_url,
policy sampling, critic, search strategy/k/n/temperature/rule/seed/budget, agent limits and
prompts, dataset) changes results, so a resume that changes one is refused."""


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data}


def config_changes(saved: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, saved value, new value) for every result-changing key that differs.

    Keys only one side has (a field added or removed by an upgrade) are not compared.
    """
    if saved.get("mode", "run") != new.get("mode", "run"):
        return [("mode", saved.get("mode", "run"), new.get("mode", "run"))]
    old, now = _flatten(saved), _flatten(new)
    changes = []
    for key in sorted(old.keys() & now.keys()):
        if any(key == k or key.startswith(k + ".") for k in NOT_RESULT_CHANGING):
            continue
        a, b = old[key], now[key]
        if key == "dataset" and isinstance(a, str) and isinstance(b, str) and Path(a).exists():
            a, b = str(Path(a).resolve()), str(Path(b).resolve())
        if a != b:
            changes.append((key, old[key], now[key]))
    return changes


def check_resume(out: Path, new: dict[str, Any]) -> None:
    """Refuse to resume a run folder whose saved config differs from `new` in a result-changing key."""
    path = out / "config.yaml"
    if not path.exists():
        return
    saved = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    changes = config_changes(saved, new)
    if changes:

        def short(v: Any) -> str:
            text = repr(v)
            return text if len(text) <= 60 else text[:57] + "..."

        listed = ", ".join(f"{k} {short(a)} -> {short(b)}" for k, a, b in changes)
        raise RunnerError(
            f"{out} holds a run with another config ({listed}); resuming would mix its results with "
            "the new ones. Use another --out, or --force to move the old run aside and start afresh"
        )


def set_aside(out: Path) -> Path | None:
    """--force: move an existing run folder to `<out>.<timestamp>` (nothing is deleted); its new path."""
    if not out.exists() or not any(out.iterdir()):
        return None
    lock = out / "run.lock"
    if lock.exists():
        text = lock.read_text().strip()
        pid = int(text) if text.isdigit() else 0
        if pid and pid != os.getpid() and _alive(pid):
            raise RunnerError(f"{out} is in use by process {pid}; wait for it or stop it first")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = out.with_name(f"{out.name}.{stamp}")
    n = 1
    while target.exists():
        target, n = out.with_name(f"{out.name}.{stamp}-{n}"), n + 1
    out.rename(target)
    return target


def check_run_id(run_id: str) -> None:
    """Refuse a run id whose containers belong to another process that still runs."""
    owners = live_owners(run_id)
    if owners:
        held = ", ".join(f"process {who} ({n} container(s))" for who, n in owners.items())
        raise RunnerError(
            f"run id {run_id!r} is in use by {held}; wait for it, stop it, or pass another --run-id"
        )


def start_docker(tasks: list[Task], run_id: str, build: bool, console: Console) -> None:
    """Build missing task images and remove the containers a killed earlier attempt left
    (only those whose owner process is gone: check_run_id refused a live one)."""
    if build:
        build_task_images(tasks)
    left = cleanup(run_id)
    if left:
        console.print(f"removed {left} container(s) left by an earlier attempt of run {run_id}")


def run_batch(batch: Batch, console: Console | None = None, progress: bool = True) -> bool:
    """Solve and grade every unfinished task of `batch`; True when the batch finished, False on Ctrl-C."""
    console = console or Console(stderr=True)
    cfg = batch.config
    save_config(batch.out, cfg.public_dict())
    start_docker(batch.tasks, batch.run_id, cfg.build_images, console)
    runner = Runner(
        batch.out, batch.run_id, cfg.workers, cfg.model_name(), cfg.retry_errors, console, progress
    )
    try:
        return runner.run(batch.tasks, lambda task, r: solve_and_grade(task, r, batch))
    finally:
        cleanup(batch.run_id)
        unlock_folder(batch.out)


def match_predictions(preds_path: Path, tasks: list[Task]) -> tuple[dict[str, dict[str, Any]], list[Task]]:
    """The predictions of `preds_path` and the tasks they are for, checked for grading (eval.preflight);
    RunnerError when none matches."""
    preds = read_preds(preds_path)
    matched = [t for t in tasks if t.instance_id in preds]
    if not matched:
        sample = ", ".join(sorted(preds)[:3]) or "none"
        raise RunnerError(
            f"no prediction in {preds_path} matches a selected task of the dataset (predictions for: "
            f"{sample}); pass the --dataset they were made on"
        )
    check_tasks(matched)
    return preds, matched


def grade_predictions(
    preds_path: Path,
    tasks: list[Task],
    out: Path,
    workers: int = 1,
    run_id: str | None = None,
    timeout: float = 1800.0,
    build: bool = True,
    console: Console | None = None,
    progress: bool = True,
    container: ContainerSettings | None = None,
) -> bool:
    """`swe-search eval`: grade a predictions file; the run folder gets grades, records and preds.

    Each grading runs under `container`'s limits (default: `ContainerSettings()`).
    """
    console = console or Console(stderr=True)
    preds, tasks = match_predictions(preds_path, tasks)
    out.mkdir(parents=True, exist_ok=True)
    lock_folder(out)
    ensure_docker()
    rid = stable_run_id(out, run_id)
    try:
        check_run_id(rid)
    except RunnerError:
        unlock_folder(out)
        raise
    names = {str(p.get("model_name_or_path", "")) for p in preds.values()}
    model_name = names.pop() if len(names) == 1 else "mixed"
    save_config(
        out, {"mode": "eval", "predictions": str(preds_path), "workers": workers, "grade_timeout": timeout}
    )
    start_docker(tasks, rid, build, console)
    runner = Runner(out, rid, workers, model_name, console=console, progress=progress)

    def work(task: Task, r: Runner) -> InstanceRecord:
        patch = preds[task.instance_id].get("model_patch") or ""
        return grade_prediction(task, r, patch, timeout, container)

    try:
        return runner.run(tasks, work)
    finally:
        cleanup(rid)
        unlock_folder(out)
