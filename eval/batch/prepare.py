"""Preparing a batch, before any container starts: the config, the run folder (its lock, the resume
check, --force), the tasks (selection flags, this machine's shard, pre-flight checks), the policy
and the critic, the run id and the Docker engine. Everything here fails fast with a one-line error."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from agent.policies import PolicyFor, policy_factory
from agent.redaction import register_secret
from critic.factory import make_critic
from critic.protocol import Critic
from envs.container import cleanup, live_owners
from envs.engine import ensure_docker
from envs.files import write_atomic
from envs.images import build_task_images
from envs.tasks import load_tasks
from envs.types import Task
from eval.batch.config import RunConfig, parse_shard
from eval.batch.preflight import check_host, check_tasks
from eval.batch.records import (
    RunnerError,
    pid_alive,
    read_config,
    read_preds,
    shard_tasks,
    stable_run_id,
)
from eval.batch.runner import containers_per_instance, ray_pool


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
    fields_from: str | None = None,
    spec: str | Path | None = None,
) -> list[Task]:
    """Load the dataset (rows filled from `fields_from` / `spec`, envs.rows), apply the selection
    flags, then take this machine's shard.

    With `check`, refuse tasks that could not be graded (eval.batch.preflight) before anything runs.
    """
    tasks = load_tasks(
        dataset,
        instances=instances,
        slice=slice_,
        filter=filter_,
        shuffle_seed=shuffle,
        fields_from=fields_from,
        spec=spec,
    )
    if shard_spec:
        i, n = parse_shard(shard_spec)
        tasks = shard_tasks(tasks, i, n)
    if not tasks:
        raise RunnerError(f"no tasks selected from {dataset!r} (check --instances/--slice/--filter/--shard)")
    if check:
        check_tasks(tasks)  # each can be graded: swebench 5 fields, base commit, test patch
    return tasks


def prepare(config: RunConfig, force: bool = False) -> Batch:
    """Everything that can fail fast, before any container starts: policy (its key first), critic,
    dataset, engine.

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


def register_secrets(config: RunConfig) -> None:
    """The config's known secrets, scrubbed from every file and message of this process from now on."""
    for url in (config.base_url, config.critic):  # user:password@ in a URL: scrubbed everywhere
        if url and "://" in url:  # a critic checkpoint path is no secret
            register_secret(url)
    register_secret(config.policy.get("api_key"))


def _prepare(config: RunConfig, out: Path) -> Batch:
    register_secrets(config)
    # the policy first: a missing API key is said at once, before the dataset's download (the hub
    # retries an unreachable endpoint for half a minute)
    policy_for = policy_factory(config.model, config.base_url, **config.policy)
    critic = make_critic(config.critic, out, config.judge)
    config.search.check_critic(critic)
    tasks = select_tasks(
        config.dataset,
        config.instances,
        config.slice,
        config.filter,
        config.shuffle,
        config.shard,
        fields_from=config.fields_from,
        spec=config.spec,
    )
    check_tasks = getattr(policy_for, "check_tasks", None)
    if callable(check_tasks):  # e.g. the testbed policy needs every task's gold patch and decoys
        check_tasks(tasks)
    check_host(config.container, ensure_docker())
    if config.executor == "ray":  # the cluster answers and can hold an instance's containers
        ray_pool().connect(config.ray, config.workers, containers_per_instance(config))
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
        if pid and pid != os.getpid() and pid_alive(pid):
            raise RunnerError(f"{out} is in use by process {pid}; wait for it or stop it first")
    write_atomic(lock, str(os.getpid()))


def unlock_folder(out: Path) -> None:
    lock = out / "run.lock"
    if lock.exists() and lock.read_text().strip() == str(os.getpid()):
        lock.unlink()


NOT_RESULT_CHANGING = (
    "workers",
    "executor",
    "ray",
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
    "judge.concurrency",
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
    saved, damaged = read_config(out)
    if saved is None:
        finished = len(list((out / "instances").glob("*/done.json")))
        if not finished:  # a fresh folder, or one whose run never finished an instance
            return
        problem = damaged.problem if damaged else "is missing"
        raise RunnerError(
            f"{out} holds {finished} finished instance(s) but its config.yaml {problem}, so nothing says "
            "which config made them; resuming could mix another model's results with them. Use another "
            "--out, or --force to move the old run aside and start afresh"
        )
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
        if pid and pid != os.getpid() and pid_alive(pid):
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


def match_predictions(preds_path: Path, tasks: list[Task]) -> tuple[dict[str, dict[str, Any]], list[Task]]:
    """The predictions of `preds_path` and the tasks they are for, checked for grading (eval.batch.preflight);
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
