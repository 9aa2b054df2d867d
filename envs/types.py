"""The data every package shares about a task and a command's result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Observation:
    """What one command in the container produced."""

    output: str
    exit_code: int
    timed_out: bool = False
    duration: float = 0.0
    # bytes the command printed in all, before `output` was cut to the env's limit; None: unknown
    output_bytes: int | None = None


@dataclass
class Task:
    """One task: a swebench instance dict plus the image it runs in.

    `instance` is the full swebench 5 instance (what `make_test_spec` and `get_eval_report`
    read); the named fields are the parts the agent and runner use.
    """

    instance_id: str
    problem_statement: str
    image: str
    instance: dict[str, Any] = field(default_factory=dict)
    workdir: str = "/testbed"
    base_commit: str | None = None
    repo: str = ""
    build_context: str | None = None  # task-repo folder holding the Dockerfile, if the image is built locally

    @property
    def fail_to_pass(self) -> list[str]:
        return _as_list(self.instance.get("FAIL_TO_PASS"))

    @property
    def pass_to_pass(self) -> list[str]:
        return _as_list(self.instance.get("PASS_TO_PASS"))


class EnvError(RuntimeError):
    """Something went wrong with Docker, an image, a container or a task source."""


class DockerUnavailable(EnvError):
    """No Docker daemon answers, and it could not be started."""


class ImageNotFound(EnvError):
    """A task's image is not present locally."""


class ImageBuildError(EnvError):
    """Building a base or task image failed."""


class ContainerDied(EnvError):
    """The task container stopped while the environment was in use."""


class DiskLimitExceeded(EnvError):
    """The commands run in a container wrote more than its `container.disk_limit`: the command was
    stopped. This is the model's doing (a loop of `dd`, say), not the infrastructure's."""


class TaskSourceError(EnvError, ValueError):
    """A dataset or task row cannot be read (missing path, malformed row, unknown id)."""


def _as_list(value: Any) -> list[str]:
    import json

    if value is None:
        return []
    if isinstance(value, str):
        return list(json.loads(value)) if value.strip() else []
    return list(value)


class Env(Protocol):
    """A live task container. See docs/contracts.md, "Seams"."""

    task: Task

    def execute(self, command: str, timeout: float | None = None) -> Observation: ...
    def read_file(self, path: str) -> bytes: ...
    def write_file(self, path: str, data: bytes) -> None: ...
    def write_files(self, files: Mapping[str, bytes]) -> None: ...
    def diff(self) -> str: ...
    def close(self) -> None: ...
