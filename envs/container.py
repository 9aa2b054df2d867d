"""Task containers, apart from the shell inside them (envs.shell), as SWE-ReX keeps deployment apart
from the runtime: create, label, limit, copy files into, run a script in, and remove containers.

Both the agent's container (envs.docker.DockerEnv) and grading's (eval.grading) are made here, so
they carry the same labels (`swe-search=1`, run id, instance id, owner process) and the same limits
(envs.settings.ContainerSettings). Containers are removed by their owner, at exit and on SIGTERM;
`cleanup()` removes what a SIGKILL left behind, never a live owner's.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import docker
import docker.errors

from envs.engine import ensure_docker
from envs.settings import ContainerSettings
from envs.types import EnvError, ImageNotFound, Task

logger = logging.getLogger(__name__)

LABEL = "swe-search"
LABEL_RUN = "swe-search.run_id"
LABEL_INSTANCE = "swe-search.instance_id"
LABEL_PID = "swe-search.pid"
LABEL_HOST = "swe-search.host"
LABEL_STARTED = "swe-search.pid_started"
"""The owner process's start time (/proc/<pid>/stat field 22): tells a live owner from a reused pid."""


# ---- create, copy into, run in, remove ------------------------------------------------------------


def create_container(
    client: docker.DockerClient,
    task: Task,
    run_id: str,
    settings: ContainerSettings,
    *,
    image: str | None = None,
    kind: str = "env",
) -> Any:
    """A labelled, limited container of `task`'s image (or `image`), created but not started.

    It idles (`sleep infinity`, under an init that reaps zombies) until removed; commands run in it
    with `docker exec`. Raises ImageNotFound saying how to get the image.
    """
    image = image or task.image
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound as e:
        raise ImageNotFound(missing_image_hint(task, image)) from e
    name = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"swe-search-{kind}-{run_id}-{task.instance_id}")
    kwargs = settings.docker_kwargs(host_cpus(client))
    quota = settings.disk_limit is not None and disk_quota_supported(client)
    while True:
        try:
            return client.containers.create(
                image,
                entrypoint=["sleep", "infinity"],
                name=f"{name[:180]}-{secrets.token_hex(3)}",
                labels=owner_labels(run_id, task.instance_id),
                working_dir=task.workdir,
                init=True,  # reaps zombies left by the commands run in it
                **kwargs,
                **({"storage_opt": {"size": settings.disk_limit}} if quota else {}),
            )
        except docker.errors.APIError as e:
            if not quota or "storage" not in str(e).lower():
                raise
            # e.g. overlay2 on xfs mounted without pquota: the env's polling enforces the limit
            _QUOTA[_daemon(client)] = quota = False


QUOTA_DRIVERS = ("devicemapper", "btrfs", "zfs", "windowsfilter")
"""Storage drivers whose containers take `storage_opt={"size": ...}` (docker --storage-opt size)."""
_QUOTA: dict[str, bool] = {}


def disk_quota_supported(client: docker.DockerClient) -> bool:
    """Whether this daemon's storage driver enforces a container size (storage_opt), cached per daemon.

    overlay2 does only on xfs mounted with `pquota`, which `docker info` does not say: it is tried,
    and a refusal turns it off. Elsewhere (overlay2 on ext4, the usual host) DockerEnv polls the
    writable layer's size instead (DockerEnv.disk_used).
    """
    key = _daemon(client)
    if key not in _QUOTA:
        info = client.info()
        backing = dict(info.get("DriverStatus") or []).get("Backing Filesystem")
        driver = info.get("Driver")
        _QUOTA[key] = driver in QUOTA_DRIVERS or (driver == "overlay2" and backing == "xfs")
    return _QUOTA[key]


def _daemon(client: docker.DockerClient) -> str:
    return str(getattr(client.api, "base_url", ""))


_HOST_CPUS: weakref.WeakKeyDictionary[docker.DockerClient, int | None] = weakref.WeakKeyDictionary()


def host_cpus(client: docker.DockerClient) -> int | None:
    """The Docker host's CPUs (its daemon's NCPU, which may differ from this machine's), asked once
    per client."""
    if client not in _HOST_CPUS:
        _HOST_CPUS[client] = client.info().get("NCPU")
    return _HOST_CPUS[client]


@contextlib.contextmanager
def running_container(client: docker.DockerClient, container: Any) -> Iterator[Any]:
    """`container` (from create_container) started, and force-removed on exit (no 10 s stop grace)."""
    try:
        container.start()
        yield container
    finally:
        remove_container(client, container.id)


