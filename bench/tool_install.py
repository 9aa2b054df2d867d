"""What installing the scaffold's tools costs per run: one copy of all files against a copy per file.

Every run of the agent starts by writing the tools (agent.scaffold.install_tools: the tools package
and one wrapper per tool, 16 files) into a fresh container. Measured in one run, on the same
containers: `DockerEnv.write_files` (one Docker archive copy and one exec-bit check for all files,
what install_tools does) against `write_file` per file (a copy and a check each, what it did
before), and the whole `install_tools`. Writes bench/results/tool_install.md.

    python bench/tool_install.py [--image swe-search/base:bookworm] [-n 20]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

from agent import scaffold
from envs.docker import DockerEnv
from envs.types import Task

RESULTS = Path(__file__).parent / "results" / "tool_install.md"


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="swe-search/base:bookworm")
    parser.add_argument("-n", type=int, default=20, help="containers per path")
    args = parser.parse_args()
    files = scaffold.tool_files("/usr/bin/python3")  # the interpreter path does not change the cost
    task = Task("bench__tools-1", "", args.image, workdir="/")
    one_copy, per_file, install = [], [], []
    for _ in range(args.n):  # interleaved, so load changes hit every path alike
        with DockerEnv(task, run_id="bench") as env:
            one_copy.append(timed(lambda: env.write_files(files)))
        with DockerEnv(task, run_id="bench") as env:
            per_file.append(timed(lambda: [env.write_file(p, d) for p, d in files.items()]))
        with DockerEnv(task, run_id="bench") as env:
            install.append(timed(lambda: scaffold.install_tools(env)))
    med = {name: statistics.median(v) for name, v in (("one", one_copy), ("per", per_file), ("all", install))}
    text = "\n".join(
        [
            "# Installing the tools into a container",
            "",
            f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())};"
            f" {platform.platform()}",
            f"- {len(files)} files ({sum(map(len, files.values())) // 1024} KiB), {args.n} fresh containers per path,"
            f" image {args.image}",
            "- produced by `python bench/tool_install.py`",
            "",
            "| path | median | worst | per file vs one copy |",
            "|---|---|---|---|",
            f"| `write_files`: one copy for all (install_tools now) | {med['one'] * 1000:.0f} ms"
            f" | {max(one_copy) * 1000:.0f} ms | 1x |",
            f"| `write_file` per file (install_tools before) | {med['per'] * 1000:.0f} ms"
            f" | {max(per_file) * 1000:.0f} ms | {med['per'] / med['one']:.1f}x |",
            f"| whole `install_tools` (find python, mkdir, copy, chmod) | {med['all'] * 1000:.0f} ms"
            f" | {max(install) * 1000:.0f} ms | |",
            "",
        ]
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
