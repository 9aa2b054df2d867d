"""DockerEnv: a task container with one persistent bash shell.

The shell is a single `bash` started with `docker exec` and kept open: each command
is sent down its stdin and framed by a random sentinel that carries the exit status, so `cd`,
exported variables and functions persist between commands and a command costs a socket round
trip rather than a new `docker exec`. The shell runs with job control (`set -m`), so every
command gets its own process group; a timeout kills those groups and keeps the shell.

The shell sees the environment the grader sees: it starts with the image's `Config.Env` and
working directory (not as a login shell, whose /etc/profile resets PATH), then sources the
start-up files images rely on (/etc/profile.d/*.sh, /etc/bash.bashrc, ~/.bashrc: e.g. the conda
activation SWE-bench images write there); see SHELL_STARTUP.

Containers carry labels (`swe-search=1`, run id, instance id) and are removed by `close()`, when
the env is garbage-collected, at exit and on SIGTERM; `cleanup()` removes what a SIGKILL left behind.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import docker
import docker.errors

from envs.engine import ensure_docker
from envs.patches import exclude_pathspecs
from envs.settings import ContainerSettings
from envs.types import ContainerDied, EnvError, ImageNotFound, Observation, Task

logger = logging.getLogger(__name__)

LABEL = "swe-search"
LABEL_RUN = "swe-search.run_id"
LABEL_INSTANCE = "swe-search.instance_id"
LABEL_PID = "swe-search.pid"
LABEL_HOST = "swe-search.host"
LABEL_STARTED = "swe-search.pid_started"
"""The owner process's start time (/proc/<pid>/stat field 22): tells a live owner from a reused pid."""
POLL_SECONDS = 0.2
"""A shell read wakes this often to see whether its env was closed (closing does not wake recv)."""

