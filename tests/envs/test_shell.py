"""The persistent shell of DockerEnv: state, exit codes, timeouts, output capping, decoding."""

from __future__ import annotations

import time

import pytest

from envs.docker import DockerEnv
from envs.shell import TIMEOUT_EXIT_CODE, decode
from envs.types import ContainerDied


def test_shell_state_persists_between_commands(env: DockerEnv) -> None:
    env.execute('cd /tmp && export GREETING=bonjour && greet() { echo "$GREETING $1"; }')
    obs = env.execute("pwd; greet monde")
    assert obs.output == "/tmp\nbonjour monde\n"
    assert obs.exit_code == 0 and not obs.timed_out
    assert env.cwd == "/tmp"


def test_starts_in_the_task_workdir_at_the_base_commit(env: DockerEnv) -> None:
    assert env.execute("pwd").output == "/testbed\n"
    assert env.execute("git rev-parse HEAD").output.strip() == env.base_commit


def test_exit_code_and_output_without_trailing_newline(env: DockerEnv) -> None:
    obs = env.execute("printf 'no newline'; echo oops >&2; exit_with() { return $1; }; exit_with 7")
    assert obs.output == "no newlineoops\n"
    assert obs.exit_code == 7


def test_quotes_heredocs_and_unicode_in_commands(env: DockerEnv) -> None:
    command = "cat <<'EOF'\nit's \"quoted\" \\ $HOME `x` ünïcødé ✓\nEOF"
    assert env.execute(command).output == 'it\'s "quoted" \\ $HOME `x` ünïcødé ✓\n'
    assert env.execute("echo 'unterminated").exit_code != 0
    assert env.execute("echo still fine").output == "still fine\n"


def test_commands_cannot_read_the_shells_stdin(env: DockerEnv) -> None:
    obs = env.execute("cat; read line; echo read=$?", timeout=5)
    assert obs.output == "read=1\n"
    assert not obs.timed_out


def test_timeout_kills_command_but_keeps_shell(env: DockerEnv) -> None:
    env.execute("cd /etc && export KEPT=yes")
    start = time.monotonic()
    obs = env.execute("echo started; sleep 100 | cat", timeout=1)
    assert time.monotonic() - start < 3
    assert obs.timed_out and obs.exit_code == TIMEOUT_EXIT_CODE
    assert obs.output.startswith("started\n")
    after = env.execute("echo $KEPT; pwd")
    assert after.output == "yes\n/etc\n"
    processes = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"
    assert "sleep 100" not in env.execute(processes).output


@pytest.mark.slow
def test_builtin_loop_past_timeout_gets_a_new_shell_in_the_same_directory(env: DockerEnv) -> None:
    old_shell = env.execute("cd /usr; echo $$").output.strip()
    obs = env.execute("while true; do :; done", timeout=1)
    assert obs.timed_out
    assert "new shell" in obs.output
    assert env.execute("pwd").output == "/usr\n"
    state = f"grep -s State /proc/{old_shell}/status"  # nothing once gone, "Z" while a zombie
    assert "R" not in env.execute(f"sleep 0.5; {state}").output  # the old, looping shell is not running


def test_exit_starts_a_new_shell(env: DockerEnv) -> None:
    obs = env.execute("exit 3")
    assert obs.exit_code == 3
    assert "shell exited" in obs.output
    assert env.execute("echo alive").output == "alive\n"


@pytest.mark.slow
def test_huge_output_is_capped_with_head_and_tail(tiny_task, run_id) -> None:
    with DockerEnv(tiny_task, run_id=run_id, output_limit=100_000) as env:
        start = time.monotonic()
        obs = env.execute("echo FIRST; head -c 50000000 /dev/zero | tr '\\0' x; echo; echo LAST", timeout=60)
        assert time.monotonic() - start < 30
    assert obs.exit_code == 0
    assert len(obs.output) < 110_000
    assert obs.output.startswith("FIRST\nxxx")
    assert obs.output.endswith("xxx\nLAST\n")
    assert "bytes of output omitted" in obs.output


def test_binary_output_is_decoded_safely(env: DockerEnv) -> None:
    obs = env.execute("printf 'a\\000b\\377c\\r\\nprogress 1\\rprogress 2\\n'; head -c 20000 /dev/urandom")
    assert obs.exit_code == 0
    assert obs.output.startswith("ab\ufffdc\nprogress 2\n")
    assert "\x00" not in obs.output and "\r" not in obs.output


def test_decode_resolves_carriage_returns_like_a_terminal() -> None:
    assert decode(b"one\r\ntwo\n10%\r50%\r100%\n") == "one\ntwo\n100%\n"
    assert decode(b"\xff\x00ok") == "\ufffdok"


def test_dead_container_raises_env_error(tiny_task, run_id) -> None:
    with DockerEnv(tiny_task, run_id=run_id) as env:
        env.container.kill()
        with pytest.raises(ContainerDied, match="stopped"):
            env.execute("echo hi")


def test_container_is_offline_unprivileged_and_limited(env: DockerEnv, run_id: str) -> None:
    assert env.execute("ls /sys/class/net").output.split() == ["lo"]
    assert env.execute("getent hosts localhost").exit_code == 0
    env.container.reload()
    host = env.container.attrs["HostConfig"]
    assert host["NetworkMode"] == "none" and not host["Privileged"]
    assert host["Memory"] > 0 and host["NanoCpus"] > 0 and host["PidsLimit"] > 0
    assert not any("docker.sock" in str(m) for m in env.container.attrs["Mounts"])
    labels = env.container.labels
    assert labels["swe-search.run_id"] == run_id
    assert labels["swe-search.instance_id"] == env.task.instance_id


def test_shell_tracing_does_not_leak_the_framing_into_later_outputs(env: DockerEnv) -> None:
    env.execute("set -x")
    env.execute("set -v")
    obs = env.execute("echo traced; (exit 4)")
    assert obs.exit_code == 4
    assert obs.output == "traced\n"
