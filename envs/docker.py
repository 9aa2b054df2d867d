"""DockerEnv: the Env of one task, a container (envs.container) with one persistent shell (envs.shell).

`execute` runs a command in the shell (state persists; a timeout kills the command, not the shell;
a shell that dies is replaced), `read_file`/`write_file` copy through the Docker API, and `diff`
is the binary-safe patch of every change against the task's base commit. The container is removed
by `close()`, when the env is garbage-collected, at exit and on SIGTERM.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import docker
import docker.errors

from envs.container import create_container, install_signal_handlers, put_files, remove_container
from envs.engine import ensure_docker
from envs.patches import exclude_pathspecs
from envs.settings import ContainerSettings
from envs.shell import SHELL_ENV, STOP_LEFTOVERS, Shell, ShellGone, quote
from envs.types import ContainerDied, DiskLimitExceeded, EnvError, Observation, Task

DISK_POLL_SECONDS = 2.0
"""How often the size of a container's writable layer is read while a command runs, where the
storage driver sets no quota: a command can write what it writes in this long past the limit."""

DIFF_SCRIPT = r"""
set -e
base=$1; shift
cd "$(git rev-parse --show-toplevel)"
index=$(mktemp); trap 'rm -f "$index"' EXIT
cp -p "$(git rev-parse --git-path index)" "$index" 2>/dev/null || rm -f "$index"
export GIT_INDEX_FILE=$index
git add -A
if [ $# -gt 0 ]; then
  git diff --cached --no-renames --name-only --diff-filter=A -z "$base" -- "$@" \
    | git update-index --force-remove -z --stdin
fi
git -c core.quotepath=false diff --cached --binary -M --no-color --no-ext-diff "$base"
"""


class DockerEnv:
    """A running container for one task, with a persistent shell. Use as a context manager."""

    def __init__(
        self,
        task: Task,
        *,
        run_id: str = "adhoc",
        client: docker.DockerClient | None = None,
        timeout: float = 180.0,
        container: ContainerSettings | None = None,
        output_limit: int = 1_000_000,
        env: dict[str, str] | None = None,
        diff_exclude: Sequence[str] | None = None,
    ):
        """Start the task's container and its shell.

        `timeout` is the default per-command timeout in seconds; `output_limit` caps the bytes
        of output kept per command (head and tail); `container` holds the limits, security
        options and diff excludes (default: `ContainerSettings()`, offline); `diff_exclude`
        overrides the settings' list of caches `diff()` leaves out (envs.patches).
        """
        self.task = task
        settings = container or ContainerSettings()
        self.diff_exclude = list(settings.diff_exclude if diff_exclude is None else diff_exclude)
        self.run_id = run_id
        self.timeout = timeout
        self.output_limit = output_limit
        self.client = client or ensure_docker()
        self.disk_limit = settings.disk_limit_bytes
        self.disk_polled = False
        """Whether this env polls the container's size (its driver enforces no storage_opt size)."""
        self.container: Any = None
        self._shell: Shell | None = None
        self._closed = False
        self._finalizer: weakref.finalize | None = None
        install_signal_handlers()
        try:
            t0 = time.perf_counter()
            self.container = create_container(self.client, task, run_id, settings)
            # removes the container when close() is called, when this object is collected, or at exit
            self._finalizer = weakref.finalize(self, remove_container, self.client, self.container.id)
            self.container.start()
            quota = (self.container.attrs.get("HostConfig") or {}).get("StorageOpt") or {}
            self.disk_polled = self.disk_limit is not None and "size" not in quota
            self._shell = Shell(
                self.client.api, self.container.id, task.workdir, {**SHELL_ENV, **(env or {})}
            )
            self.base_commit = task.base_commit or self._head_commit()
            self.startup_time = time.perf_counter() - t0
        except BaseException:
            self.close()
            raise

    # ---- the Env protocol ------------------------------------------------------------------------

    def execute(self, command: str, timeout: float | None = None) -> Observation:
        """Run `command` in the persistent shell; see Observation. Raises ContainerDied, and
        DiskLimitExceeded when the container grew past its disk limit (the command is stopped)."""
        if self._closed or self._shell is None:
            raise EnvError(f"environment for {self.task.instance_id} is closed")
        over: list[int] = []
        try:
            with self._disk_watch(over):
                obs = self._shell.run(
                    command, self.timeout if timeout is None else timeout, self.output_limit
                )
        except ShellGone as gone:
            obs = self._replace_shell(gone, command)
        if over:
            raise DiskLimitExceeded(
                f"the commands wrote {over[0] / 2**20:.0f} MiB into the container, over its "
                f"container.disk_limit of {(self.disk_limit or 0) / 2**20:.0f} MiB; the command was stopped"
            )
        return obs

    def _replace_shell(self, gone: ShellGone, command: str) -> Observation:
        """A new shell for one that died (the command's output so far, and a note), unless closed."""
        if self._closed:  # closed from another thread (a deadline, Ctrl-C): no new shell
            raise EnvError(
                f"environment for {self.task.instance_id} was closed while running a command"
            ) from None
        self._raise_if_dead(command)
        old = self._shell
        assert old is not None
        old.close()
        self._shell = Shell(self.client.api, self.container.id, old.workdir, old.env, old.cwd)
        note = (
            f"\n[{gone.why}; a new shell was started in {self._shell.cwd}, without the old one's variables]"
        )
        return Observation(gone.output + note, gone.exit_code, gone.timed_out, gone.duration)

    def read_file(self, path: str) -> bytes:
        """The bytes of a file in the container (relative paths are under the task's workdir)."""
        full = self._abspath(path)
        for _ in range(10):  # follow up to 10 symlinks
            try:
                chunks, _stat = self.client.api.get_archive(self.container.id, full)
                data = b"".join(chunks)
            except docker.errors.NotFound as e:
                raise FileNotFoundError(f"no such file in the container: {full}") from e
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                member = archive.next()
                if member is not None and member.issym():
                    full = str(PurePosixPath(full).parent / member.linkname)
                    continue
                if member is None or not member.isfile():
                    raise IsADirectoryError(f"not a regular file in the container: {full}")
                return archive.extractfile(member).read()  # type: ignore[union-attr]
        raise OSError(f"too many levels of symbolic links: {path}")

    def write_file(self, path: str, data: bytes) -> None:
        """Write bytes to a file in the container, creating parent folders; keeps the exec bit."""
        self.write_files({path: data})

    def write_files(self, files: Mapping[str, bytes]) -> None:
        """`write_file` for many files in one copy (each copy is a Docker API round trip: bench/tool_install.py)."""
        full = {self._abspath(path): data for path, data in files.items()}
        executable = self._executables(list(full))
        for mode, group in ((0o755, executable), (0o644, set(full) - executable)):
            if group:
                put_files(self.client, self.container.id, {p: full[p] for p in group}, mode)

    def diff(self) -> str:
        """The patch (`git apply`-able, binary-safe) of every change against the base commit.

        First kills what the agent left running: a process storm at the pids limit would make
        `git diff` fail to start and lose the patch. New files that match `diff_exclude`
        (byte-code, test caches) are left out.
        """
        self._stop_leftovers()
        code, (out, err) = self.container.exec_run(
            ["bash", "-c", DIFF_SCRIPT, "diff", self.base_commit, *exclude_pathspecs(self.diff_exclude)],
            workdir=self.task.workdir,
            environment={
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "safe.directory",
                "GIT_CONFIG_VALUE_0": "*",
            },
            demux=True,
        )
        if code != 0:
            self._raise_if_dead("git diff")
            raise EnvError(f"git diff failed in {self.task.workdir}: {(err or b'').decode(errors='replace')}")
        try:
            return (out or b"").decode("utf-8")
        except UnicodeDecodeError:
            # a text file that is not UTF-8: let git encode everything as binary patches instead
            return self._binary_diff()

    def close(self) -> None:
        """Remove the container. Idempotent; safe to call from `finally`."""
        if self._closed:
            return
        self._closed = True
        if self._shell is not None:
            self._shell.close()
        if self._finalizer is not None:
            t0 = time.perf_counter()
            self._finalizer()
            self.teardown_time = time.perf_counter() - t0

    def __enter__(self) -> DockerEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        cid = self.container.short_id if self.container is not None else "-"
        return f"DockerEnv({self.task.instance_id!r}, container={cid}, closed={self._closed})"

    @property
    def cwd(self) -> str:
        """The shell's working directory after the last command."""
        return self._shell.cwd if self._shell is not None else self.task.workdir

    def disk_used(self) -> int | None:
        """Bytes written into the container's writable layer (the Docker API's SizeRw); None if unknown."""
        try:
            [found] = self.client.api.containers(all=True, size=True, filters={"id": self.container.id})
        except (docker.errors.APIError, ValueError, OSError):
            return None
        size = found.get("SizeRw")
        return int(size) if isinstance(size, (int, float)) else None

    # ---- helpers ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _disk_watch(self, over: list[int]) -> Iterator[None]:
        """While a command runs, read the container's size every DISK_POLL_SECONDS (and once when it
        ends) where no storage_opt quota holds it. Past disk_limit, append the size to `over` and
        stop the command as its timeout would (its processes killed; a looping shell replaced)."""
        if not self.disk_polled or self.disk_limit is None or self._shell is None:
            yield
            return
        limit, shell, done = self.disk_limit, self._shell, threading.Event()

        def check() -> bool:
            used = self.disk_used()
            if used is not None and used > limit and not over:
                over.append(used)
            return bool(over)

        def poll() -> None:
            while not done.wait(DISK_POLL_SECONDS):
                if check():
                    shell.cancel.set()
                    return

        watcher = threading.Thread(target=poll, name="disk-watch", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()
            if not over:
                check()  # what a short command wrote between two polls

    def _stop_leftovers(self) -> None:
        if self._shell is None:
            return
        # a shell gone with the rest is no loss: git diff runs in its own `docker exec`
        with contextlib.suppress(ShellGone, OSError):
            self._shell.run(STOP_LEFTOVERS, 60, 10_000)

    def _head_commit(self) -> str:
        obs = self.execute("git -c safe.directory='*' rev-parse HEAD 2>/dev/null", timeout=30)
        return obs.output.strip() if obs.exit_code == 0 else "HEAD"

    def _abspath(self, path: str) -> str:
        return str(PurePosixPath(self.task.workdir) / path)

    def _executables(self, paths: list[str]) -> set[str]:
        """Which of `paths` are existing executable files (one shell round trip for all)."""
        assert self._shell is not None
        names = " ".join(quote(p) for p in paths)
        script = f'for f in {names}; do [ -x "$f" ] && [ -f "$f" ] && printf "%s\\n" "$f"; done; true'
        try:
            listed = self._shell.run(script, 10, 1_000_000).output
        except ShellGone:
            return set()
        return set(listed.splitlines()) & set(paths)

    def _binary_diff(self) -> str:
        script = DIFF_SCRIPT.replace("git -c core", 'git -c core.attributesFile="$attrs" -c core')
        script = 'attrs=$(mktemp); echo "* binary" > "$attrs"\n' + script
        code, (out, err) = self.container.exec_run(
            ["bash", "-c", script, "diff", self.base_commit, *exclude_pathspecs(self.diff_exclude)],
            workdir=self.task.workdir,
            demux=True,
        )
        if code != 0:
            raise EnvError(f"git diff failed in {self.task.workdir}: {(err or b'').decode(errors='replace')}")
        return (out or b"").decode("utf-8", errors="replace")

    def _raise_if_dead(self, command: str) -> None:
        try:
            state = self.client.api.inspect_container(self.container.id)["State"]
        except docker.errors.NotFound as e:
            raise ContainerDied(
                f"the container for {self.task.instance_id} was removed while running: {command[:200]!r}"
            ) from e
        if not state.get("Running"):
            why = (
                "it ran out of memory (OOM-killed)"
                if state.get("OOMKilled")
                else f"exit code {state.get('ExitCode')}"
            )
            raise ContainerDied(
                f"the container for {self.task.instance_id} stopped ({why}) while running: {command[:200]!r}"
            )
