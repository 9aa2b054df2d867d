"""Task environments: the Docker engine, base and task images, task sources, and DockerEnv.

As SWE-ReX keeps deployment apart from the runtime: `envs.container` creates, labels, limits,
copies into and removes containers (the agent's and grading's); `envs.shell` is the persistent
shell inside one; `envs.docker.DockerEnv` is the Env over the two.

`DockerEnv` and `load_tasks` are imported lazily, so `import envs` stays light (no docker-py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envs.types import (
    ContainerDied,
    DockerUnavailable,
    Env,
    EnvError,
    ImageBuildError,
    ImageNotFound,
    Observation,
    Task,
    TaskSourceError,
)

if TYPE_CHECKING:
    from envs.docker import DockerEnv
    from envs.tasks import load_tasks

__all__ = [
    "ContainerDied",
    "DockerEnv",
    "DockerUnavailable",
    "Env",
    "EnvError",
    "ImageBuildError",
    "ImageNotFound",
    "Observation",
    "Task",
    "TaskSourceError",
    "load_tasks",
]


def __getattr__(name: str) -> Any:
    if name == "DockerEnv":
        from envs.docker import DockerEnv

        return DockerEnv
    if name == "load_tasks":
        from envs.tasks import load_tasks

        return load_tasks
    raise AttributeError(f"module 'envs' has no attribute {name!r}")
