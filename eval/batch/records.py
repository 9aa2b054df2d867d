"""Records and run-folder I/O: what a run folder holds, how an instance's outcome is decided, and
the files that record it. Light on purpose: `eval.report.run_report` reads run folders through this module
without loading docker, openai or the search's runs (only the selection facts of search.select).

Run folder (`out/`):
    run.json                         the run id (container label), stable for the folder
    config.yaml                      the effective config, secrets redacted
    events.jsonl                     append-only log: one `start` per instance attempt, `done`, `error`
    trajectories/<id>/run-<i>/...    every run of the instance (search.solve writes them)
    grades/<id>.json                 the grade of every run, and which run was chosen
    instances/<id>/done.json         written last, atomically: the instance is finished
    preds.jsonl                      swebench predictions of the chosen runs
    report.json, report.md, plots/   see eval.report.run_report

Statuses (done.json `status`): the OUTCOME of an attempt is separate from whether it HAPPENED.
    ok       the model's attempt finished and was graded (resolved, unresolved, empty_patch, ...)
    timeout  the instance ran out of its time (the agent stopped itself at its share of the
             deadline, or the watchdog stopped it): a finished attempt, graded with what it had
    error    the attempt did not happen for reasons that are not the model's doing
             (`error_kind`: env_error, policy_error, infra_error, image_missing, container_error,
             run_error, node_lost, exception; `error` says why)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from agent.redaction import scrub
from agent.trajectory import READABLE_VERSIONS as READABLE_TRAJECTORIES
from agent.trajectory import ExitStatus, Trajectory
from envs.files import write_atomic
from envs.tasks import check_instance_id, read_jsonl
from envs.types import Task, TaskSourceError
from search.select import mean_q

log = logging.getLogger(__name__)

RECORD_SCHEMA_VERSION = 2
"""2: status `error` for infrastructure failures (error_kind), runs' failure_kind/failure."""
FROM_PREDICTIONS = "from_predictions"
"""The exit status of a run that `swe-search eval` graded from a predictions file (no agent ran)."""
INFRA_EXIT_STATUSES = (ExitStatus.env_error.value, ExitStatus.policy_error.value)
"""Exit statuses of a run that mean the infrastructure failed it, not the model (format_error and
context_overflow are the model's own)."""


class RunnerError(RuntimeError):
    """The batch cannot start (bad dataset, images missing, run folder in use)."""


class RunRecord(BaseModel):
    """One run (of the N of a selection, or the only one) of an instance, with its grade."""

    index: int = Field(description="0-based run index within the instance.")
    trajectory: str | None = Field(None, description="Trajectory path relative to the run folder.")
    exit_status: str | None = Field(None, description="Why the agent stopped (agent.trajectory.ExitStatus).")
    steps: int = Field(0, description="Agent turns.")
    cost: float = Field(0.0, description="USD spent by the policy.")
    critic_cost: float = Field(0.0, description="USD spent by the critic (an LLM judge), apart from `cost`.")
    critic_tokens: int = Field(0, description="Tokens (prompt + answer) of the LLM judge's requests.")
    critic_scores: int = Field(0, description="Scores an LLM judge gave (candidates and the final turn).")
    critic_undecided: int = Field(
        0, description="Of those, the answers with neither YES nor NO among the top tokens (scored 0.5)."
    )
    final_q: float | None = Field(
        None, description="Q of the final (submit) action, when a critic scored it."
    )
    mean_q: float | None = Field(None, description="Mean Q of the chosen actions over scored steps.")
    submitted: bool = Field(False, description="The run ended with `submit`.")
    patch_empty: bool = Field(True, description="The run's patch is empty.")
    grade_status: str = Field(
        "not_graded",
        description="resolved | unresolved | empty_patch | patch_failed | test_timeout | infra_error.",
    )
    resolved: bool = Field(False, description="The tests pass with this run's patch.")
    failure_kind: str | None = Field(
        None,
        description="Set when the run failed for infrastructure reasons: env_error, policy_error, "
        "infra_error (grading), image_missing, container_error or run_error.",
    )
    failure: str | None = Field(None, description="Why the run failed, when failure_kind is set.")


