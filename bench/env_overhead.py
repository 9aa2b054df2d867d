"""Per-command overhead of three ways to run shell commands in a container.

Paths, each given the same short commands (`true`, `echo`, `ls`) in one run:
- `DockerEnv`: our persistent shell (one `bash` per container, commands over its stdin);
- raw `docker exec CID bash -lc CMD`: one subprocess per command;
- mini-swe-agent's `DockerEnvironment` (`pip install mini-swe-agent`; not a project dependency).

Reports median and p95 per command, container start-to-ready and teardown times, and the ratios,
and writes them to bench/results/env_overhead.md.

    python bench/env_overhead.py [--image swe-search/base:bookworm] [-n 200]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import docker

from envs.docker import DockerEnv
from envs.engine import ensure_docker
from envs.types import Task

COMMANDS = ["true", "echo hello", "ls"]
WARMUP = 5
RESULTS = Path(__file__).parent / "results" / "env_overhead.md"


class OverheadRun:
    """One way of running commands: start() -> run(cmd) ... -> stop()."""

    name = ""

    def start(self) -> None: ...
    def run(self, command: str) -> None: ...
    def stop(self) -> None: ...


class Ours(OverheadRun):
    name = "swe-search DockerEnv (persistent shell)"

    def __init__(self, image: str):
        self.task = Task("bench__overhead-1", "", image, workdir="/")

    def start(self) -> None:
        self.env = DockerEnv(self.task, run_id="bench")

    def run(self, command: str) -> None:
        assert self.env.execute(command).exit_code == 0

    def stop(self) -> None:
        self.env.close()


class RawExec(OverheadRun):
    name = "raw `docker exec CID bash -lc CMD`"

    def __init__(self, image: str):
        self.image = image

    def start(self) -> None:
        cmd = ["docker", "run", "-d", "--rm", "--network", "none", "--label", "swe-search.run_id=bench"]
        self.cid = subprocess.run(
            [*cmd, self.image, "sleep", "infinity"], capture_output=True, text=True, check=True
        )
        self.cid = self.cid.stdout.strip()
        self.run("true")  # ready once a command answers

    def run(self, command: str) -> None:
        subprocess.run(["docker", "exec", self.cid, "bash", "-lc", command], capture_output=True, check=True)

    def stop(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.cid], capture_output=True, check=True)


class MiniSweAgent(OverheadRun):
    name = "mini-swe-agent `DockerEnvironment`"

    def __init__(self, image: str, client: docker.DockerClient):
        self.image, self.client = image, client

    def start(self) -> None:
        from minisweagent.environments.docker import DockerEnvironment

        self.env = DockerEnvironment(image=self.image, cwd="/", run_args=["--rm", "--network", "none"])

    def run(self, command: str) -> None:
        assert self.env.execute({"command": command})["returncode"] == 0

    def stop(self) -> None:
        """Its cleanup() returns at once and stops the container in the background; wait until it is gone."""
        cid = self.env.container_id
        self.env.cleanup()
        self.env.container_id = None
        while self.client.containers.list(all=True, filters={"id": cid}):
            time.sleep(0.05)


def measure(path: OverheadRun, n: int) -> dict[str, float]:
    t0 = time.perf_counter()
    path.start()
    ready = time.perf_counter() - t0
    commands = [COMMANDS[i % len(COMMANDS)] for i in range(n + WARMUP)]
    times = []
    for i, command in enumerate(commands):
        t = time.perf_counter()
        path.run(command)
        if i >= WARMUP:
            times.append(time.perf_counter() - t)
    t0 = time.perf_counter()
    path.stop()
    teardown = time.perf_counter() - t0
    times.sort()
    return {
        "median_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
        "ready_s": ready,
        "teardown_s": teardown,
    }


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    docker_version = ensure_docker().version().get("Version", "?")
    return (
        f"{cpu}, {os.cpu_count()} cores, load average {load}; {platform.platform()}; Docker {docker_version}"
    )


def report(results: dict[str, dict[str, float]], n: int) -> str:
    ours = results[Ours.name]["median_ms"]
    lines = [
        "# Environment overhead per command",
        "",
        f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {machine()}",
        f"- {n} commands per path, cycling {', '.join(f'`{c}`' for c in COMMANDS)} ({WARMUP} warm-up commands not counted)",
        "- produced by `python bench/env_overhead.py`",
        "",
        "| path | median / command | p95 / command | start-to-ready | teardown | median vs ours |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['median_ms']:.2f} ms | {r['p95_ms']:.2f} ms | {r['ready_s']:.2f} s "
            f"| {r['teardown_s']:.2f} s | {r['median_ms'] / ours:.0f}x |"
        )
    mini = results[MiniSweAgent.name]["median_ms"] / ours
    lines += [
        "",
        f"Goal: per-command overhead at least 50x lower than mini-swe-agent's; measured {mini:.0f}x "
        f"({'met' if mini >= 50 else 'NOT met'}).",
        "",
        "Notes: each command's time is its whole round trip, so for these trivial commands it is the overhead.",
        "`true` and `echo` are bash builtins; `ls` forks inside the container, which sets our p95 on a busy machine.",
        "mini-swe-agent's teardown is `docker stop` (10 s grace, since `sleep` ignores SIGTERM), run in the",
        "background; the time shown is until its container is gone. Ours is `docker rm -f`.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", default="swe-search/base:bookworm", help="image to run the commands in")
    parser.add_argument("-n", type=int, default=200, help="commands per path")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the markdown table")
    args = parser.parse_args()
    client = ensure_docker()
    paths: list[Callable[[], OverheadRun]] = [
        lambda: Ours(args.image),
        lambda: RawExec(args.image),
        lambda: MiniSweAgent(args.image, client),
    ]
    results = {}
    for make in paths:
        path = make()
        print(f"measuring {path.name} ...", flush=True)
        results[path.name] = measure(path, args.n)
        print(f"  {results[path.name]}", flush=True)
    text = report(results, args.n)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
