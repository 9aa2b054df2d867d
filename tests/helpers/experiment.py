"""A reduced `swe-search experiment` for tests: few tasks, few repeats, a tiny critic, 1 epoch.

`run_reduced_experiment(tmp_path / "exp")` runs it to completion in a subprocess (with the test
policy `scripted:coin` registered, tests/eval/coin_policy.py) and returns the parsed
experiment.json. Overrides go on top, so a test on another task family only names what differs:

    run_reduced_experiment(out, "dataset=examples/testbed", "split=split.yaml", "run.model=testbed")
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
TRAIN = ["swe-search__confkit-1", "swe-search__textkit-1"]
HELDOUT = ["swe-search__unitkit-1"]


def reduced_config(folder: Path) -> Path:
    """A YAML over configs/experiment.yaml: 2 train tasks x M=2, 1 held-out task x R=2, K=2, N=2."""
    text = f"""\
extends: {REPO / "configs" / "experiment.yaml"}
dataset: {EXAMPLES}
split: {{kind: ids, train: {json.dumps(TRAIN)}, heldout: {json.dumps(HELDOUT)}}}
collect: {{m: 2, temperature: 1.0}}
critic: {{epochs: 1, max_context: 8192, batch_size: 4}}
evaluate: {{repeats: 2, n: 2, k: 2}}
report: {{bootstrap_samples: 200, seed: 0}}
run:
  model: scripted:coin
  workers: 2
  instance_timeout: 300
  grade_timeout: 300
  agent: {{step_limit: 4}}
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "reduced-experiment.yaml"
    path.write_text(text, encoding="utf-8")
    return path


COIN_ENTRY = "tests.eval.coin_policy"
"""`swe-search` with scripted:coin registered (tests/eval/coin_policy.py)."""
PLAIN_ENTRY = "eval.cli"


def experiment_command(config: Path, out: Path, *overrides: str, entry: str = COIN_ENTRY) -> list[str]:
    """`swe-search experiment` as a command line (`python -m <entry> experiment ...`)."""
    return [
        sys.executable,
        "-m",
        entry,
        "experiment",
        "-c",
        str(config),
        "--out",
        str(out),
        "--no-progress",
        *overrides,
    ]


def run_reduced_experiment(out: Path, *overrides: str, timeout: float = 900) -> dict[str, Any]:
    """Run the reduced experiment into `out` (resuming what is there); return experiment.json."""
    config = reduced_config(out.parent / f"{out.name}-config")
    done = subprocess.run(
        experiment_command(config, out, *overrides), cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return json.loads((out / "experiment.json").read_text(encoding="utf-8"))


def run_experiment(cmd: list[str], out: Path, timeout: float = 1500) -> dict[str, Any]:
    """Run an experiment command to completion, its output in `<out>.log`; return experiment.json."""
    log = out.with_suffix(".log")
    with log.open("ab") as f:
        done = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    assert done.returncode == 0, log.read_text(errors="replace")[-5000:]
    return json.loads((out / "experiment.json").read_text(encoding="utf-8"))


def kill_when(cmd: list[str], ready: Callable[[], bool], what: str, log: Path, timeout: float = 600) -> None:
    """Start the experiment `cmd` (its output appended to `log`); SIGKILL it as soon as `ready()` holds."""
    with log.open("ab") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=f, stderr=f)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, f"the experiment ended before {what}; see {log}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:  # an assertion above failed: leave no experiment running
            proc.kill()
        proc.wait(60)


def first_steps(out: Path, seed: int, pool: str) -> dict[str, list[tuple[int, int]]]:
    """Per task of an evaluation pool, (prompt tokens, samples) of each run's first step: every run of
    a task starts from the same history (system prompt and issue)."""
    from eval.experiment.layout import pool_dir

    steps: dict[str, list[tuple[int, int]]] = {}
    for path in sorted((pool_dir(out, seed, pool) / "trajectories").rglob("trajectory.json")):
        traj = json.loads(path.read_text(encoding="utf-8"))
        if traj["steps"]:
            first = traj["steps"][0]
            samples = sum(c["count"] for c in first["candidates"])
            steps.setdefault(traj["instance_id"], []).append((first["prompt_tokens"], samples))
    return steps


def assert_prompts_counted_once(out: Path, report: dict[str, Any], max_ratio: float) -> None:
    """Issue 27: a lookahead step's K samples come from one request, whose prompt counts once.

    Its first steps record the prompt that base's record for the same history. In the cost table,
    the constant-critic control (K samples a step, runs like base's) makes steps whose prompt tokens
    stay within `max_ratio` of base's, and lookahead's (longer runs) below K times base's: counted
    per sample, they were K times that.
    """
    k, n, result = report["settings"]["k"], report["settings"]["n"], report["results"]["0"]
    base, look = first_steps(out, 0, "base"), first_steps(out, 0, "lookahead")
    assert base and sorted(look) == sorted(base)
    for task, runs in base.items():
        prompts = {p for p, _ in runs}
        assert len(prompts) == 1 and min(prompts) > 0, (task, runs)  # one history, one prompt size
        assert {s for _, s in runs} == {1} and {s for _, s in look[task]} == {k}
        assert {p for p, _ in look[task]} == prompts, (task, look[task], runs)
    cost = result["cost"]["per_instance"]
    per_call = {
        s: cost[s]["prompt_tokens"] / cost[s]["policy_calls"]
        for s in ("base", "lookahead", "lookahead_const")
    }
    assert per_call["lookahead"] == pytest.approx(cost["lookahead"]["prompt_tokens_per_call"])
    assert per_call["lookahead_const"] < max_ratio * per_call["base"], per_call
    assert per_call["lookahead"] < k * per_call["base"], per_call
    assert cost["lookahead"]["policy_samples"] > 1.5 * cost["lookahead"]["policy_calls"]  # K a step
    assert cost["both"]["prompt_tokens"] == pytest.approx(n * cost["lookahead"]["prompt_tokens"])  # N runs
    assert not result["cost"]["notes"]  # written by this code: no per-sample note
