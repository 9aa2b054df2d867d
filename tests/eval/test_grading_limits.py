"""Grading runs the model's code under the container settings: a fork bomb and a memory hog stay inside.

The graded patch adds a `conftest.py` that pytest loads before the tests: it forks until fork fails
(bounded at FORKS), then a child allocates until it is killed (bounded at HOG_MB). It reports what
it got, and the cgroup limits it saw, on one line of the test log.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from agent.policies import ScriptedPolicy
from envs.settings import ContainerSettings, parse_size
from envs.types import Task
from eval.batch.config import RunConfig
from eval.batch.prepare import Batch
from eval.batch.run import grade_predictions, run_batch
from tests.helpers.containers import labelled_containers

LIMITS = ContainerSettings(mem_limit="192m", cpus=1.0, pids_limit=64)
FORKS = 300
HOG_MB = 768
CONFTEST = f"""\
import os, signal, time

def _probe():
    def read(path):
        try:
            return open(path).read().strip()
        except OSError:
            return "?"

    children = []
    while len(children) < {FORKS}:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(120)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        hog = []
        for _ in range({HOG_MB} // 16):
            hog.append(b"x" * (16 << 20))
            os.write(write_end, b"+")
        os._exit(0)
    os.close(write_end)
    got = 0
    while chunk := os.read(read_end, 4096):
        got += 16 * len(chunk)
    _, status = os.waitpid(pid, 0)
    return (
        f"PROBE forked={{len(children)}} hog_mb={{got}} hog_signal={{os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0}}"
        f" pids_max={{read('/sys/fs/cgroup/pids/pids.max')}}"
        f" mem_limit={{read('/sys/fs/cgroup/memory/memory.limit_in_bytes')}}"
    )

REPORT = _probe()

def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(REPORT)
"""


def conftest_patch() -> str:
    lines = CONFTEST.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return f"diff --git a/conftest.py b/conftest.py\nnew file mode 100644\n--- /dev/null\n+++ b/conftest.py\n@@ -0,0 +1,{len(lines)} @@\n{body}"


def probe(log: str) -> dict[str, str]:
    match = re.search(r"PROBE (.*)", log)
    assert match, f"the conftest did not report:\n{log[-3000:]}"
    return dict(item.split("=", 1) for item in match.group(1).split())


@pytest.mark.slow
def test_fork_bomb_and_memory_hog_in_a_graded_patch_stay_inside_its_limits(
    example_task_images: list[Task], tmp_path: Path
) -> None:
    by_id = {t.instance_id: t for t in example_task_images}
    bomb, fine = by_id["swe-search__textkit-2"], by_id["swe-search__textkit-1"]
    preds = tmp_path / "preds.jsonl"
    rows = [(bomb.instance_id, conftest_patch()), (fine.instance_id, fine.instance["patch"])]
    preds.write_text("".join(json.dumps({"instance_id": i, "model_patch": p}) + "\n" for i, p in rows))
    out, run_id = tmp_path / "run", f"test-grading-limits-{tmp_path.name}"

    finished = grade_predictions(
        preds,
        [bomb, fine],
        out,
        run_id=run_id,
        timeout=90,
        build=False,
        console=Console(quiet=True),
        progress=False,
        container=LIMITS,
    )

    assert finished
    grade = json.loads((out / "grades" / f"{bomb.instance_id}.json").read_text())
    assert grade["status"] in ("unresolved", "test_timeout") and grade["runs"][0]["message"]
    seen = probe((out / "grades" / "logs" / bomb.instance_id / "run-0.log").read_text())
    assert seen["pids_max"] == str(LIMITS.pids_limit)
    assert int(seen["forked"]) < LIMITS.pids_limit  # fork failed at the limit, not at FORKS
    assert int(seen["mem_limit"]) == parse_size(LIMITS.mem_limit)
    assert seen["hog_signal"] == "9" and int(seen["hog_mb"]) < HOG_MB  # OOM-killed at the limit
    # the batch went on: the next grading, under the same limits, resolves
    assert json.loads((out / "grades" / f"{fine.instance_id}.json").read_text())["status"] == "resolved"
    assert labelled_containers(run_id) == []


@pytest.mark.slow
def test_run_grades_under_the_run_configs_container_settings(
    example_task_images: list[Task], tmp_path: Path
) -> None:
    """`swe-search run`: the agent writes the same conftest.py; grading gets `container.*` from the config."""
    (task,) = [t for t in example_task_images if t.instance_id == "swe-search__textkit-2"]
    write = f"echo {base64.b64encode(CONFTEST.encode()).decode()} | base64 -d > conftest.py"
    replies = [f"Add a conftest.\n```bash\n{write}\n```", "Done.\n```bash\nsubmit\n```"]
    run_id = f"test-grading-limits-run-{tmp_path.name}"
    overrides = [
        f"container.{k}={v}" for k, v in LIMITS.model_dump(include={"mem_limit", "pids_limit"}).items()
    ]
    config = RunConfig.load(
        flags={"out": str(tmp_path / "run"), "run_id": run_id, "grade_timeout": 90, "build_images": False},
        overrides=overrides,
    )
    batch = Batch(config, tmp_path / "run", run_id, [task], lambda t: ScriptedPolicy(replies), None)

    assert run_batch(batch, Console(quiet=True), progress=False)

    grade = json.loads((tmp_path / "run" / "grades" / f"{task.instance_id}.json").read_text())
    assert "conftest.py" in grade["model_patch"] and grade["status"] in ("unresolved", "test_timeout")
    seen = probe((tmp_path / "run" / "grades" / "logs" / task.instance_id / "run-0.log").read_text())
    assert seen["pids_max"] == str(LIMITS.pids_limit) and int(seen["forked"]) < LIMITS.pids_limit
    assert int(seen["mem_limit"]) == parse_size(LIMITS.mem_limit) and seen["hog_signal"] == "9"
    assert labelled_containers(run_id) == []
