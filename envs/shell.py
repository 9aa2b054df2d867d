"""The persistent shell inside a container, and its framing (apart from the container: envs.container).

The shell is a single `bash` started with `docker exec` and kept open: each command is sent down
its stdin and framed by a random sentinel that carries the exit status, so `cd`, exported
variables and functions persist between commands and a command costs a socket round trip rather
than a new `docker exec`. The shell runs with job control (`set -m`), so every command gets its
own process group; a timeout kills those groups and keeps the shell.

The shell sees the environment the grader sees: it starts with the image's `Config.Env` and
working directory (not as a login shell, whose /etc/profile resets PATH), then sources the
start-up files images rely on (/etc/profile.d/*.sh, /etc/bash.bashrc, ~/.bashrc: e.g. the conda
activation SWE-bench images write there); see SHELL_STARTUP.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import select
import socket
import struct
import threading
import time

import docker

from envs.types import EnvError, Observation

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


class ShellGone(Exception):
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


class Shell:
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
        self.cancel = threading.Event()
        """Set from another thread to stop the running command as if its timeout had come."""
        self._frames = FrameReader(self.sock, self.closed)
        token = secrets.token_hex(16)
        self.sock.sendall(SHELL_STARTUP)
        self.sock.sendall(
            f"exec 2>&1; set -m; cd {quote(self.cwd)} 2>/dev/null; printf '%s %d\\n' {token} $$\n".encode()
        )
        try:
            out = self._read_until(token.encode(), time.monotonic() + 120, 10_000, time.monotonic())
        except (ShellTimeout, ShellGone) as e:
            self.close()
            raise EnvError(f"bash did not start in container {container_id[:12]}: {e}") from None
        self.pid = out.status

    def run(self, command: str, timeout: float, limit: int) -> Observation:
        """Run one command; on timeout kill its processes and return what it printed."""
        token = secrets.token_hex(16).encode()
        start = time.monotonic()
        self.cancel.clear()
        try:
            self.sock.sendall(COMMAND_LINE % (quote(command).encode(), token[:16], token[16:]))
        except OSError as e:  # closed from another thread, or the exec ended
            raise ShellGone(f"the shell is gone ({e})", "", -1, time.monotonic() - start) from None
        try:
            out = self._read_until(token, start + timeout, limit, start)
            self.cwd = out.cwd or self.cwd
            return Observation(out.text, out.status, False, time.monotonic() - start, out.produced)
        except ShellTimeout as t:
            partial = t.output
        self.interrupt()
        try:  # the shell answers once the command's processes are gone
            out = self._read_until(token, time.monotonic() + 2, limit, start, partial)
            self.cwd = out.cwd or self.cwd
            return Observation(out.text, TIMEOUT_EXIT_CODE, True, time.monotonic() - start, out.produced)
        except ShellTimeout as t:  # a shell builtin looping forever: only killing the shell stops it
            self._exec('kill -KILL "$1"')
            why = "the command ignored its timeout, so the shell was killed"
            raise ShellGone(why, t.output.text, TIMEOUT_EXIT_CODE, time.monotonic() - start, True) from None

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
        self, token: bytes, deadline: float, limit: int, start: float, output: Output | None = None
    ) -> Output:
        """Collect output up to `token`, then the status after it; raise ShellTimeout or ShellGone."""
        output = output or Output(limit)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ShellTimeout(output)
            chunk = self._frames.read(min(remaining, POLL_SECONDS))
            if chunk is None:
                if self.cancel.is_set():
                    self.cancel.clear()  # once: the kill that follows waits for the shell's answer
                    raise ShellTimeout(output)
                continue
            if not chunk:
                output.flush()
                code = self.api.exec_inspect(self.exec_id).get("ExitCode")
                code = -1 if code is None else code
                raise ShellGone(
                    f"the shell exited with status {code}", output.text, code, time.monotonic() - start
                )
            if output.feed(chunk, token):
                return output


class ShellTimeout(Exception):
    def __init__(self, output: Output):
        super().__init__("timed out")
        self.output = output


class Output:
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


class FrameReader:
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


def quote(text: str) -> str:
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
