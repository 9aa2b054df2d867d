"""One instance's work: `solve_and_grade` (swe-search run: search.solve under the watchdog, then grade
every run) and `grade_prediction` (swe-search eval), with the grade files and the instance record
they write. Each is the `work` a Runner calls per task (eval.batch.executor.Work: a task and a Context, never
the Runner); `SolveAndGrade` is solve_and_grade bound to a batch, picklable for Ray workers."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import docker.errors

from agent.policies import PolicyFor, policy_factory
from agent.redaction import PATCH_WITHHELD, carries_secret, scrub, scrub_text
from agent.trajectory import ExitStatus
from critic.factory import make_critic
from critic.protocol import Critic
from envs.docker import DockerEnv
from envs.files import write_atomic
from envs.settings import ContainerSettings
from envs.types import Env, EnvError, ImageNotFound, Task
from eval.batch.config import RunConfig
from eval.batch.executor import Context, Interrupted
from eval.batch.prepare import Batch, register_secrets
from eval.batch.records import (
    FROM_PREDICTIONS,
    INFRA_EXIT_STATUSES,
    InstanceRecord,
    RunRecord,
    instance_outcome,
    run_record,
)
from eval.batch.watchdog import call_with_deadline
from eval.grading import grade
from search.solve import SolveResult, solve, trajectory_path

GRACE_SECONDS = 120.0
"""How long after closing a late instance's containers the runner waits for its thread to return
(at least one policy call: a local model on a loaded CPU can take a minute per step)."""
AGENT_DEADLINE_SHARE = 0.9
"""The agent stops itself (between steps, keeping its patch) at this share of the instance timeout;
its model and critic calls end by then too (agent.deadline)."""
SECRET_IN_PATCH = ExitStatus.secret_in_patch.value


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
        critic_cost=sum(r.critic_cost for r in runs),
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
    trajectories/<id>/run-<i>/trajectory.json finds its own grade (critic.data.runs matches by name).
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


_MADE: dict[str, tuple[PolicyFor, Critic | None]] = {}
_MADE_LOCK = threading.Lock()


class SolveAndGrade:
    """The work of `swe-search run`: solve_and_grade with a batch's config, policy and critic.

    Picklable, for Ray: only the config travels, and another process makes the policy and the
    critic again from it, once per process. They must then be reachable from there: URLs, or
    checkpoint folders at the same path on every node (`tiny` means the one in the driver's run folder).
    """

    def __init__(
        self, config: RunConfig, policy_for: PolicyFor | None, critic: Critic | None, out: Path | None = None
    ) -> None:
        if config.critic == "tiny" and out is not None:  # make_critic made it there; find it from anywhere
            config = config.model_copy(update={"critic": str((out / "critic-tiny").resolve())})
        self.config, self.policy_for, self.critic = config, policy_for, critic

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.config, self.policy_for, self.critic = state["config"], None, None

    def __call__(self, task: Task, ctx: Context) -> InstanceRecord:
        if self.policy_for is None:  # unpickled in another process: inside the instance's boundary
            self.policy_for, self.critic = made_here(self.config)
        return solve_and_grade(task, ctx, self)


def made_here(config: RunConfig) -> tuple[PolicyFor, Critic | None]:
    """The policy factory and critic of `config` in this process (a Ray worker): made once, kept."""
    key = config.model_dump_json()
    with _MADE_LOCK:
        if key not in _MADE:
            register_secrets(config)
            _MADE[key] = (
                policy_factory(config.model, config.base_url, **config.policy),
                make_critic(config.critic, Path.cwd(), config.judge),
            )
        return _MADE[key]


def solve_and_grade(task: Task, ctx: Context, batch: Batch | SolveAndGrade) -> InstanceRecord:
    """One instance of `swe-search run`: search.solve under the watchdog, then grade every run.

    `batch` gives the config, the policy and the critic."""
    started = time.time()
    cfg, out = batch.config, ctx.out
    # the agent also stops itself at the instance deadline, between steps (the watchdog is the backstop)
    own_deadline = AGENT_DEADLINE_SHARE * cfg.instance_timeout
    agent_cfg = cfg.agent.model_copy(update={"wall_time": min(cfg.agent.wall_time, own_deadline)})
    with ctx.watchdog.watch(task.instance_id, cfg.instance_timeout) as inst:

        def make_env(t: Task, index: int) -> Env:
            if ctx.stopping.is_set():
                raise Interrupted(t.instance_id)
            try:
                env = DockerEnv(t, run_id=ctx.run_id, container=cfg.container)
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
    if ctx.stopping.is_set():
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
        if timed_out and rec.exit_status in (None, ExitStatus.env_error, "error"):  # "error": it crashed
            rec.exit_status, rec.failure_kind, rec.failure = ExitStatus.timeout.value, None, None
        to_grade.append((rec, withhold_secret(rec, outcome.patch if traj is None else traj.patch)))
    runs = [rec for rec, _ in to_grade]
    # the agent stopping itself at the instance's deadline is the same timeout as the watchdog's
    own_stop = agent_cfg.wall_time >= own_deadline and any(r.exit_status == ExitStatus.timeout for r in runs)
    if not timed_out and not own_stop and all(r.failure_kind for r in runs):
        grading = 0.0  # nothing the model did to grade: the instance is redone on resume
    else:
        entries, grading = _grade_runs(task, to_grade, out, ctx.run_id, cfg.grade_timeout, cfg.container)
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
    task: Task, ctx: Context, patch: str, timeout: float, container: ContainerSettings | None = None
) -> InstanceRecord:
    """One instance of `swe-search eval`: grade a given patch (under `container`'s limits)."""
    started = time.time()
    rec = RunRecord(index=0, exit_status=FROM_PREDICTIONS, patch_empty=not patch.strip())
    patch = withhold_secret(rec, patch)
    entries, grading = _grade_runs(task, [(rec, patch)], ctx.out, ctx.run_id, timeout, container)
    _write_grades(ctx.out, task.instance_id, 0, entries)
    status, kind, why = instance_outcome([rec], 0, False)
    return _instance_record(task, status, [rec], 0, patch, started, grading, kind, why)
