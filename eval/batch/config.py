"""The configuration of one batch run (`swe-search run`), read from YAML in configs/.

Resolution order, later wins: configs/run.yaml (or the file given with `-c`), the CLI flags,
then `key.path=value` overrides, through the one loader (agent.configfile.FileConfig). A YAML file
may name a base with `extends: other.yaml`, and the `search` and `agent` sections may name a file
(`search: strategies.yaml`), both resolved relative to the file that names them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.config import AgentConfig
from agent.configfile import CONFIG_DIR, FileConfig
from agent.redaction import scrub
from critic.config import JudgeConfig
from envs.settings import ContainerSettings
from search.config import SearchConfig

__all__ = ["CONFIG_DIR", "DEFAULT_RUN_YAML", "RayConfig", "RunConfig", "parse_shard"]

DEFAULT_RUN_YAML = CONFIG_DIR / "run.yaml"


class RayConfig(BaseModel):
    """`--executor ray`: where the cluster is and what each instance (one Ray task) asks of it."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(
        "auto",
        description="Ray cluster address (ray.init): 'auto' joins the cluster running here, else Ray "
        "starts on this machine alone; or HOST:PORT of the head.",
    )
    num_cpus: float = Field(1.0, gt=0, description="CPUs each instance's Ray task reserves.")
    max_retries: int = Field(
        3, ge=0, description="Times Ray runs an instance again when the node or worker running it dies."
    )
    stream_interval: float = Field(
        1.0, gt=0, description="Seconds between the file updates a running instance streams to the driver."
    )


class RunConfig(FileConfig):
    """Everything `swe-search run` needs: what to solve, with which policy and strategy, and how."""

    model_config = ConfigDict(extra="forbid")
    DEFAULTS = DEFAULT_RUN_YAML
    FILE_SECTIONS = ("search", "agent", "judge")
    WHAT = "run config"

    # what to run on
    dataset: str = Field(
        "examples/tasks",
        description="verified | a Hugging Face dataset id | a .json/.jsonl/.parquet file | a swebench task repo.",
    )
    fields_from: str | None = Field(
        None,
        description="A swebench 5 dataset whose rows fill classic rows' image, eval_script, log_parser "
        "and eval_type by instance id (docs/tasks.md).",
    )
    spec: str | None = Field(
        None,
        description="YAML file of install specs per repo and version for rows that have none (docs/tasks.md).",
    )
    instances: list[str] | None = Field(None, description="Only these instance ids (None: all).")
    slice: str | None = Field(None, description="Python slice of the task list, e.g. '0:10'.")
    filter: str | None = Field(None, description="Regular expression that instance ids must match.")
    shuffle: int | None = Field(None, description="Shuffle the tasks with this seed before slicing.")
    shard: str | None = Field(
        None, description="'i/n': run only shard i (0-based) of n; sorted instance ids, round robin."
    )
    # who solves it
    model: str = Field("smollm2", description="Policy: an alias from configs/models.yaml or scripted:NAME.")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint that overrides the alias's.")
    policy: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword arguments for agent.policies.make_policy."
    )
    critic: str | None = Field(
        None,
        description="Critic: judge:ALIAS or judge:MODEL@URL (an LLM judge, no training), an http(s) URL "
        "(HTTPCritic; replicas: URLs joined by commas), a checkpoint folder (LocalCritic), "
        "'tiny' (make a tiny untrained critic in the run folder) or None (no critic).",
    )
    judge: JudgeConfig = Field(
        default_factory=JudgeConfig,
        description="Prompts and scoring of a judge:MODEL critic (configs/judge.yaml; a mapping or a file).",
    )
    search: SearchConfig = Field(default_factory=SearchConfig, description="The search strategy.")
    agent: AgentConfig = Field(default_factory=AgentConfig, description="Agent limits and prompts.")
    # how to run it
    workers: int = Field(
        1,
        ge=1,
        description="Instances solved at the same time (threads; under Ray: in flight on the cluster).",
    )
    executor: Literal["thread", "ray"] = Field(
        "thread",
        description="thread: worker threads on this machine; ray: one Ray task per instance across a "
        "cluster, each on its node's own Docker daemon (eval.batch.ray_pool, docs/scaling.md).",
    )
    ray: RayConfig = Field(default_factory=RayConfig, description="Settings of --executor ray.")
    out: Path | None = Field(None, description="Run folder; None: runs/<dataset>-<model>-<strategy>.")
    run_id: str | None = Field(
        None, description="Run id (container labels); None: derived from the run folder."
    )
    instance_timeout: float = Field(
        1800.0, gt=0, description="Wall-clock seconds per instance (all its runs), enforced by the runner."
    )
    grade_timeout: float = Field(1800.0, gt=0, description="Seconds the tests of one grading may take.")
    build_images: bool = Field(True, description="Build missing task images before the run starts.")
    retry_errors: bool = Field(
        False, description="On resume, also redo timeouts (infrastructure errors are always redone)."
    )
    container: ContainerSettings = Field(
        default_factory=ContainerSettings,
        description="Limits and security options of every task container (the agent's and grading's).",
    )

    @field_validator("shard")
    @classmethod
    def _check_shard(cls, v: str | None) -> str | None:
        if v is not None:
            parse_shard(v)
        return v

    @field_validator("model")
    @classmethod
    def _check_model(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("model must not be empty")
        return v

    def resolved_out(self) -> Path:
        """The run folder: `out`, or a name built from the dataset, model and strategy."""
        if self.out is not None:
            return Path(self.out)
        name = f"{Path(self.dataset.rstrip('/')).name}-{self.model}-{self.search.strategy}"
        return Path("runs") / re.sub(r"[^A-Za-z0-9._+-]+", "_", name)

    def model_name(self) -> str:
        """`model_name_or_path` for predictions: the policy alias plus the strategy."""
        return f"{self.model}__{self.search.strategy}".replace("/", "_")

    def public_dict(self) -> dict[str, Any]:
        """The effective config as plain data with secrets redacted (for config.yaml and the report)."""
        return scrub(self.model_dump(mode="json"))


def parse_shard(spec: str) -> tuple[int, int]:
    """'1/4' -> (1, 4); shard indices are 0-based (like a k8s indexed Job's completion index)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise ValueError(f"shard {spec!r} must be 'i/n' with 0 <= i < n, e.g. 0/4")
    return int(m.group(1)), int(m.group(2))
