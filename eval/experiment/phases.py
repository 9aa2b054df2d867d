"""`swe-search experiment`: the paper's pipeline as one resumable command.

For every seed S of `seeds` (a full replicate), in `out/seed-S/`:
1. collect/    M rollouts per train task at temperature T, every one graded (strategy select,
               n=M, rule random: a plain `swe-search run` folder, the critic's training data);
2. train/      `critic train` on collect/ (+ `critic.data`): init/ (the tiny critic made from
               scratch, when `critic.model: tiny`) and critic/ (checkpoint, metrics.json);
3. evaluate/   three pools of R runs per held-out task, each a run folder:
               base/      select n=R with the learned critic (every run single, with its final Q):
                          base = the mean over runs; select@N, random@N and oracle@N over N-subsets;
               lookahead/ lookahead+select n=R, K candidates: lookahead = the mean; both@N;
               const/     the same with a constant critic (tie_break first): the control, = base;
               and for each other critic of `critics` (an LLM judge):
               lookahead-<critic>/ its own lookahead pool;
               select-<critic>/    its final Q of the base pool's runs (scores.json): its select@N
                                   without running the base pool again;
4. report      out/experiment.json, experiment.md and plots/ (eval.experiment.report): a row per critic.

`critics` (default [learned]) names the critics compared. Without `learned`, phases 1 and 2 are
skipped and the first judge runs the base and lookahead pools.

With `split: {kind: folds, by: library, k: K}` (cross-validation, eval.experiment.layout): collect/
holds M rollouts of every task, once; then each fold F trains its own critic in fold-F/train/ on the
other folds' collected runs (train/data/, hard links into collect/; the tiny tokenizer's corpus is
that data too) and runs the three pools on its own tasks in fold-F/evaluate/. With `evaluate.model`
or `evaluate.policy` the pools run another policy than the one collected (the cross-policy cell).

A phase folder holds `phase.json` (its plan, written when it starts) and `complete.json` (written
last). A complete phase is skipped; an unfinished one is continued (the runner skips finished
instances, critic train resumes between epochs); a plan that differs from the config is an
error, never mixed. Inside an instance runs go one at a time (search.concurrency=1) so that a
policy whose draws are counted per conversation state gives the same runs on every resume;
instances run on `run.workers` threads.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from agent.policies import policy_factory
from agent.redaction import scrub
from agent.testbed_task import library_of
from critic.backbones import BACKBONES
from envs.engine import ensure_docker
from envs.files import write_atomic
from envs.types import Task
from eval.batch.config import RunConfig
from eval.batch.prepare import lock_folder, prepare, select_tasks, unlock_folder
from eval.batch.records import load_records
from eval.batch.run import run_batch
from eval.experiment.config import LEARNED, TINY, ExperimentConfig, SplitRule, TaskSelection
from eval.experiment.layout import (
    COMPLETE,
    PLAN,
    POOLS,
    SCORES,
    Fold,
    Splits,
    base_critic,
    checkpoint_dir,
    lookahead_pool,
    phase_dir,
    pool_dir,
    rescore_dir,
    seed_dir,
)
from eval.report import run_report as run_reports

FREE_RUN_FIELDS = {"out", "run_id", "workers", "build_images", "retry_errors"}
"""RunConfig fields that change no result: a phase may be continued with other values."""


class ExperimentError(ValueError):
    """The experiment cannot go on as configured (a phase folder of another config, a bad split)."""


# ----------------------------------------------------------------------------- splits


def group_of(task: Task, by: str) -> str:
    """The fold group of a task: its library (`by: library`, from the instance id) or an instance field."""
    if by == "library":
        return library_of(task.instance_id)
    value = task.instance.get(by, getattr(task, by, None))
    if value in (None, ""):
        raise ExperimentError(f"{task.instance_id} has no field {by!r} to make folds by (split.by)")
    return str(value)


def deal_folds(groups: dict[str, list[str]], k: int) -> list[list[str]]:
    """Groups (name -> instance ids) dealt into k folds: the largest group first (ties by name), each
    to the fold with the fewest tasks so far (ties: the lower fold). Each fold's groups, sorted."""
    if k > len(groups):
        raise ExperimentError(
            f"split.k is {k} but there are only {len(groups)} group(s): {', '.join(groups)}"
        )
    folds: list[list[str]] = [[] for _ in range(k)]
    sizes = [0] * k
    for name in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        target = min(range(k), key=lambda i: (sizes[i], i))
        folds[target].append(name)
        sizes[target] += len(groups[name])
    return [sorted(f) for f in folds]