def put_files(
    client: docker.DockerClient, container_id: str, files: dict[str, bytes], mode: int = 0o644
) -> None:
    """Copy files (absolute path -> bytes) into the container in one archive; EnvError if refused."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mtime, info.mode = len(data), int(time.time()), mode
            archive.addfile(info, io.BytesIO(data))
    if not client.api.put_archive(container_id, "/", buffer.getvalue()):
        raise EnvError(f"could not copy {', '.join(files)} into the container")


@dataclass
class ExecResult:
    """What a script run with `exec_script` printed, and how it ended (exit_code None: timed out)."""

    output: str
    exit_code: int | None
    timed_out: bool


def exec_script(
    client: docker.DockerClient, container_id: str, script: str, timeout: float, workdir: str
) -> ExecResult:
    """Run bash `script` in its own `docker exec`; after `timeout` seconds give up and return what it
    printed so far (removing the container ends a command that still runs)."""
    api = client.api
    exec_id = api.exec_create(container_id, ["/bin/bash", "-c", script], workdir=workdir)["Id"]
    chunks: list[bytes] = []
    failure: list[BaseException] = []

    def read() -> None:
        try:
            for chunk in api.exec_start(exec_id, stream=True):
                chunks.append(chunk)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread below
            failure.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    output = b"".join(chunks).decode(errors="replace")
    if reader.is_alive():
        return ExecResult(output=output, exit_code=None, timed_out=True)
    if failure:
        raise EnvError(f"the command in the container failed: {failure[0]}") from failure[0]
    return ExecResult(output=output, exit_code=api.exec_inspect(exec_id)["ExitCode"], timed_out=False)


def missing_image_hint(task: Task, image: str | None = None) -> str:
    if task.build_context:
        how = f"build it with `swe-search images build {PurePosixPath(task.build_context).parent.parent}`"
    else:
        how = f"pull it with `docker pull {image or task.image}` or build it with swebench's image builder"
    return f"image {image or task.image!r} for {task.instance_id} is not present locally; {how}"


# ---- leftovers: close on exit and on SIGTERM, remove by label -----------------------------------------

_handlers_installed = False


def install_signal_handlers() -> None:
    """Once, from the main thread: SIGTERM/SIGHUP raise SystemExit, so `finally` and exit hooks run."""
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    _handlers_installed = True
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def remove_container(client: docker.DockerClient, container_id: str) -> None:
    try:
        client.api.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        if e.status_code != 409:  # 409: removal already in progress
            logger.warning("could not remove container %s: %s", container_id[:12], e)


def _started(pid: int) -> str | None:
    """The start time of process `pid` in clock ticks since boot (/proc/<pid>/stat field 22), if readable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


HOST = socket.gethostname()
_made = 0


def containers_made() -> int:
    """How many containers this process labelled (started, or tried to)."""
    return _made


def owner_labels(run_id: str, instance_id: str) -> dict[str, str]:
    """Labels of every container swe-search starts: the run, the instance and the owner process."""
    global _made
    _made += 1
    return {
        LABEL: "1",
        LABEL_RUN: run_id,
        LABEL_INSTANCE: instance_id,
        LABEL_PID: str(os.getpid()),
        LABEL_HOST: HOST,
        LABEL_STARTED: _started(os.getpid()) or "",
    }


def owner_alive(labels: dict[str, str]) -> bool:
    """Whether the process that started a container still runs (this process counts as gone: its own
    containers are its to remove). A container of another host, or of a pid that still runs with the
    same start time, counts as alive; one without an owner label counts as gone."""
    host = labels.get(LABEL_HOST)
    if host and host != HOST:
        return True  # another machine sharing this daemon: its pids mean nothing here
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return False
    if pid == os.getpid() or pid <= 0:
        return False
    started = _started(pid)
    if started is None:
        return False
    return not labels.get(LABEL_STARTED) or labels[LABEL_STARTED] == started


def labelled(
    client: docker.DockerClient, run_id: str | None = None, owner_pid: int | None = None
) -> list[tuple[str, dict[str, str]]]:
    """(id, labels) of every swe-search container (of `run_id`, of `owner_pid`), in one list call.

    One call, no inspect per container: a container removed meanwhile (a run closing its own, or
    another process's cleanup on the same daemon) cannot fail the listing.
    """
    labels = [f"{LABEL}=1"] + ([f"{LABEL_RUN}={run_id}"] if run_id else [])
    if owner_pid is not None:
        labels.append(f"{LABEL_PID}={owner_pid}")
    return [
        (c["Id"], c.get("Labels") or {}) for c in client.api.containers(all=True, filters={"label": labels})
    ]


def live_containers(run_id: str | None = None, client: docker.DockerClient | None = None) -> int:
    """How many swe-search containers (of every run, or of `run_id`) belong to a live owner."""
    return sum(owner_alive(labels) for _, labels in labelled(client or ensure_docker(), run_id))


def live_owners(run_id: str, client: docker.DockerClient | None = None) -> dict[str, int]:
    """Owners (pid, or pid@host) still running that hold containers of `run_id`, with their count."""
    owners: dict[str, int] = {}
    for _, labels in labelled(client or ensure_docker(), run_id):
        if owner_alive(labels):
            host = labels.get(LABEL_HOST)
            who = labels.get(LABEL_PID, "?") + (f"@{host}" if host and host != HOST else "")
            owners[who] = owners.get(who, 0) + 1
    return owners


def cleanup(
    run_id: str | None = None,
    client: docker.DockerClient | None = None,
    *,
    all_owners: bool = False,
    owner_pid: int | None = None,
) -> int:
    """Remove containers left by swe-search (of every run, or one run's); return how many.

    By default only those whose owner process is gone (or is this process): a live run keeps its
    containers. `all_owners` removes them whatever their owner; `owner_pid` only that process's.
    """
    client = client or ensure_docker()
    removed = 0
    for container_id, labels in labelled(client, run_id, owner_pid):
        if not all_owners and owner_pid is None and owner_alive(labels):
            continue
        try:
            client.api.remove_container(container_id, force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: removal already in progress
                raise
    return removed


REAPER = """
import os, sys, time
pid = int(sys.argv[1])
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    time.sleep(0.05)
from envs.container import cleanup
cleanup(owner_pid=pid)
"""


def reap_after_exit() -> None:
    """Start a detached process that removes this process's containers once it has exited.

    For an exit that cannot wait for the removal (a second Ctrl-C): the caller leaves at once.
    """
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    subprocess.Popen(
        [sys.executable, "-c", REAPER, str(os.getpid())],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


install_signal_handlers()  # at import too, so envs created only in worker threads are covered
