"""Checks made before any container starts, for what would otherwise fail after the agent has run.

- every selected task can be graded: swebench 5's `make_test_spec` builds its test spec, its log
  parser and eval type are known, it names a base commit, and its test patch applies;
- the container settings fit the Docker host (CPUs).

Where the test patch is checked: a task repo task (like examples/tasks) carries `repo/`, the exact
tree its Dockerfile commits as the base commit, so `git apply --check` against that folder costs
milliseconds and no container. A dataset row whose image is pulled has no tree on this machine; its
test patch is checked again by grading (`eval.grading`, an `infra_error`), as every task's is.

Each failure raises TaskNotGradable (a ValueError): one line saying which task and what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from swebench.harness.constants import EvalType
from swebench.harness.log_parsers import PARSER_REGISTRY
from swebench.harness.utils import make_test_spec

from envs.settings import ContainerSettings, TooManyCpus
from envs.types import Task

SWEBENCH5_FIELDS = ("eval_script", "log_parser", "eval_type")
"""What swebench 5's make_test_spec needs beyond the classic 12-field SWE-bench rows."""
CLASSIC_HINT = (
    "join swebench 5's fields by instance id with --fields-from DATASET (e.g. --fields-from "
    "SWE-bench/SWE-bench_Verified for Verified rows), or give the test command and log parser per repo "
    "and version with --spec FILE (docs/tasks.md)"
)
SHOWN = 3
"""Tasks named in the message; the rest are counted."""


class TaskNotGradable(ValueError):
    """A selected task cannot be graded as it stands; nothing has started."""


class HostTooSmall(ValueError):
    """The container settings ask for more than the Docker host has."""


def check_tasks(tasks: list[Task]) -> None:
    """Raise TaskNotGradable naming the tasks that would fail at grading, and why, in one line."""
    problems = [(t.instance_id, p) for t in tasks if (p := task_problem(t))]
    if not problems:
        return
    classic = [i for i, p in problems if p.startswith("classic")]
    if len(classic) == len(problems):
        raise TaskNotGradable(
            f"{len(classic)} of {len(tasks)} selected task(s) are classic SWE-bench rows without "
            f"{', '.join(SWEBENCH5_FIELDS)} ({_names(classic)}), so they cannot be graded; {CLASSIC_HINT}"
        )
    shown = "; ".join(f"{i}: {p}" for i, p in problems[:SHOWN])
    more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    raise TaskNotGradable(f"{len(problems)} of {len(tasks)} selected task(s) cannot be graded: {shown}{more}")


def task_problem(task: Task) -> str | None:
    """Why `task` cannot be graded, or None."""
    row = task.instance
    where = f"{task.build_context}/task.yaml" if task.build_context else "the row"
    if all(not row.get(f) for f in SWEBENCH5_FIELDS):
        return f"classic row: no {', '.join(SWEBENCH5_FIELDS)}; {CLASSIC_HINT}"
    missing = [f for f in (*SWEBENCH5_FIELDS, "base_commit") if not row.get(f)]
    if missing:
        return f"{where} has no {', '.join(missing)}"
    odd = [f for f in (*SWEBENCH5_FIELDS, "base_commit") if not isinstance(row[f], str)]
    if odd:
        return f"{where}: {', '.join(f'{f} must be a string, not {type(row[f]).__name__}' for f in odd)}"
    if row["log_parser"] not in PARSER_REGISTRY:
        return f"unknown log_parser {row['log_parser']!r} in {where} (swebench 5 has e.g. parse_log_pytest)"
    if row["eval_type"] not in {e.value for e in EvalType}:
        return f"unknown eval_type {row['eval_type']!r} in {where}; use one of {', '.join(e.value for e in EvalType)}"
    try:
        make_test_spec(row)
    except KeyError as e:
        return f"{where} has no {e.args[0]} (swebench's make_test_spec needs it)"
    except (ValueError, TypeError) as e:
        return f"swebench's make_test_spec rejects it: {e}"
    return _test_patch_problem(task)


def _test_patch_problem(task: Task) -> str | None:
    """`git apply --check` of the test patch against the task repo's repo/ folder (None: it applies)."""
    patch = task.instance.get("test_patch") or ""
    tree = Path(task.build_context) / "repo" if task.build_context else None
    if not patch.strip() or tree is None or not tree.is_dir() or shutil.which("git") is None:
        return None
    # the ceiling keeps git from taking an enclosing checkout (ours) for the task's tree
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tree.parent.resolve())}
    done = subprocess.run(
        ["git", "apply", "--check", "-"],
        input=patch,
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode == 0:
        return None
    reason = " ".join(done.stderr.split())[:200] or f"git apply exited {done.returncode}"
    return f"its test patch does not apply to {tree} ({reason})"


def check_host(container: ContainerSettings, client: Any) -> None:
    """Refuse container settings the Docker daemon would reject at the first container (CPUs:
    ContainerSettings.cpu_quota gives the one answer)."""
    try:
        container.cpu_quota(client.info().get("NCPU"))
    except TooManyCpus as e:
        raise HostTooSmall(str(e)) from None


def _names(ids: list[str]) -> str:
    more = f", and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
    return ", ".join(ids[:SHOWN]) + more