TIMEOUT_EXIT_CODE = 124  # what coreutils `timeout` returns
# One command: run in the shell itself (so state persists) with stdin closed, then on its own line
# (a syntax error inside `eval` would swallow the rest of its line) the sentinel, status and cwd.
# The sentinel is printed in two halves so that bash echoing this line in an error never forges it.
# `set -v`/`set -x` would echo the framing into every later output, so they are switched off after
# each command (the status is saved first).
COMMAND_LINE = (
    b"{ eval %s; } </dev/null\n"
    b"{ __swe_rc=$?; set +vx; } 2>/dev/null; printf '%%s%%s %%d %%s\\n' %s %s $__swe_rc \"$PWD\"\n"
)
SHELL_ENV = {
    "PAGER": "cat",
    "MANPAGER": "cat",
    "GIT_PAGER": "cat",
    "LESS": "-R",
    "PIP_PROGRESS_BAR": "off",
    "TQDM_DISABLE": "1",
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__/*.pyc in the working tree, so none in the patch
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}
# Sent to the shell before anything else. The shell starts as `bash --noprofile --norc` with the
# image's Config.Env (docker exec passes it) plus SHELL_ENV; it then sources the start-up files an
# interactive shell of the image would (PS1 set, so their `[ -z "$PS1" ] && return` guards pass),
# with stdin closed so they cannot eat our commands. Afterwards every variable that was set before
# (the image's and ours) gets its value back, and PATH is merged: what the start-up files put in
# front of the image's PATH (conda activation) stays in front, what they appended stays behind,
# and the image's own entries all come back (Debian's /etc/profile would drop them).
SHELL_STARTUP = rb"""{
__swe_env=$(export -p); __swe_path=$PATH; PS1='$ '
for __swe_f in /etc/profile.d/*.sh /etc/bash.bashrc "$HOME/.bashrc"; do
  [ -r "$__swe_f" ] && . "$__swe_f"
done
__swe_new=$PATH; eval "$__swe_env"; set +eu
__swe_front=; __swe_back=; __swe_seen=
IFS=: read -ra __swe_parts <<< "$__swe_new"
for __swe_f in "${__swe_parts[@]}"; do
  case ":$__swe_path:" in *":$__swe_f:"*) __swe_seen=1; continue ;; esac
  [ -n "$__swe_f" ] || continue
  if [ -z "$__swe_seen" ]; then __swe_front+="$__swe_f:"; else __swe_back+=":$__swe_f"; fi
done
export PATH="$__swe_front$__swe_path$__swe_back"
unset PS1 __swe_env __swe_path __swe_new __swe_front __swe_back __swe_seen __swe_parts __swe_f
} </dev/null
"""
# Kills every process below the shell ($1): first their process groups (one per command under
# `set -m`, so grandchildren die too), then any stragglers. Reads /proc: minimal images have no ps.
KILL_TREE = r"""
shell=$1; declare -A parent group
for stat in /proc/[0-9]*/stat; do
  read -r line < "$stat" 2>/dev/null || continue
  pid=${line%% *}; set -- ${line##*) }; parent[$pid]=$2; group[$pid]=$3
done
tree=" $shell "; grown=1
while [ $grown = 1 ]; do
  grown=0
  for pid in "${!parent[@]}"; do
    if [[ $tree == *" ${parent[$pid]} "* && $tree != *" $pid "* ]]; then tree+="$pid "; grown=1; fi
  done
done
for pid in $tree; do
  [ "$pid" = "$shell" ] && continue
  [ "${group[$pid]}" != "${group[$shell]}" ] && kill -KILL -- "-${group[$pid]}" 2>/dev/null
  kill -KILL "$pid" 2>/dev/null
done
true
"""
# Kills every process the agent left running (background jobs, orphans, a fork bomb), sparing PID 1
# (docker-init), its first child (the entrypoint), the shell and other `docker exec` sessions (parent 0).
# Run inside the shell with builtins only: a fork bomb at the pids limit leaves no room for a new
# process, not even a `docker exec`. Passes repeat until one finds nothing left to kill.
STOP_LEFTOVERS = r"""
__swe_stop() {
  local stat line pid rest state parent entry=0 pass found
  for stat in /proc/[0-9]*/stat; do
    read -r line < "$stat" 2>/dev/null || continue
    pid=${line%% *}; rest=${line##*) }; rest=${rest#* }; parent=${rest%% *}
    if [ "$parent" = 1 ] && { [ $entry = 0 ] || [ "$pid" -lt $entry ]; }; then entry=$pid; fi
  done
  for pass in {1..100}; do
    found=0
    for stat in /proc/[0-9]*/stat; do
      read -r line < "$stat" 2>/dev/null || continue
      pid=${line%% *}; rest=${line##*) }; state=${rest%% *}; rest=${rest#* }; parent=${rest%% *}
      case $pid in 1|$$|$entry) continue ;; esac
      [ "$parent" = 0 ] || [ "$state" = Z ] || [ "$state" = X ] && continue
      kill -KILL "$pid" 2>/dev/null && found=1
    done
    [ $found = 0 ] && break
  done
}
__swe_stop; unset -f __swe_stop; jobs >/dev/null 2>&1; true
"""
# The patch of every change against $1, built in a throwaway index so the agent's index stays as is.
# The other arguments are pathspecs of caches (envs.patches): files new since $1 that match them
# are dropped from that index; a change to a tracked file is always kept.
DIFF_SCRIPT = r"""
set -e
base=$1; shift
cd "$(git rev-parse --show-toplevel)"
index=$(mktemp); trap 'rm -f "$index"' EXIT
cp "$(git rev-parse --git-path index)" "$index" 2>/dev/null || rm -f "$index"
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
        self.container: Any = None
        self._shell: _Shell | None = None
        self._closed = False
        self._finalizer: weakref.finalize | None = None
        _install_signal_handlers()
        try:
            t0 = time.perf_counter()
            self.container = self._create_container(settings)
            # removes the container when close() is called, when this object is collected, or at exit
            self._finalizer = weakref.finalize(self, _remove_container, self.client, self.container.id)
            self.container.start()
            self._shell = _Shell(
                self.client.api, self.container.id, task.workdir, {**SHELL_ENV, **(env or {})}
            )
            self.base_commit = task.base_commit or self._head_commit()
            self.startup_time = time.perf_counter() - t0
        except BaseException:
            self.close()
            raise

    # ---- the Env protocol ------------------------------------------------------------------------

    def execute(self, command: str, timeout: float | None = None) -> Observation:
        """Run `command` in the persistent shell; see Observation. Raises ContainerDied."""
        if self._closed or self._shell is None:
            raise EnvError(f"environment for {self.task.instance_id} is closed")
        try:
            return self._shell.run(command, self.timeout if timeout is None else timeout, self.output_limit)
        except _ShellGone as gone:
            if self._closed:  # closed from another thread (a deadline, Ctrl-C): no new shell
                raise EnvError(
                    f"environment for {self.task.instance_id} was closed while running a command"
                ) from None
            self._raise_if_dead(command)
            old = self._shell
            old.close()
            self._shell = _Shell(self.client.api, self.container.id, old.workdir, old.env, old.cwd)
            note = f"\n[{gone.why}; a new shell was started in {self._shell.cwd}, without the old one's variables]"
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
        full = self._abspath(path)
        executable = self._is_executable(full)
        info = tarfile.TarInfo(full.lstrip("/"))
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o755 if executable else 0o644
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            archive.addfile(info, io.BytesIO(data))
        if not self.client.api.put_archive(self.container.id, "/", buffer.getvalue()):
            raise EnvError(f"could not write {full} in the container")

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

    # ---- helpers ---------------------------------------------------------------------------------

    def _create_container(self, settings: ContainerSettings) -> Any:
        image = self.task.image
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound as e:
            raise ImageNotFound(_missing_image_hint(self.task)) from e
        name = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"swe-search-{self.run_id}-{self.task.instance_id}")
        return self.client.containers.create(
            image,
            entrypoint=["sleep", "infinity"],
            name=f"{name[:180]}-{secrets.token_hex(3)}",
            labels=owner_labels(self.run_id, self.task.instance_id),
            working_dir=self.task.workdir,
            init=True,  # reaps zombies left by the agent's commands
            **settings.docker_kwargs(),
        )

    def _stop_leftovers(self) -> None:
        if self._shell is None:
            return
        # a shell gone with the rest is no loss: git diff runs in its own `docker exec`
        with contextlib.suppress(_ShellGone, OSError):
            self._shell.run(STOP_LEFTOVERS, 60, 10_000)

    def _head_commit(self) -> str:
        obs = self.execute("git -c safe.directory='*' rev-parse HEAD 2>/dev/null", timeout=30)
        return obs.output.strip() if obs.exit_code == 0 else "HEAD"

    def _abspath(self, path: str) -> str:
        return str(PurePosixPath(self.task.workdir) / path)

    def _is_executable(self, full: str) -> bool:
        assert self._shell is not None
        try:
            return self._shell.run(f"[ -x {_quote(full)} ] && [ -f {_quote(full)} ]", 10, 100).exit_code == 0
        except _ShellGone:
            return False

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


class _ShellGone(Exception):
    """The shell is gone or unusable: it exited, the container died, or it ignored a timeout."""

    def __init__(self, why: str, output: str, exit_code: int, duration: float, timed_out: bool = False):
        super().__init__(why)
        self.why, self.output, self.exit_code, self.duration, self.timed_out = (
            why,
            output,
            exit_code,
            duration,
            timed_out,
        )


class _Shell:
    """One `bash` inside the container (see SHELL_STARTUP), driven through its stdin and stdout."""

    def __init__(
        self,
        api: docker.APIClient,
        container_id: str,
        workdir: str,
        env: dict[str, str],
        cwd: str | None = None,
    ):
        self.api, self.container_id, self.workdir, self.env = api, container_id, workdir, env
        self.cwd = cwd or workdir
        self.exec_id = api.exec_create(
            container_id,
            ["bash", "--noprofile", "--norc"],  # not a login shell: /etc/profile resets PATH
            stdin=True,
            stdout=True,
            stderr=True,
            environment=env,
            workdir=workdir,
        )["Id"]
        self._sock_io = api.exec_start(self.exec_id, socket=True)
        self.sock: socket.socket = getattr(self._sock_io, "_sock", self._sock_io)
        self.closed = threading.Event()
        self._frames = _FrameReader(self.sock, self.closed)
        token = secrets.token_hex(16)
        self.sock.sendall(SHELL_STARTUP)
        self.sock.sendall(
            f"exec 2>&1; set -m; cd {_quote(self.cwd)} 2>/dev/null; printf '%s %d\\n' {token} $$\n".encode()
        )
        try:
            out = self._read_until(token.encode(), time.monotonic() + 120, 10_000, time.monotonic())
        except (_Timeout, _ShellGone) as e:
            self.close()
            raise EnvError(f"bash did not start in container {container_id[:12]}: {e}") from None
        self.pid = out.status

    def run(self, command: str, timeout: float, limit: int) -> Observation:
        """Run one command; on timeout kill its processes and return what it printed."""
        token = secrets.token_hex(16).encode()
        start = time.monotonic()
        try:
            self.sock.sendall(COMMAND_LINE % (_quote(command).encode(), token[:16], token[16:]))
        except OSError as e:  # closed from another thread, or the exec ended
            raise _ShellGone(f"the shell is gone ({e})", "", -1, time.monotonic() - start) from None
        try:
            out = self._read_until(token, start + timeout, limit, start)
            self.cwd = out.cwd or self.cwd
            return Observation(out.text, out.status, False, time.monotonic() - start, out.produced)
        except _Timeout as t:
            partial = t.output
        self.interrupt()
        try:  # the shell answers once the command's processes are gone
            out = self._read_until(token, time.monotonic() + 2, limit, start, partial)
            self.cwd = out.cwd or self.cwd
            return Observation(out.text, TIMEOUT_EXIT_CODE, True, time.monotonic() - start, out.produced)
        except _Timeout as t:  # a shell builtin looping forever: only killing the shell stops it
            self._exec('kill -KILL "$1"')
            why = "the command ignored its timeout, so the shell was killed"
            raise _ShellGone(why, t.output.text, TIMEOUT_EXIT_CODE, time.monotonic() - start, True) from None

    def interrupt(self) -> None:
        """Kill every process the shell started (each command's process group), keeping the shell."""
        if self.closed.is_set():  # the container is being removed: that ends them
            return
        self._exec(KILL_TREE)

    def _exec(self, script: str) -> None:
        """Run a bash script with the shell's pid as $1, in a separate `docker exec`."""
        exec_id = self.api.exec_create(self.container_id, ["bash", "-c", script, "bash", str(self.pid)])["Id"]
        self.api.exec_start(exec_id)

    def close(self) -> None:
        """Stop the shell's stream; a read blocked in another thread returns within POLL_SECONDS.

        `shutdown` wakes a thread blocked on the socket at once (`close` alone does not).
        """
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        try:
            self.sock.close()
            self._sock_io.close()
        except OSError:
            pass

    def _read_until(
        self, token: bytes, deadline: float, limit: int, start: float, output: _Output | None = None
    ) -> _Output:
        """Collect output up to `token`, then the status after it; raise _Timeout or _ShellGone."""
        output = output or _Output(limit)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout(output)
            chunk = self._frames.read(remaining)
            if chunk is None:
                raise _Timeout(output)
            if not chunk:
                output.flush()
                code = self.api.exec_inspect(self.exec_id).get("ExitCode")
                code = -1 if code is None else code
                raise _ShellGone(
                    f"the shell exited with status {code}", output.text, code, time.monotonic() - start
                )
            if output.feed(chunk, token):
                return output


class _Timeout(Exception):
    def __init__(self, output: _Output):
        super().__init__("timed out")
        self.output = output


class _Output:
    """Output of one command: keeps the first and last `limit/2` bytes, finds the sentinel."""

    def __init__(self, limit: int):
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.pending = b""  # bytes that may be the start of the sentinel
        self.after: bytes | None = None  # what follows the sentinel, once seen
        self.status = 0
        self.cwd = ""

    def feed(self, chunk: bytes, token: bytes) -> bool:
        """Add a chunk; True once the sentinel and its status line have arrived."""
        if self.after is not None:
            self.after += chunk
        else:
            data = self.pending + chunk
            at = data.find(token)
            if at < 0:
                keep = len(token) - 1
                self._keep(data[:-keep])
                self.pending = data[-keep:]
                return False
            self._keep(data[:at])
            self.pending = b""
            self.after = data[at + len(token) :]
        if b"\n" not in self.after:
            return False
        status, _, cwd = self.after.split(b"\n", 1)[0].strip().partition(b" ")
        self.status = int(status) if status.lstrip(b"-").isdigit() else -1
        self.cwd = cwd.decode(errors="replace")
        return True

    def flush(self) -> None:
        self._keep(self.pending)
        self.pending = b""

    def _keep(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.half:
                cut = len(self.tail) - self.half
                self.dropped += cut
                del self.tail[:cut]

    @property
    def produced(self) -> int:
        """Bytes the command printed in all, kept or not."""
        return len(self.head) + self.dropped + len(self.tail)

    @property
    def text(self) -> str:
        tail = self.tail[-self.half :] if self.dropped else self.tail
        dropped = self.dropped + len(self.tail) - len(tail)
        if not dropped:
            return decode(bytes(self.head + tail))
        marker = f"\n\n[... {dropped} bytes of output omitted ...]\n\n"
        return decode(bytes(self.head)) + marker + decode(bytes(tail))


class _FrameReader:
    """Reads docker's multiplexed exec stream: 8-byte headers (stream, size), then payload.

    Waits with poll() in slices of POLL_SECONDS and checks `closed` between them, so that closing
    the env from another thread ends a read at once instead of at the command's timeout.
    """

    def __init__(self, sock: socket.socket, closed: threading.Event | None = None):
        self.sock = sock
        self.closed = closed or threading.Event()
        self.buffer = bytearray()

    def read(self, timeout: float) -> bytes | None:
        """Payload of the next frame(s); b"" at end of stream or once closed; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 8:
                size = struct.unpack(">xxxxL", self.buffer[:8])[0]
                if len(self.buffer) >= 8 + size:
                    payload = bytes(self.buffer[8 : 8 + size])
                    del self.buffer[: 8 + size]
                    return payload
            data = self._recv(deadline)
            if data is None or not data:
                return data
            self.buffer += data

    def _recv(self, deadline: float) -> bytes | None:
        """Bytes from the socket; b"" at end of stream or once closed; None at the deadline."""
        while True:
            if self.closed.is_set():
                return b""
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            fd = self.sock.fileno()
            if fd < 0:
                return b""
            if not getattr(self.sock, "pending", lambda: 0)():  # TLS may hold decrypted bytes
                poller = select.poll()
                poller.register(fd, select.POLLIN | select.POLLPRI)
                if not poller.poll(1000 * min(left, POLL_SECONDS)):
                    continue
            try:  # close() from another thread may close the socket right here: EBADF is "closed"
                self.sock.settimeout(POLL_SECONDS)
                return self.sock.recv(1 << 20)
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                return b""


def decode(data: bytes) -> str:
    """Bytes to safe text: invalid UTF-8 replaced, NULs dropped, carriage returns resolved.

    A line rewritten with `\\r` (progress bars) keeps only what a terminal would show last.
    Terminal escape sequences (colours, titles) are dropped and every other control character
    but newline and tab becomes U+FFFD, so binary output reaches the model as plain text.
    """
    text = data.decode("utf-8", errors="replace").replace("\x00", "").replace("\r\n", "\n")
    if "\r" in text:
        text = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))
    return _CONTROL.sub("\ufffd", _ESCAPE.sub("", text))


# ANSI CSI sequences (ESC [ ... final byte) and OSC sequences (ESC ] ... BEL or ESC \\)
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
# C0 controls but tab and newline, DEL and the C1 controls
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _quote(text: str) -> str:
    """Quote text as one bash word on one line: $'...' with every non-printable byte escaped."""
    out = []
    for byte in text.encode("utf-8", errors="surrogateescape"):
        char = chr(byte)
        if char in "\\'":
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"


def _missing_image_hint(task: Task) -> str:
    if task.build_context:
        how = f"build it with `swe-search images build {PurePosixPath(task.build_context).parent.parent}`"
    else:
        how = f"pull it with `docker pull {task.image}` or build it with swebench's image builder"
    return f"image {task.image!r} for {task.instance_id} is not present locally; {how}"


# ---- leftovers: close on exit and on SIGTERM, remove by label ----------------------------------------

_handlers_installed = False


def _install_signal_handlers() -> None:
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


def _remove_container(client: docker.DockerClient, container_id: str) -> None:
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


def live_containers(run_id: str | None = None, client: docker.DockerClient | None = None) -> int:
    """How many swe-search containers (of every run, or of `run_id`) belong to a live owner."""
    client = client or ensure_docker()
    labels = [f"{LABEL}=1"] + ([f"{LABEL_RUN}={run_id}"] if run_id else [])
    return sum(
        owner_alive(c.labels or {}) for c in client.containers.list(all=True, filters={"label": labels})
    )


def live_owners(run_id: str, client: docker.DockerClient | None = None) -> dict[str, int]:
    """Owners (pid, or pid@host) still running that hold containers of `run_id`, with their count."""
    client = client or ensure_docker()
    owners: dict[str, int] = {}
    for container in client.containers.list(
        all=True, filters={"label": [f"{LABEL}=1", f"{LABEL_RUN}={run_id}"]}
    ):
        labels = container.labels or {}
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
    labels = [f"{LABEL}=1"] + ([f"{LABEL_RUN}={run_id}"] if run_id else [])
    if owner_pid is not None:
        labels.append(f"{LABEL_PID}={owner_pid}")
    removed = 0
    for container in client.containers.list(all=True, filters={"label": labels}):
        if not all_owners and owner_pid is None and owner_alive(container.labels or {}):
            continue
        try:
            container.remove(force=True)
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
from envs.docker import cleanup
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


_install_signal_handlers()  # at import too, so envs created only in worker threads are covered
