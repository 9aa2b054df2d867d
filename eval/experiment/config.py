"""The configuration of `swe-search experiment`, read from YAML (configs/experiment.yaml).

Resolution order, later wins: the YAML file (or configs/experiment.yaml), the CLI flags, then
`key.path=value` overrides, through the one loader (agent.configfile, so `extends:` works here too). The
`run` section is a `swe-search run` config (eval.batch.config.RunConfig) laid over configs/run.yaml: it
holds the policy, agent limits, containers and timeouts shared by every phase; the experiment sets
each phase's dataset, instances, search strategy, critic and run folder itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.configfile import FileConfig, deep_merge, near, read_config_file
from agent.redaction import scrub
from critic.config import TrainConfig
from eval.batch.config import DEFAULT_RUN_YAML, RunConfig

DEFAULT_EXPERIMENT_YAML = DEFAULT_RUN_YAML.parent / "experiment.yaml"
LEARNED = "learned"
"""`critics: [learned, ...]`: the critic trained in phases 1-2 (eval.experiment.phases)."""
TINY = "tiny"
"""`critic.model: tiny` trains a tiny random Qwen2 critic from scratch (critic.model.make_tiny_critic)."""

RUN_FIELDS_SET_PER_PHASE = (
    "dataset",
    "fields_from",
    "spec",
    "instances",
    "slice",
    "filter",
    "shuffle",
    "shard",
    "out",
    "run_id",
)
"""RunConfig fields the experiment sets for every phase; a value given in the `run` section is an error."""


class TaskSelection(BaseModel):
    """Which tasks of a dataset to use (eval.batch.prepare.select_tasks), before the split is applied."""

    model_config = ConfigDict(extra="forbid")

    instances: list[str] | None = Field(None, description="Only these instance ids (None: all).")
    slice: str | None = Field(None, description="Python slice of the task list, e.g. '0:50'.")
    filter: str | None = Field(None, description="Regular expression that instance ids must match.")
    shuffle: int | None = Field(None, description="Shuffle the tasks with this seed before slicing.")
    fields_from: str | None = Field(
        None,
        description="A swebench 5 dataset that fills this dataset's classic rows by instance id "
        "(--fields-from; docs/tasks.md), e.g. verified for princeton-nlp's Verified rows.",
    )
    spec: str | None = Field(
        None, description="Install specs per repo and version for rows without one (--spec; docs/tasks.md)."
    )


class SplitRule(BaseModel):
    """How one dataset is cut into a train and a held-out split.

    kind `file`: a YAML file `{train: [lib, ...], heldout: [lib, ...]}` naming libraries, where an
    instance id `<prefix>__<lib>-<n>` belongs to library `<lib>` (examples/testbed/split.yaml);
    `split: split.yaml` is short for `{kind: file, file: split.yaml}`. kind `regex`: `train` and
    `heldout` are regular expressions searched in the instance ids. kind `ids`: lists of instance
    ids. kind `field`: lists of values of the instance field `field` (e.g. repo). In every kind an
    empty `heldout` means "every task not in train"; a task in both splits is an error.

    kind `folds`: cross-validation over groups of tasks. `by` names the group: `library`, the
    `<library>` of an instance id `<prefix>__<library>-<n>` (the testbed's libraries), or any instance
    field, e.g. `repo` (a SWE-bench row's `django/django`) or `version`. The groups are dealt into `k`
    folds (largest first, each to the fold with the fewest tasks, ties by name); every fold trains a
    critic on the other folds' collected runs and is evaluated on its own tasks, so each task is held
    out exactly once. The tasks are `train_select`'s; `train`/`heldout` and `eval_select` stay empty.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["file", "regex", "ids", "field", "folds"] = Field(
        "file", description="file (split.yaml of libraries) | regex | ids | field | folds (cross-validation)."
    )
    by: str = Field(
        "library",
        description="kind folds: the group dealt into folds: library (the id's `<prefix>__<library>-<n>`) "
        "or an instance field such as repo.",
    )
    k: int | None = Field(None, ge=2, description="kind folds: the number of folds (at most the groups).")
    file: str = Field(
        "split.yaml",
        description="kind file: the split file, relative to the dataset folder (or absolute).",
    )
    field: str | None = Field(None, description="kind field: the instance field whose value decides.")
    train: str | list[str] | None = Field(
        None, description="kind regex: a regex; ids: instance ids; field: field values. Unused for file."
    )
    heldout: str | list[str] | None = Field(
        None, description="Like `train`, for the held-out split; empty: every task not in train."
    )

    @model_validator(mode="before")
    @classmethod
    def _file_shorthand(cls, data: Any) -> Any:
        return {"kind": "file", "file": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _check(self) -> SplitRule:
        if self.kind == "folds":
            if self.k is None:
                raise ValueError("split kind folds needs `k`, the number of folds (e.g. {kind: folds, k: 3})")
            if self.train or self.heldout:
                raise ValueError("split kind folds takes no train/heldout: every fold is held out once")
            return self
        if self.kind not in ("file", "folds") and not self.train:
            raise ValueError(f"split kind {self.kind!r} needs `train`")
        if self.kind == "regex" and not all(isinstance(v, str) for v in (self.train, self.heldout or "")):
            raise ValueError("split kind regex takes a regular expression (a string) for train/heldout")
        if self.kind in ("ids", "field"):
            for name in ("train", "heldout"):
                value = getattr(self, name)
                if isinstance(value, str):
                    setattr(self, name, [value])
        if self.kind == "field" and not self.field:
            raise ValueError("split kind field needs `field` (an instance field name)")
        return self


class CollectConfig(BaseModel):
    """Phase 1: the critic's training data, rollouts of the policy on the train split."""

    model_config = ConfigDict(extra="forbid")

    m: int = Field(4, ge=1, description="Rollouts per train task (M), each graded.")
    temperature: float = Field(1.0, ge=0.0, description="Sampling temperature of the rollouts (T).")


class TinyCriticConfig(BaseModel):
    """The shape of the tiny critic trained from scratch when `critic.model` is `tiny`."""

    model_config = ConfigDict(extra="forbid")

    hidden: int = Field(64, ge=8, description="Hidden size of the tiny Qwen2 backbone.")
    layers: int = Field(2, ge=1, description="Decoder layers of the tiny Qwen2 backbone.")
    vocab_size: int = Field(
        4096, ge=300, description="Vocabulary of the byte-level BPE tokenizer made for the tiny critic."
    )
    corpus: bool = Field(
        True,
        description="Train the tokenizer on the collected runs' message texts too (train split only), "
        "so their words (a traceback, an exit code) become whole tokens: shorter inputs, clearer signals.",
    )


class EvaluateConfig(BaseModel):
    """Phase 3: three pools of R runs per held-out task, from which every strategy is read."""

    model_config = ConfigDict(extra="forbid")

    repeats: int = Field(
        4, ge=1, description="R: runs per held-out task in each pool (base, lookahead, constant critic)."
    )
    n: int = Field(4, ge=1, description="N of select and lookahead+select in the table (at most `repeats`).")
    k: int = Field(4, ge=1, description="K: lookahead candidates per step.")
    temperature: float = Field(
        0.9, ge=0.0, description="Sampling temperature of single runs and of lookahead candidates."
    )
    constant: float = Field(0.5, description="Q of the constant critic of the control (`const:V`).")
    model: str | None = Field(
        None,
        description="The policy of the three pools (a --model name); None: run.model. Another policy than "
        "the one collected measures the critic across policies, e.g. collect `testbed`, evaluate "
        "`testbed:scout`.",
    )
    policy: dict[str, Any] | None = Field(
        None,
        description="The pools' policy knobs, laid over run.policy (e.g. {style: scout}); None: run.policy.",
    )

    @property
    def cross_policy(self) -> bool:
        """Whether the pools run another policy than the collected runs."""
        return self.model is not None or bool(self.policy)


class ReportConfig(BaseModel):
    """Phase 4: statistics of the report."""

    model_config = ConfigDict(extra="forbid")

    bootstrap_samples: int = Field(2000, ge=10, description="Bootstrap resamples (over tasks and repeats).")
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="Confidence level of the intervals.")
    seed: int = Field(0, description="Seed of the bootstrap.")


class ExperimentConfig(FileConfig):
    """Everything `swe-search experiment` needs: the splits, the policy, and each phase's settings."""

    model_config = ConfigDict(extra="forbid")
    DEFAULTS = DEFAULT_EXPERIMENT_YAML
    WHAT = "experiment config"

    out: Path = Field(Path("runs/experiment"), description="Experiment folder (one subfolder per seed).")
    dataset: str | None = Field(
        None, description="One dataset cut by `split` (a swebench task repo, a file, or an HF id)."
    )
    train_dataset: str | None = Field(
        None, description="The train split's own dataset (with `eval_dataset`, instead of `dataset`)."
    )
    eval_dataset: str | None = Field(
        None, description="The held-out split's own dataset, e.g. verified (with `train_dataset`)."
    )
    split: SplitRule | None = Field(None, description="How `dataset` is cut; see SplitRule.")
    train_select: TaskSelection = Field(
        default_factory=TaskSelection, description="Tasks of the train dataset to use (before the split)."
    )
    eval_select: TaskSelection = Field(
        default_factory=TaskSelection, description="Tasks of the held-out dataset to use (before the split)."
    )
    seeds: list[int] = Field(
        default_factory=lambda: [0],
        min_length=1,
        description="Replicates: each seed is a full experiment (collect, train, evaluate) in seed-<S>/, "
        "with its own policy seed, critic seed and selection seed; the report shows every one.",
    )
    seed_policy: bool = Field(
        True, description="Pass the replicate's seed to the policy as `policy.seed` (run.policy)."
    )
    collect: CollectConfig = Field(default_factory=CollectConfig, description="Phase 1 settings.")
    critic: TrainConfig = Field(
        default_factory=TrainConfig,
        description="Phase 2: `swe-search critic train` settings (critic.config.TrainConfig). `model: tiny` "
        "trains a tiny critic from scratch (shape: `tiny`); `model: smollm2` starts from the bundled "
        "pretrained SmolLM2-135M with a value head and LoRA (`lora: auto`); the init checkpoint of either "
        "is written once to train/init (critic.backbones); `data` adds sources (e.g. a nebius export) to the collected "
        "runs; `out_dir` and `seed` are set by the experiment.",
    )
    critics: list[str] = Field(
        default_factory=lambda: [LEARNED],
        min_length=1,
        description="The critics compared side by side, one table row each: `learned` (the critic trained "
        "in phases 1-2) and any number of LLM judges (`judge:ALIAS` or `judge:MODEL@URL`; prompts in "
        "run.judge). Judges need no collect or train phase: with only judges, those are skipped. The "
        "base and control pools are shared; each critic gets its own lookahead pool, and the base pool's "
        "runs are scored once more by each critic that did not run it.",
    )
    tiny: TinyCriticConfig = Field(
        default_factory=TinyCriticConfig, description="Shape of the tiny critic (`critic.model: tiny`)."
    )
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="Phase 3 settings.")
    report: ReportConfig = Field(default_factory=ReportConfig, description="Phase 4 settings.")
    run: RunConfig = Field(
        default_factory=RunConfig,
        description="The `swe-search run` config every phase starts from (model, policy, agent, "
        "containers, timeouts, workers), over configs/run.yaml.",
    )

    @field_validator("critics")
    @classmethod
    def _known_critics(cls, v: list[str]) -> list[str]:
        for name in v:
            if name != LEARNED and not name.startswith("judge:"):
                raise ValueError(
                    f"critic {name!r} is neither `learned` nor a judge (judge:ALIAS, judge:MODEL@URL)"
                )
        if len(set(v)) != len(v):
            raise ValueError(f"critics must be distinct, got {v}")
        return v

    @property
    def learned(self) -> bool:
        """Whether the learned critic is compared (and so collected for and trained)."""
        return LEARNED in self.critics

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {v}")
        return v

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        two = self.train_dataset is not None or self.eval_dataset is not None
        if two and (self.train_dataset is None or self.eval_dataset is None):
            raise ValueError("give both train_dataset and eval_dataset, or one `dataset` with a `split`")
        if two and (self.dataset is not None or self.split is not None):
            raise ValueError(
                "train_dataset/eval_dataset replace `dataset` and `split`; give one or the other"
            )
        if not two and (self.dataset is None or self.split is None):
            raise ValueError("give `dataset` with a `split` rule, or train_dataset and eval_dataset")
        if self.split is not None and self.split.kind == "folds":
            if two:
                raise ValueError(
                    "split kind folds cuts one `dataset`; it takes no train_dataset/eval_dataset"
                )
            if self.eval_select != TaskSelection():
                raise ValueError(
                    "split kind folds takes its tasks from train_select; leave eval_select empty"
                )
        if self.evaluate.n > self.evaluate.repeats:
            raise ValueError(f"evaluate.n ({self.evaluate.n}) must not exceed evaluate.repeats")
        defaults = RunConfig()
        for name in RUN_FIELDS_SET_PER_PHASE:
            if getattr(self.run, name) != getattr(defaults, name):
                raise ValueError(f"run.{name} is set by the experiment for each phase; leave it unset")
        if self.run.critic is not None:
            raise ValueError("run.critic is set by the experiment (the trained critic); leave it unset")
        if "out_dir" in self.critic.model_fields_set:
            raise ValueError("critic.out_dir is set by the experiment (seed-<S>/train/critic)")
        return self

    @property
    def folds(self) -> int | None:
        """k of a `split: {kind: folds}` experiment, else None."""
        return self.split.k if self.split is not None and self.split.kind == "folds" else None

    @property
    def train_source(self) -> str:
        return self.train_dataset or self.dataset or ""

    @property
    def eval_source(self) -> str:
        return self.eval_dataset or self.dataset or ""

    def public_dict(self) -> dict[str, Any]:
        """The effective config as plain data, secrets redacted, without the output folder."""
        return scrub(self.model_dump(mode="json", exclude={"out"}))

    @classmethod
    def read(cls, path: Path | None = None) -> dict[str, Any]:
        """The experiment file, its `run` section (a mapping, or a run config file relative to it)
        laid over configs/run.yaml."""
        path = path or DEFAULT_EXPERIMENT_YAML
        data = read_config_file(path)
        run = data.get("run") or {}
        if isinstance(run, str):
            run = read_config_file(near(path, run), RunConfig.FILE_SECTIONS)
        data["run"] = deep_merge(RunConfig.read(), run)
        return data