def fold_splits(tasks: list[Task], rule: SplitRule, dataset: str) -> Splits:
    """Every task collected and held out once: the folds of `rule` (kind folds) over `tasks`."""
    assert rule.k is not None
    group_of_id = {t.instance_id: group_of(t, rule.by) for t in tasks}
    groups: dict[str, list[str]] = {}
    for iid, g in sorted(group_of_id.items()):
        groups.setdefault(g, []).append(iid)
    everything = sorted(group_of_id)
    folds = []
    for names in deal_folds(groups, rule.k):
        held = sorted(i for g in names for i in groups[g])
        folds.append(Fold(names, sorted(set(everything) - set(held)), held))
    return Splits(dataset, dataset, everything, everything, folds, group_of_id)


def _split_file(rule: SplitRule, dataset: str) -> Path:
    path = Path(rule.file)
    return path if path.is_absolute() else Path(dataset) / path


def split_tasks(tasks: list[Task], rule: SplitRule, dataset: str) -> tuple[list[str], list[str]]:
    """(train ids, held-out ids) of one dataset's tasks by `rule` (see SplitRule)."""
    import re

    train_of: Callable[[Task], bool]
    held_of: Callable[[Task], bool] | None
    if rule.kind == "file":
        path = _split_file(rule, dataset)
        if not path.is_file():
            raise ExperimentError(f"split file {path} not found (split.file is relative to the dataset)")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or not data.get("train"):
            raise ExperimentError(f"{path} must hold `train: [library, ...]` and `heldout: [...]`")
        train_libs, held_libs = set(data["train"]), set(data.get("heldout") or [])
        if train_libs & held_libs:
            raise ExperimentError(f"{path}: libraries in both splits: {sorted(train_libs & held_libs)}")
        train_of = lambda t: library_of(t.instance_id) in train_libs  # noqa: E731
        held_of = (lambda t: library_of(t.instance_id) in held_libs) if held_libs else None
    elif rule.kind == "regex":
        train_re = re.compile(str(rule.train))
        held_re = re.compile(str(rule.heldout)) if rule.heldout else None
        train_of = lambda t: bool(train_re.search(t.instance_id))  # noqa: E731
        held_of = (lambda t: bool(held_re.search(t.instance_id))) if held_re else None
    elif rule.kind == "ids":
        train_ids, held_ids = set(rule.train or []), set(rule.heldout or [])
        known = {t.instance_id for t in tasks}
        missing = sorted((train_ids | held_ids) - known)
        if missing:
            raise ExperimentError(f"split ids not in {dataset}: {', '.join(missing)}")
        train_of = lambda t: t.instance_id in train_ids  # noqa: E731
        held_of = (lambda t: t.instance_id in held_ids) if held_ids else None
    else:
        field = str(rule.field)
        train_vals, held_vals = {str(v) for v in rule.train or []}, {str(v) for v in rule.heldout or []}
        train_of = lambda t: str(t.instance.get(field)) in train_vals  # noqa: E731
        held_of = (lambda t: str(t.instance.get(field)) in held_vals) if held_vals else None
    train = sorted(t.instance_id for t in tasks if train_of(t))
    held = sorted(t.instance_id for t in tasks if (held_of(t) if held_of else not train_of(t)))
    both = sorted(set(train) & set(held))
    if both:
        raise ExperimentError(f"tasks in both splits: {', '.join(both[:5])}{' ...' if len(both) > 5 else ''}")
    return train, held