class InstanceRecord(BaseModel):
    """instances/<id>/done.json: the outcome of one instance. Its presence marks the instance finished."""

    schema_version: int = Field(RECORD_SCHEMA_VERSION, description="Version of this format.")
    instance_id: str = Field(description="The task's instance id.")
    status: Literal["ok", "error", "timeout"] = Field(
        description="ok: the model's attempt finished and was graded; timeout: the instance ran out of "
        "time (by the agent's own stop or the watchdog); error: the attempt failed for infrastructure "
        "reasons, not the model's (see error_kind); error instances are redone on resume."
    )
    error: str | None = Field(None, description="Why, for status error/timeout.")
    error_kind: str | None = Field(
        None,
        description="For status error: env_error | policy_error | infra_error | image_missing | "
        "container_error | run_error | node_lost (Ray: the node or worker died more often than "
        "ray.max_retries) | exception (the runner's own boundary caught it); "
        "for status timeout: timeout.",
    )
    chosen: int | None = Field(None, description="Index of the chosen run (the prediction).")
    model_patch: str = Field("", description="The chosen run's patch.")
    exit_status: str = Field("error", description="The chosen run's exit status, or the instance status.")
    grade_status: str = Field("not_graded", description="The chosen run's grade status.")
    resolved: bool = Field(False, description="The chosen run resolves the task.")
    runs: list[RunRecord] = Field(default_factory=list, description="Every run, graded.")
    cost: float = Field(0.0, description="USD over all runs (the policy's).")
    critic_cost: float = Field(0.0, description="USD of an LLM judge over all runs.")
    duration: float = Field(0.0, description="Wall seconds for the instance (solve + grade).")
    grading_time: float = Field(0.0, description="Wall seconds spent grading.")
    started_at: float = Field(0.0, description="Unix time the attempt started.")
    finished_at: float = Field(0.0, description="Unix time the attempt finished.")
    node: str | None = Field(
        None, description="The Ray node id the instance ran on (--executor ray); None with threads."
    )


# ----------------------------------------------------------------------------- run folder


def done_path(out: Path, instance_id: str) -> Path:
    return out / "instances" / instance_id / "done.json"


@dataclass(frozen=True)
class Damaged:
    """A file of a run folder that could not be read back: which, why, and the instance it belongs to."""

    path: Path
    problem: str
    instance_id: str | None = None

    def line(self) -> str:
        return f"{self.path}: {self.problem}"


def _why(e: Exception) -> str:
    """An exception as one short line (pydantic's errors span several)."""
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else text[:197] + "..."


def read_records(out: Path) -> tuple[dict[str, InstanceRecord], list[Damaged]]:
    """Every finished instance of a run folder by instance id, and the done.json files that could not
    be read (truncated, not JSON, not a record, or naming another instance): those count as unfinished."""
    records, damaged = {}, []
    for p in sorted((out / "instances").glob("*/done.json")):
        iid = p.parent.name
        try:
            rec = InstanceRecord.model_validate_json(p.read_bytes())
        except (OSError, ValueError) as e:  # pydantic's ValidationError is a ValueError
            damaged.append(Damaged(p, f"is not a readable record ({_why(e)})", iid))
            continue
        if rec.instance_id != iid:
            damaged.append(Damaged(p, f"names instance {rec.instance_id!r}, not its folder's {iid!r}", iid))
            continue
        records[iid] = rec
    return records, damaged


def load_records(out: Path) -> dict[str, InstanceRecord]:
    """Every finished instance of a run folder, by instance id (damaged records left out: read_records)."""
    return read_records(out)[0]


def load_trajectory(
    out: Path, run: RunRecord, instance_id: str
) -> tuple[dict[str, Any] | None, Damaged | None]:
    """The trajectory a run's record points to, as a JSON object of agent's schema version with a
    list of steps (what the report reads), or why not.

    (None, None) when the run has none (it never started). A path that leaves the run folder, a
    missing file and a file that is not a trajectory are all damage."""
    if not run.trajectory:
        return None, None
    path = out / run.trajectory
    try:
        if not path.resolve().is_relative_to(out.resolve()):
            return None, Damaged(path, "lies outside the run folder", instance_id)
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError(f"a {type(data).__name__}, not an object")
        if data.get("schema_version") not in READABLE_TRAJECTORIES:  # 1 is read with a note (usage_note)
            readable = ", ".join(map(str, READABLE_TRAJECTORIES))
            raise ValueError(f"schema_version {data.get('schema_version')!r}, this code reads {readable}")
        steps = data.get("steps")
        if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
            raise ValueError("no list of steps")  # what the report reads
    except FileNotFoundError:
        return None, Damaged(path, "is missing", instance_id)
    except (OSError, ValueError, AttributeError) as e:
        return None, Damaged(path, f"is not a readable trajectory ({_why(e)})", instance_id)
    return data, None


