"""The Docker bootstrap is idempotent, and the CLI registers its commands with help."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from envs.cli import add_env_commands
from envs.engine import _dockerd_running, ensure_docker


def dockerd_count() -> int:
    return sum(
        1 for p in Path("/proc").glob("[0-9]*/comm") if p.exists() and p.read_text().strip() == "dockerd"
    )


def test_ensure_docker_twice_changes_nothing(docker_client) -> None:
    before = dockerd_count()
    assert ensure_docker().ping() and ensure_docker().ping()
    assert dockerd_count() == before
    assert _dockerd_running() == (before > 0)


def test_python_m_envs_engine_reports_a_running_daemon() -> None:
    done = subprocess.run([sys.executable, "-m", "envs.engine"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "is running" in done.stdout


def test_cli_registers_images_and_envs_commands() -> None:
    parser = argparse.ArgumentParser(prog="swe-search")
    add_env_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["images", "base", "--python", "3.9", "--mirror", "http://m/debian", "--force"])
    assert (args.python, args.mirror, args.force, args.from_image) == ("3.9", "http://m/debian", True, None)
    args = parser.parse_args(["images", "build", "examples/tasks", "--force"])
    assert args.dataset == "examples/tasks" and args.force
    args = parser.parse_args(["envs", "cleanup", "--run-id", "r1"])
    assert args.run_id == "r1" and callable(args.func)
    assert callable(parser.parse_args(["envs", "engine"]).func)


def test_envs_cleanup_command_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "envs.cli", "envs", "cleanup", "--run-id", "test-cli-nothing"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "removed 0 containers" in done.stdout