def resolve_splits(config: ExperimentConfig) -> Splits:
    """Load the dataset(s), apply the selections and the split; both splits must be non-empty."""

    def load(dataset: str, sel: Any) -> list[Task]:
        return select_tasks(
            dataset,
            sel.instances,
            sel.slice,
            sel.filter,
            sel.shuffle,
            fields_from=sel.fields_from,
            spec=sel.spec,
        )

    if config.dataset is not None and config.folds:
        assert config.split is not None
        tasks = load(config.dataset, config.train_select)
        if not tasks:
            raise ExperimentError("no tasks to make folds of (check train_select)")
        return fold_splits(tasks, config.split, config.dataset)
    if config.dataset is not None:
        assert config.split is not None
        train_tasks = load(config.dataset, config.train_select)
        held_tasks = load(config.dataset, config.eval_select)
        train, _ = split_tasks(train_tasks, config.split, config.dataset)
        _, held = split_tasks(held_tasks, config.split, config.dataset)
    else:
        train = sorted(t.instance_id for t in load(config.train_source, config.train_select))
        held = sorted(t.instance_id for t in load(config.eval_source, config.eval_select))
        if config.train_source == config.eval_source and set(train) & set(held):
            raise ExperimentError("train_dataset and eval_dataset are the same and share tasks; use a split")
    for name, ids in (("train", train), ("held-out", held)):
        if not ids:
            raise ExperimentError(f"the {name} split is empty (check the split rule and the selections)")
    return Splits(config.train_source, config.eval_source, train, held)


# ----------------------------------------------------------------------------- folders and configs


def _run_config(
    config: ExperimentConfig,
    seed: int,
    dataset: str,
    ids: list[str],
    out: Path,
    critic: str | None,
    search: dict[str, Any],
    select: TaskSelection,
    evaluation: bool = False,
) -> RunConfig:
    """The `run` section with this phase's tasks, folder, critic and search settings (one run at a time);
    an `evaluation` phase runs evaluate.model / evaluate.policy where set."""
    run, e = config.run, config.evaluate
    own = (e.policy or {}) if evaluation else {}
    policy = {**run.policy, **own, **({"seed": seed} if config.seed_policy else {})}
    data = run.model_dump(mode="json")
    data.update(dataset=dataset, instances=ids, out=str(out), critic=critic, policy=policy)
    data.update(fields_from=select.fields_from, spec=select.spec)
    if evaluation and e.model:
        data["model"] = e.model
    data["search"] = {**data["search"], "concurrency": 1, "seed": seed, **search}
    return RunConfig.model_validate(data)


def collect_config(config: ExperimentConfig, splits: Splits, seed: int) -> RunConfig:
    """Phase 1: M graded rollouts per train task, no critic (select n=M, rule random)."""
    c = config.collect
    search = {"strategy": "select", "n": c.m, "rule": "random", "temperature": c.temperature}
    out = phase_dir(config.out, seed, "collect")
    return _run_config(
        config, seed, splits.train_dataset, splits.train, out, None, search, config.train_select
    )


POOL_SEARCH: dict[str, dict[str, Any]] = {
    "base": {"strategy": "select"},
    "lookahead": {"strategy": "lookahead+select"},
    "const": {"strategy": "lookahead+select", "tie_break": "first"},
}
"""Each pool's strategy; all pools run R runs per task and select by final_q."""


def critic_spec(config: ExperimentConfig, seed: int, critic: str, fold: int | None = None) -> str:
    """`--critic` of a critic of `critics`: the trained checkpoint for `learned` (the fold's, with folds),
    else the judge's spec."""
    return str(checkpoint_dir(config.out, seed, fold).resolve()) if critic == LEARNED else critic


def other_critics(config: ExperimentConfig) -> list[str]:
    """The critics with their own lookahead pool and rescored base pool (all but `base_critic`)."""
    return [c for c in config.critics if c != base_critic(config.critics)]