def damaged_trajectories(out: Path, rec: InstanceRecord) -> list[Damaged]:
    """The trajectories `rec` depends on that cannot be read back."""
    return [bad for run in rec.runs if (bad := load_trajectory(out, run, rec.instance_id)[1]) is not None]


def read_config(out: Path) -> tuple[dict[str, Any] | None, Damaged | None]:
    """The run folder's saved config.yaml: (config, None), (None, None) when absent, (None, why) when damaged."""
    path = out / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        return None, Damaged(path, f"is not readable YAML ({_why(e)})")
    if not isinstance(data, dict):
        return None, Damaged(path, f"holds a {type(data).__name__}, not a config")
    return data, None


def write_preds(out: Path, records: dict[str, InstanceRecord], model_name: str) -> Path:
    """preds.jsonl in swebench format, one line per finished instance, sorted by id."""
    lines = [
        json.dumps(
            scrub({"instance_id": i, "model_name_or_path": model_name, "model_patch": records[i].model_patch})
        )
        for i in sorted(records)
    ]
    path = out / "preds.jsonl"
    write_atomic(path, "".join(line + "\n" for line in lines))
    return path


def read_preds(path: Path) -> dict[str, dict[str, Any]]:
    """A swebench predictions file (.jsonl, or a .json list/mapping) keyed by instance id."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            listed = list(data.values()) if isinstance(data, dict) else data
            rows = [(f"{path} row {i}", row) for i, row in enumerate(listed)]
        else:
            rows = [(f"{path} line {number}", row) for number, row in read_jsonl(path)]
    except json.JSONDecodeError as e:
        raise RunnerError(f"{path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except ValueError as e:  # read_jsonl's, naming the line
        raise RunnerError(f"{path}: {e}") from None
    preds = {}
    for where, row in rows:
        if not isinstance(row, dict):
            raise RunnerError(f"{where}: a prediction must be a JSON object, not {type(row).__name__}")
        if "instance_id" not in row:
            raise RunnerError(f"{where}: a prediction has no instance_id: {str(row)[:200]}")
        try:
            check_instance_id(row["instance_id"], where)
        except TaskSourceError as e:
            raise RunnerError(str(e)) from None
        preds[row["instance_id"]] = row
    return preds


def stable_run_id(out: Path, requested: str | None = None) -> str:
    """The run id of a run folder: the one in run.json, else `requested`, else one derived from the path."""
    meta = out / "run.json"
    saved = read_run_id(out)
    if saved is not None:
        if requested and requested != saved:
            raise RunnerError(f"{out} belongs to run id {saved!r}, not {requested!r}; use another --out")
        return saved
    if meta.exists():
        log.warning("%s is damaged (no run id in it); it is written again", meta)
    digest = hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:8]
    run_id = requested or f"{out.resolve().name}-{digest}"
    write_atomic(meta, json.dumps({"run_id": run_id, "created": time.time()}, indent=1))
    return run_id


def read_run_id(out: Path) -> str | None:
    """The run id saved in run.json; None when the file is absent or damaged."""
    try:
        run_id = json.loads((out / "run.json").read_bytes()).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    return run_id if isinstance(run_id, str) and run_id else None


def shard_tasks(tasks: list[Task], index: int, count: int) -> list[Task]:
    """Shard `index` of `count`: sort by instance id, then every count-th task starting at index."""
    return sorted(tasks, key=lambda t: t.instance_id)[index::count]


def save_config(out: Path, config: dict[str, Any]) -> Path:
    """config.yaml in the run folder, secrets redacted."""
    path = out / "config.yaml"
    write_atomic(path, yaml.safe_dump(scrub(config), sort_keys=False, allow_unicode=True))
    return path


# ----------------------------------------------------------------------------- outcomes


def run_record(out: Path, index: int, traj: Trajectory, traj_path: Path | None) -> RunRecord:
    """Summarise one trajectory (before grading)."""
    status = traj.exit_status.value if traj.exit_status is not None else None
    rel = None
    if traj_path is not None and traj_path.exists():
        rel = str(traj_path.resolve().relative_to(out.resolve()))
    return RunRecord(
        index=index,
        trajectory=rel,
        exit_status=status,
        steps=len(traj.steps),
        cost=traj.stats.usage.cost,
        critic_cost=traj.stats.critic_usage.cost,
        critic_tokens=traj.stats.critic_usage.tokens,
        critic_scores=sum(c.critic_tokens is not None for s in traj.steps for c in s.candidates)
        + (traj.final_q_tokens is not None),
        critic_undecided=traj.stats.critic_undecided,
        final_q=traj.final_q,
        mean_q=mean_q(traj.steps),
        submitted=traj.exit_status == ExitStatus.submitted,
        patch_empty=not traj.patch.strip(),
    )


def failed_record(
    task: Task, status: Literal["error", "timeout"], error: str, started: float, kind: str | None = None
) -> InstanceRecord:
    now = time.time()
    return InstanceRecord(
        instance_id=task.instance_id,
        status=status,
        error=error,
        error_kind=kind or ("timeout" if status == "timeout" else "exception"),
        exit_status=status,
        started_at=started,
        finished_at=now,
        duration=now - started,
    )


def instance_outcome(
    runs: list[RunRecord], chosen: int | None, deadline_hit: bool, limit: float | None = None
) -> tuple[Literal["ok", "error", "timeout"], str | None, str | None]:
    """(status, error_kind, error) of an instance from its runs.

    timeout when its deadline hit; error when every run failed for infrastructure reasons or the
    chosen run's grade could not be decided (infra_error); else ok.
    """
    if deadline_hit:
        return "timeout", "timeout", f"the instance ran out of its {limit or 0:g} s (--instance-timeout)"
    pick = runs[chosen] if chosen is not None and chosen < len(runs) else None
    failed = [r for r in runs if r.failure_kind]
    if pick is not None and pick.failure_kind == "infra_error":
        return "error", pick.failure_kind, pick.failure
    if runs and len(failed) == len(runs):
        first = pick if pick is not None and pick.failure_kind else failed[0]
        return "error", first.failure_kind, first.failure
    return "ok", None, None


def is_infra_failure(rec: InstanceRecord) -> bool:
    """Whether an instance's attempt failed for infrastructure reasons (redone on every resume).

    Records of schema 1 (status ok whatever happened) are judged by their runs' exit and grade statuses.
    """
    if rec.status == "error":
        return True
    if rec.status != "ok" or rec.schema_version >= 2 or not rec.runs:
        return False
    bad = [
        r.exit_status in (*INFRA_EXIT_STATUSES, "error") or r.grade_status == "infra_error" for r in rec.runs
    ]
    pick_bad = (
        rec.chosen is not None
        and rec.chosen < len(bad)
        and rec.runs[rec.chosen].grade_status == "infra_error"
    )
    return all(bad) or pick_bad


def reason_key(rec: InstanceRecord) -> str:
    """An error message with the instance id taken out: the same cause reads the same everywhere."""
    return f"{rec.error_kind}: {(rec.error or '').replace(rec.instance_id, '<instance>')}"


def failure_summary(records: list[InstanceRecord]) -> tuple[bool, str | None]:
    """(every instance failed for infrastructure reasons, a one-paragraph message or None)."""
    failed = [r for r in records if r.status == "error"]
    if not failed:
        return False, None
    reasons: dict[str, list[str]] = {}
    for r in failed:
        reasons.setdefault(reason_key(r), []).append(r.instance_id)
    every = len(failed) == len(records)
    head = (
        f"all {len(failed)} instance(s) failed"
        if every
        else f"{len(failed)} of {len(records)} instance(s) failed for infrastructure reasons (not counted as the model's)"
    )
    if len(reasons) == 1:
        body = f"{head}: {next(iter(reasons))}"
    else:
        parts = [f"{len(ids)} x {key}" for key, ids in sorted(reasons.items(), key=lambda kv: -len(kv[1]))]
        body = head + ":\n  " + "\n  ".join(parts)
    return every, body + "\nrerun the same command to redo them once the cause is fixed"


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
