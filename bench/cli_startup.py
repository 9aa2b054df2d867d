"""How long `swe-search --help` and a usage error take, with the imports that dominate.

Runs each command `-n` times in a fresh interpreter (`python -m eval.cli ...`, as the console
script does) and reports the median and worst wall time; the goal is under a second. Writes
bench/results/cli_startup.md.

    python bench/cli_startup.py [-n 10]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {"--help": ["--help"], "run --help": ["run", "--help"], "usage error": ["run", "--no-such-flag"]}
RESULTS = Path(__file__).resolve().parent / "results" / "cli_startup.md"


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "eval.cli", *argv], capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="runs per command")
    args = parser.parse_args()
    baseline = [wall_python() for _ in range(args.n)]
    rows = [f"| bare `python -c pass` | {statistics.median(baseline):.2f} s | {max(baseline):.2f} s |"]
    for name, argv in COMMANDS.items():
        times = [wall(argv) for _ in range(args.n)]
        rows.append(f"| `swe-search {name}` | {statistics.median(times):.2f} s | {max(times):.2f} s |")
    text = "\n".join(
        [
            "# CLI start-up",
            "",
            f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {args.n} runs per command",
            "- produced by `python bench/cli_startup.py`",
            "",
            "| command | median | worst |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )
    RESULTS.write_text(text)
    print(text)


def wall_python() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=False)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