def pool_config(
    config: ExperimentConfig,
    splits: Splits,
    seed: int,
    pool: str,
    critic: str | None = None,
    fold: int | None = None,
) -> RunConfig:
    """Phase 3: one pool of R runs per held-out task (see the module docstring); `critic` (a name of
    `critics`) runs the lookahead pool instead of the base critic, in its own folder; `splits` is the
    fold's with folds."""
    if pool not in POOL_SEARCH:
        raise ValueError(f"unknown pool {pool!r}; one of {POOLS}")
    e = config.evaluate
    search = {"n": e.repeats, "rule": "final_q", "temperature": e.temperature, **POOL_SEARCH[pool]}
    if search["strategy"] != "select":
        search["k"] = e.k
    name = critic or base_critic(config.critics)
    spec = f"const:{e.constant}" if pool == "const" else critic_spec(config, seed, name, fold)
    folder = lookahead_pool(name, config.critics) if pool == "lookahead" else pool
    out = pool_dir(config.out, seed, folder, fold)
    select = config.train_select if config.folds else config.eval_select  # folds: one selection
    return _run_config(config, seed, splits.eval_dataset, splits.heldout, out, spec, search, select, True)


def train_data_dir(out: Path, seed: int, fold: int | None = None) -> Path:
    """The critic's collected training runs: collect/, or a fold's view of the other folds' runs."""
    return phase_dir(out, seed, "collect") if fold is None else phase_dir(out, seed, "train", fold) / "data"


def train_config(config: ExperimentConfig, seed: int, fold: int | None = None) -> Any:
    """Phase 2: critic.config.TrainConfig on the collected runs plus `critic.data`, into train/critic."""
    from critic.config import TrainConfig

    folder = phase_dir(config.out, seed, "train", fold)
    named = config.critic.model in BACKBONES  # tiny, smollm2: the init folder written by `_train`
    model = str((folder / "init").resolve()) if named else config.critic.model
    data = [str(train_data_dir(config.out, seed, fold).resolve()), *config.critic.data]
    update = {"model": model, "data": data, "out_dir": str((folder / "critic").resolve()), "seed": seed}
    return TrainConfig.model_validate({**config.critic.model_dump(), **update})


def link_runs(collect: Path, ids: list[str], dst: Path) -> None:
    """A run folder at `dst` with only `ids`' trajectories and grades of `collect` (hard links, made
    whole in a temporary folder and renamed, so a kill leaves either nothing or all of it)."""
    if dst.is_dir():
        return
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)

    def link(src: str, target: str) -> None:
        try:
            os.link(src, target)
        except OSError:  # another file system: copy
            shutil.copy2(src, target)

    (tmp / "trajectories").mkdir(parents=True)
    (tmp / "grades").mkdir()
    grades = sorted((collect / "grades").glob("*.json")) if (collect / "grades").is_dir() else []
    for iid in ids:
        source = collect / "trajectories" / iid
        if source.is_dir():
            shutil.copytree(source, tmp / "trajectories" / iid, copy_function=link)
        for grade in grades:
            if grade.name.startswith(f"{iid}."):
                link(str(grade), str(tmp / "grades" / grade.name))
    tmp.rename(dst)


def _corpus(collect: Path) -> list[str]:
    """The message texts of the collected runs (train split only): the tiny tokenizer's corpus."""
    from critic.data.runs import load_run_folder

    return [m["content"] for ep in load_run_folder(collect) for m in ep.messages]


def _fingerprint_run(rc: RunConfig) -> dict[str, Any]:
    return {k: v for k, v in rc.public_dict().items() if k not in FREE_RUN_FIELDS}


def _fingerprint_train(tc: Any) -> dict[str, Any]:
    from critic.train.resume import FREE_FIELDS

    return tc.model_dump(mode="json", exclude=FREE_FIELDS)


def _plain(value: Any) -> Any:
    """JSON-plain and scrubbed: a plan is written to phase.json, and a judge's URL in it may carry a
    key (saved and current plans are compared in this form, so the comparison still holds)."""
    return scrub(json.loads(json.dumps(value, default=str)))


def _differences(saved: Any, now: Any, prefix: str = "") -> list[str]:
    """Key paths where two plans differ."""
    if isinstance(saved, dict) and isinstance(now, dict):
        keys = sorted(saved.keys() | now.keys())
        return [d for k in keys for d in _differences(saved.get(k), now.get(k), f"{prefix}{k}.")]
    return [] if saved == now else [prefix.rstrip(".")]


