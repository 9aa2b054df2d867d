"""How long `swe-search --help` and a usage error take, with the imports that dominate.

Runs each command `-n` times in a fresh interpreter (`python -m eval.cli ...`, as the console
script does) and reports the median and worst wall time; the goal is under a second. Beside them,
in the same rounds, a bare interpreter and the imports that `--help` made before the CLI imported
lazily: the CLI itself as of `--before` (default: the last commit before the lazy CLI, 214ef7f^,
checked out with `git archive` into a temporary folder), and the imports that dominated it
(swebench alone; swebench with datasets, docker-py and openai). The commands take turns, so a
change in the load hits all alike. Writes bench/results/cli_startup.md.

    python bench/cli_startup.py [-n 10] [--before REV]
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {"--help": ["--help"], "run --help": ["run", "--help"], "usage error": ["run", "--no-such-flag"]}
# the heavy third-party imports `--help` made before the lazy CLI (tests/eval/test_cli_imports.py)
BASELINES = {
    "bare `python -c pass`": "pass",
    "`python -c 'import swebench'`": "import swebench",
    "`python -c 'import swebench, datasets, docker, openai'`": "import swebench, datasets, docker, openai",
}
BEFORE = "214ef7f^"  # the last commit whose CLI imported everything up front
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "cli_startup.md"


def wall(args: list[str], cwd: Path = REPO) -> float:
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    done = subprocess.run([sys.executable, *args], capture_output=True, check=False, cwd=cwd, env=env)
    if done.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(args)} in {cwd} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return time.perf_counter() - start


def checkout(rev: str, into: Path) -> bool:
    """The project's tree at `rev` in `into` (git archive); False where this checkout lacks `rev`."""
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=False)
    if archive.returncode != 0:
        return False
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="runs per command")
    parser.add_argument("--before", default=BEFORE, help="the revision whose `--help` to time beside ours")
    args = parser.parse_args()
    runs = {f"`swe-search {name}`": (["-m", "eval.cli", *argv], REPO) for name, argv in COMMANDS.items()}
    old = Path(tempfile.mkdtemp(prefix="cli-startup-before-"))
    if checkout(args.before, old):
        runs[f"`swe-search --help` as of {args.before} (before lazy imports)"] = (
            ["-m", "eval.cli", "--help"],
            old,
        )
    else:
        print(f"note: {args.before} is not in this checkout; timing without it", file=sys.stderr)
    runs |= {name: (["-c", code], REPO) for name, code in BASELINES.items()}
    load_before = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for _ in range(args.n):  # round-robin: every command sees the same load
            for name, (argv, cwd) in runs.items():
                times[name].append(wall(argv, cwd))
    finally:
        shutil.rmtree(old, ignore_errors=True)
    help_median = statistics.median(times["`swe-search --help`"])
    rows = [
        f"| {name} | {statistics.median(t):.2f} s | {max(t):.2f} s | {statistics.median(t) / help_median:.1f}x |"
        for name, t in times.items()
    ]
    load = " / ".join(f"{a:.1f}" for a in (load_before[0], os.getloadavg()[0]))
    text = "\n".join(
        [
            "# CLI start-up",
            "",
            f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- load average (1 min) before / after: {load}; {args.n} rounds, the commands taking turns",
            "- produced by `python bench/cli_startup.py`",
            "",
            "| command | median | worst | median / `--help`'s |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
