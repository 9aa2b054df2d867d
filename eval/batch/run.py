"""The two batch commands: `run_batch` (swe-search run) and `grade_predictions` (swe-search eval),
each a Runner (eval.batch.runner) over the tasks with its work (eval.batch.instance) and cleanup around it. A run's
pool is the config's `executor` (eval.batch.runner.make_pool: threads, or Ray tasks)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from envs.container import cleanup
from envs.engine import ensure_docker
from envs.settings import ContainerSettings
from envs.types import Task
from eval.batch.executor import Context
from eval.batch.instance import SolveAndGrade, grade_prediction
from eval.batch.prepare import (
    Batch,
    check_run_id,
    lock_folder,
    match_predictions,
    start_docker,
    unlock_folder,
)
from eval.batch.records import (
    InstanceRecord,
    RunnerError,
    save_config,
    stable_run_id,
)
from eval.batch.runner import Runner, make_pool


def run_batch(batch: Batch, console: Console | None = None, progress: bool = True) -> bool:
    """Solve and grade every unfinished task of `batch`; True when the batch finished, False on Ctrl-C."""
    console = console or Console(stderr=True)
    cfg = batch.config
    save_config(batch.out, cfg.public_dict())
    start_docker(batch.tasks, batch.run_id, cfg.build_images, console)
    runner = Runner(
        batch.out,
        batch.run_id,
        cfg.workers,
        cfg.model_name(),
        cfg.retry_errors,
        console,
        progress,
        pool=make_pool(cfg),
    )
    try:
        return runner.run(batch.tasks, SolveAndGrade(cfg, batch.policy_for, batch.critic, batch.out))
    finally:
        cleanup(batch.run_id)
        unlock_folder(batch.out)


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

    def work(task: Task, ctx: Context) -> InstanceRecord:
        patch = preds[task.instance_id].get("model_patch") or ""
        return grade_prediction(task, ctx, patch, timeout, container)

    try:
        return runner.run(tasks, work)
    finally:
        cleanup(rid)
        unlock_folder(out)