def check_plan(folder: Path, plan: dict[str, Any]) -> str:
    """'complete', 'started' or 'new'; ExperimentError when the folder was made with another plan."""
    for marker, state in ((folder / COMPLETE, "complete"), (folder / PLAN, "started")):
        if marker.exists():
            saved = json.loads(marker.read_text(encoding="utf-8")).get("plan")
            diff = _differences(saved, _plain(plan))
            if diff:
                shown = ", ".join(diff[:6]) + (" ..." if len(diff) > 6 else "")
                raise ExperimentError(
                    f"{folder} was made with another config (differs in: {shown}); rerun with the "
                    "config it was made with, or use another --out"
                )
            return state
    return "new"


# ----------------------------------------------------------------------------- the experiment


class Experiment:
    """A prepared experiment: config and splits checked; `run()` does the phases that are not done."""

    def __init__(self, config: ExperimentConfig, console: Console | None = None, progress: bool = True):
        self.config = config
        self.out = Path(config.out)
        self.console = console or Console(stderr=True)
        self.progress = progress
        self.splits = resolve_splits(config)
        # a missing API key or an unknown model fails here, before any container starts
        policy_factory(config.run.model, config.run.base_url, **config.run.policy)
        e = config.evaluate
        if e.cross_policy:
            policy_factory(
                e.model or config.run.model, config.run.base_url, **config.run.policy, **(e.policy or {})
            )
        for critic in config.critics:  # and so does a judge's (its key, its endpoint)
            if critic != LEARNED:
                self._check_judge(critic)
        ensure_docker()

    def _check_judge(self, critic: str) -> None:
        from critic.errors import CriticUnavailable
        from critic.factory import make_critic

        try:
            make_critic(critic, self.out, self.config.run.judge)
        except CriticUnavailable as e:
            raise ExperimentError(f"critics: {e}") from e

    @property
    def fold_indices(self) -> list[int | None]:
        """[0, ..., K-1] with folds, else [None]: the train and evaluate phases to run per seed."""
        return list(range(len(self.splits.folds))) if self.splits.folds else [None]

    def split_of(self, fold: int | None) -> Splits:
        return self.splits if fold is None else self.splits.fold(fold)

    def run(self) -> bool:
        """Every seed's phases, then the report; False when interrupted (rerun to continue)."""
        self.check_plans()
        self.out.mkdir(parents=True, exist_ok=True)
        lock_folder(self.out)
        try:
            write_atomic(
                self.out / "experiment.yaml",
                yaml.safe_dump(self.config.public_dict(), sort_keys=False, allow_unicode=True),
            )
            write_atomic(self.out / "splits.json", json.dumps(self.splits.as_dict(), indent=1))
            for seed in self.config.seeds:
                if not self.run_seed(seed):
                    return False
            from eval.experiment.report import write_experiment_report

            write_experiment_report(self.out, self.config, self.splits)
            return True
        finally:
            unlock_folder(self.out)

    def run_seed(self, seed: int) -> bool:
        """Collect, then train and evaluate (per fold, with folds), each skipped when complete; False
        when interrupted. Without `learned` (judges only) there is no collect and no train."""
        learned = self.config.learned
        collect = phase_dir(self.out, seed, "collect")
        if learned and not self.phase(
            collect,
            seed,
            self._collect_plan(seed),
            lambda: self._batch(collect_config(self.config, self.splits, seed)),
        ):
            return False
        for fold in self.fold_indices:
            train, evaluate = (phase_dir(self.out, seed, p, fold) for p in ("train", "evaluate"))
            if learned and not self.phase(
                train, seed, self._train_plan(seed, fold), lambda f=fold: self._train(seed, f)
            ):
                return False
            if not self.phase(
                evaluate, seed, self._evaluate_plan(seed, fold), lambda f=fold: self._evaluate(seed, f)
            ):
                return False
        return True

    # -- plans (what a phase folder must have been made with)

    def _collect_plan(self, seed: int) -> dict[str, Any]:
        return {"run": _fingerprint_run(collect_config(self.config, self.splits, seed))}

    def _train_plan(self, seed: int, fold: int | None = None) -> dict[str, Any]:
        tiny = self.config.tiny.model_dump() if self.config.critic.model == TINY else None
        plan = {"critic": _fingerprint_train(train_config(self.config, seed, fold)), "tiny": tiny}
        if fold is not None:
            plan["fold"] = self.splits.folds[fold].as_dict()
        return plan

    def _evaluate_plan(self, seed: int, fold: int | None = None) -> dict[str, Any]:
        plan = {p: self._pool_plan(seed, p, fold=fold) for p in POOLS}
        for critic in other_critics(self.config):  # only when there are: earlier folders stay valid
            plan[f"lookahead-{critic}"] = self._pool_plan(seed, "lookahead", critic, fold)
            plan[f"select-{critic}"] = self._rescore_plan(seed, critic, fold)
        return plan

    def _pool_plan(
        self, seed: int, pool: str, critic: str | None = None, fold: int | None = None
    ) -> dict[str, Any]:
        rc = pool_config(self.config, self.split_of(fold), seed, pool, critic, fold)
        return {"run": _fingerprint_run(rc)}

    def _rescore_plan(self, seed: int, critic: str, fold: int | None = None) -> dict[str, Any]:
        """A critic's final Q of the base pool: its spec and prompts, and the base pool's own plan."""
        judge = pool_config(self.config, self.split_of(fold), seed, "lookahead", critic, fold).judge
        return {
            "critic": critic,
            "judge": judge.model_dump(mode="json"),
            "base": self._pool_plan(seed, "base", fold=fold),
        }

    # -- phases

    def plans(self, seed: int) -> dict[Path, dict[str, Any]]:
        """Every phase and pool folder of `seed` with the plan it must have been made with."""
        plans = {phase_dir(self.out, seed, "collect"): self._collect_plan(seed)}
        for fold in self.fold_indices:
            plans[phase_dir(self.out, seed, "train", fold)] = self._train_plan(seed, fold)
            plans[phase_dir(self.out, seed, "evaluate", fold)] = self._evaluate_plan(seed, fold)
            for pool in POOLS:
                plans[pool_dir(self.out, seed, pool, fold)] = self._pool_plan(seed, pool, fold=fold)
            for critic in other_critics(self.config):
                rc = pool_config(self.config, self.split_of(fold), seed, "lookahead", critic, fold)
                plans[rc.resolved_out()] = self._pool_plan(seed, "lookahead", critic, fold)
                plans[rescore_dir(self.out, seed, critic, fold)] = self._rescore_plan(seed, critic, fold)
        return plans

    def check_plans(self) -> None:
        """Refuse, before anything runs, to continue a folder made with another config."""
        for seed in self.config.seeds:
            for folder, plan in self.plans(seed).items():
                check_plan(folder, plan)

    def phase(self, folder: Path, seed: int, plan: dict[str, Any], work: Callable[[], bool]) -> bool:
        """Run `work` unless `folder` is complete; write complete.json last. False: interrupted."""
        where = folder.relative_to(seed_dir(self.out, seed))
        name = f"seed {seed} {where.as_posix() if where.parts[0].startswith('fold-') else folder.name}"
        state = check_plan(folder, plan)
        done, started = folder / COMPLETE, folder / PLAN
        if state == "complete":
            self.console.print(f"{name}: complete, skipped")
            return True
        if state == "started":
            self.console.print(f"[bold]{name}[/]: continuing -> {folder}")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            meta = {"phase": folder.name, "seed": seed, "plan": _plain(plan), "started_at": time.time()}
            write_atomic(started, json.dumps(meta, indent=1))
            self.console.print(f"[bold]{name}[/]: running -> {folder}")
        t0 = time.time()
        if not work():
            return False
        meta = json.loads(started.read_text(encoding="utf-8"))
        meta.update(completed_at=time.time(), seconds=time.time() - t0)
        write_atomic(done, json.dumps(meta, indent=1))
        return True

    def _batch(self, rc: RunConfig) -> bool:
        """One run folder through the batch runner (finished instances are skipped)."""
        batch = prepare(rc)
        self.console.print(
            f"  {len(batch.tasks)} task(s) x {rc.search.runs} run(s), strategy {rc.search.strategy}, "
            f"critic {rc.critic or 'none'} -> {batch.out}"
        )
        finished = run_batch(batch, self.console, progress=self.progress)
        run_reports.write_report(batch.out, expected=len(batch.tasks))
        return finished

    def _train(self, seed: int, fold: int | None = None) -> bool:
        from critic.errors import CriticSetupError
        from critic.train.loop import train

        folder = phase_dir(self.out, seed, "train", fold)
        if fold is not None:
            link_runs(phase_dir(self.out, seed, "collect"), self.splits.folds[fold].train, folder / "data")
        tc = train_config(self.config, seed, fold)
        name = self.config.critic.model
        if name in BACKBONES and not (folder / "init" / "config.json").exists():
            from critic.backbones import write_init

            options: dict[str, Any] = {}
            if name == TINY:  # the tiny critic's shape and its tokenizer's corpus
                tiny = self.config.tiny
                corpus = _corpus(train_data_dir(self.out, seed, fold)) if tiny.corpus else None
                options = {**tiny.model_dump(exclude={"corpus"}), "corpus": corpus}
            write_init(name, folder / "init", seed=seed, **options)
        metrics = Path(tc.out_dir) / "metrics.json"
        if metrics.exists() and json.loads(metrics.read_text())["config"] == tc.model_dump():
            return True  # trained; the kill came before complete.json
        try:
            train(tc, console=self.console)
        except CriticSetupError as e:
            raise ExperimentError(f"{folder}: critic train failed: {e}") from e
        return True

    def _evaluate(self, seed: int, fold: int | None = None) -> bool:
        splits = self.split_of(fold)
        pools = [pool_config(self.config, splits, seed, pool, fold=fold) for pool in POOLS]
        pools += [
            pool_config(self.config, splits, seed, "lookahead", c, fold) for c in other_critics(self.config)
        ]
        for rc in pools:
            if not self.phase(
                rc.resolved_out(), seed, {"run": _fingerprint_run(rc)}, lambda rc=rc: self._batch(rc)
            ):
                return False
        for critic in other_critics(self.config):
            folder = rescore_dir(self.out, seed, critic, fold)
            plan = self._rescore_plan(seed, critic, fold)
            if not self.phase(folder, seed, plan, lambda c=critic: self._rescore(seed, c, fold)):
                return False
        return True

    def _rescore(self, seed: int, critic: str, fold: int | None = None) -> bool:
        """`critic`'s final Q (and what each scoring cost) of every run of the base pool, into
        select-<critic>/scores.json, saved after each instance (a rerun goes on from there)."""
        from agent.trajectory import Trajectory
        from critic.factory import make_critic
        from critic.protocol import last_call
        from search.select import final_turn_q

        splits = self.split_of(fold)
        folder, base = rescore_dir(self.out, seed, critic, fold), pool_dir(self.out, seed, "base", fold)
        rc = pool_config(self.config, splits, seed, "lookahead", critic, fold)
        scorer = make_critic(rc.critic, folder, rc.judge)
        path = folder / SCORES
        scores: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        records = load_records(base)
        todo = [i for i in splits.heldout if i in records and i not in scores]
        self.console.print(f"  {critic}: final Q of {len(todo)} base instance(s) -> {folder}")
        for instance_id in todo:
            entry: dict[str, Any] = {}
            for run in records[instance_id].runs:
                if not run.trajectory or not (base / run.trajectory).is_file():
                    continue
                traj = Trajectory.load(base / run.trajectory)
                q = final_turn_q(traj.messages, scorer, traj.patch)
                call = last_call(scorer)
                entry[str(run.index)] = {
                    "final_q": q,
                    "tokens": call.usage.tokens if call else 0,
                    "cost": call.usage.cost if call else 0.0,
                }
            scores[instance_id] = entry
            write_atomic(path, json.dumps(scores, indent=1))
        return True


def run_experiment(config: ExperimentConfig, console: Console | None = None, progress: bool = True) -> bool:
    """Prepare and run; True when every phase and the report are done."""
    return Experiment(config, console, progress).run()
