"""ContainerSettings: the resources and isolation of every task container, in one place.

The agent's container (`envs.docker.DockerEnv`) and the grading container (`eval.grading.grade`)
both run code a model wrote, so both take these settings; the run config exposes them as
`container.*` (e.g. `container.mem_limit=8g container.pids_limit=4096`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from envs.patches import DIFF_EXCLUDE
from envs.types import EnvError

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", re.I)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
MIN_MEMORY = 6 << 20  # docker refuses a smaller memory limit
MIN_DISK = 1 << 20
DEFAULT_CPUS = 2.0
"""The CPU quota of a container whose settings leave `cpus` unset (fewer when the host has fewer)."""


class TooManyCpus(EnvError):
    """`container.cpus` asks for more CPUs than the Docker host has."""


def parse_size(text: str) -> int:
    """Docker's size syntax ('512m', '4g', '1.5g', '1048576') in bytes; ValueError if malformed."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(
            f"{text!r} is not a size; write a number with an optional unit b, k, m or g, e.g. 4g"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


class ContainerSettings(BaseModel):
    """Limits and security options of a task container (the agent's and grading's alike)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mem_limit: str = Field(
        "4g",
        description="Memory limit (docker syntax, e.g. 4g or 512m); swap is off, so this is all it gets.",
    )
    cpus: float | None = Field(
        None,
        gt=0,
        description="CPU quota (docker --cpus). Unset: 2, or all the Docker host's CPUs when it has fewer; "
        "set above the Docker host's CPUs: refused before any container starts.",
    )
    pids_limit: int = Field(
        2048, ge=32, description="Most processes and threads at once (docker --pids-limit); stops fork bombs."
    )
    disk_limit: str | None = Field(
        "10g",
        description="Most bytes the container's commands may write into it (docker syntax; null: no limit). "
        "Enforced by docker's storage_opt size where the storage driver supports it, else by polling the "
        "container's writable-layer size while each agent command runs (docs/reliability.md); passing it "
        "stops the command and ends the run as the model's own failure (exit status disk_limit).",
    )
    network: bool = Field(
        False,
        description="Give the agent's container network access (off: network_mode=none). Grading is always offline.",
    )
    security_opt: list[str] = Field(
        default_factory=lambda: ["no-new-privileges"],
        description="docker --security-opt values; no-new-privileges stops setuid binaries gaining privileges.",
    )
    cap_drop: list[str] = Field(
        default_factory=lambda: ["AUDIT_WRITE", "MKNOD", "NET_RAW", "SETFCAP"],
        description="Linux capabilities to drop (docker --cap-drop); the defaults are never needed by tests.",
    )

    diff_exclude: list[str] = Field(
        default_factory=lambda: list(DIFF_EXCLUDE),
        description="New files the agent's patch leaves out, as .gitignore patterns (default: byte-code, "
        "test and tool caches; see envs.patches). Changes to tracked files are always kept; [] keeps all.",
    )

    @field_validator("mem_limit")
    @classmethod
    def _check_mem_limit(cls, value: str) -> str:
        if parse_size(value) < MIN_MEMORY:
            raise ValueError(f"{value!r} is below docker's minimum of 6m")
        return value

    @field_validator("disk_limit")
    @classmethod
    def _check_disk_limit(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() in ("", "none", "null", "0"):
            return None
        if value is not None and parse_size(value) < MIN_DISK:
            raise ValueError(f"{value!r} is below the minimum of 1m")
        return value

    @property
    def disk_limit_bytes(self) -> int | None:
        return parse_size(self.disk_limit) if self.disk_limit else None

    def cpu_quota(self, host_cpus: int | None) -> float:
        """The one answer about CPUs, on a Docker host of `host_cpus` CPUs (None: not known): `cpus`
        as set, which must fit the host (TooManyCpus: Docker would refuse it), else DEFAULT_CPUS or
        the host's CPUs when it has fewer. The pre-flight check (eval.batch.preflight.check_host)
        and every container ask this."""
        if self.cpus is None:
            return min(DEFAULT_CPUS, host_cpus or DEFAULT_CPUS)
        if host_cpus and self.cpus > host_cpus:
            raise TooManyCpus(
                f"container.cpus={self.cpus:g} but the Docker host has {host_cpus} CPU(s); "
                f"pass container.cpus={min(DEFAULT_CPUS, host_cpus):g} or less, or leave it unset"
            )
        return self.cpus

    def docker_kwargs(self, host_cpus: int | None = None) -> dict[str, Any]:
        """Keyword arguments for docker-py's `containers.create`/`run` that apply these settings on a
        Docker host of `host_cpus` CPUs."""
        return {
            "network_mode": None if self.network else "none",
            "mem_limit": self.mem_limit,
            "memswap_limit": self.mem_limit,  # the same as mem_limit: no swap on top
            "nano_cpus": int(self.cpu_quota(host_cpus) * 1e9),
            "pids_limit": self.pids_limit,
            "privileged": False,
            "security_opt": list(self.security_opt),
            "cap_drop": list(self.cap_drop) or None,
        }

    def offline(self) -> ContainerSettings:
        """The same settings without network access (what grading uses)."""
        return self.model_copy(update={"network": False})
