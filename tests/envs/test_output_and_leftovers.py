"""What a command leaves: its output counted and made safe for the model, its processes gone before diff()."""

from __future__ import annotations

import re
import time

import pytest

from envs.docker import DockerEnv
from envs.settings import ContainerSettings
from envs.shell import decode
from envs.types import Task

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.mark.slow
def test_huge_output_counts_every_byte_the_command_printed(tiny_task: Task, run_id: str) -> None:
    with DockerEnv(tiny_task, run_id=run_id, output_limit=100_000) as env:
        obs = env.execute("echo FIRST; head -c 50000000 /dev/zero | tr '\\0' x; echo; echo LAST", timeout=60)
        small = env.execute("printf 'a\\nb\\n'")
    printed = len("FIRST\n") + 50_000_000 + len("\nLAST\n")
    assert obs.output_bytes == printed
    omitted = int(re.search(r"\[\.\.\. (\d+) bytes of output omitted", obs.output).group(1))
    kept = len(obs.output.encode()) - len(re.search(r"\n\n\[\.\.\..*\.\.\.\]\n\n", obs.output).group(0))
    assert omitted + kept == printed
    assert small.output == "a\nb\n" and small.output_bytes == 4


def test_decode_replaces_control_characters_but_keeps_newlines_and_tabs() -> None:
    text = decode(b"\x1b[31mred\x1b[0m tab\tbell\x07 \x01\x02\x7f\xc2\x85 form\x0cfeed\nnext\n")
    assert text == "red tab\tbell\ufffd \ufffd\ufffd\ufffd\ufffd form\ufffdfeed\nnext\n"


def test_binary_output_reaches_the_model_without_control_characters(env: DockerEnv) -> None:
    obs = env.execute("head -c 200000 /dev/urandom; printf '\\033]0;title\\007\\033[1mbold\\033[0m\\tend\\n'")
    assert obs.exit_code == 0
    assert not CONTROL.search(obs.output)
    assert obs.output.endswith("bold\tend\n")


@pytest.mark.slow
@pytest.mark.parametrize(
    "storm",
    [
        "(while :; do sleep 300 & done) >/dev/null 2>&1 &",  # the shell's own background job
        "( (while :; do sleep 300 & done) >/dev/null 2>&1 & )",  # orphaned: reparented to PID 1
        'python3 -c \'import os\nwhile True:\n  try: os.fork() or __import__("time").sleep(300)\n'
        "  except OSError: pass' >/dev/null 2>&1 &",  # a fork bomb held at the pids limit
    ],
    ids=["background-job", "orphan", "fork-bomb"],
)
def test_diff_keeps_the_patch_when_a_process_storm_outlives_its_command(
    tiny_task: Task, run_id: str, storm: str
) -> None:
    settings = ContainerSettings(pids_limit=64)
    with DockerEnv(tiny_task, run_id=run_id, container=settings) as env:
        assert env.execute("echo 'print(\"bonjour\")' > hello.py").exit_code == 0
        env.execute(storm, timeout=10)
        deadline = time.monotonic() + 10
        while env.container.stats(stream=False)["pids_stats"].get("current", 0) < 60:
            assert time.monotonic() < deadline, "the storm did not fill the pids limit"
            time.sleep(0.2)
        patch = env.diff()
        assert '+print("bonjour")' in patch and "-print('hello')" in patch
        assert env.execute("echo alive").output == "alive\n"  # the shell itself survived
