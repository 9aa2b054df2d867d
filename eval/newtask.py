"""`tasks new`'s checks through swebench grading (envs.newtask.TaskCheck): envs builds the task and
its image and may not know eval, so the test runs and the gold/empty grading it asks for live here,
beside the grading they use.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from envs.fixcommit import NewTaskError
from envs.types import Task
from eval.grading import GradeStatus, grade


class GradingCheck:
    """A new task's test runs and its gold/empty check, each a swebench grading run."""

    def statuses(self, task: Task, patch: str, run_id: str, timeout: float) -> dict[str, str]:
        """swebench's test status map of one run of eval.sh, with `patch` applied (or none)."""
        from swebench.harness.grading import get_logs_eval
        from swebench.harness.utils import make_test_spec

        result = grade(task, patch, run_id, timeout, run_if_empty=True)
        if result.status in (GradeStatus.INFRA_ERROR, GradeStatus.TEST_TIMEOUT, GradeStatus.PATCH_FAILED):
            raise NewTaskError(
                f"running the tests {'with the fix' if patch else 'on the base commit'} failed: {result.message}\n"
                + "\n".join(result.log.splitlines()[-30:])
            )
        with tempfile.TemporaryDirectory(prefix="swe-search-newtask-") as tmp:
            log = Path(tmp) / "test_output.txt"
            log.write_text(result.log)
            statuses, ok = get_logs_eval(make_test_spec(task.instance), str(log))
        if not ok:
            raise NewTaskError(
                "swebench could not read the test run as a pytest run:\n"
                + "\n".join(result.log.splitlines()[-30:])
            )
        return statuses

    def check(
        self, task: Task, gold_patch: str, run_id: str, timeout: float, say: Callable[[str], None]
    ) -> None:
        """The gold patch must resolve the task and the untouched base commit must not."""
        say(f"{task.instance_id}: grading the gold patch and the base commit")
        gold = grade(task, gold_patch, run_id, timeout)
        if not gold.resolved:
            raise NewTaskError(
                f"the gold patch does not resolve the task ({gold.status.value}): {gold.message}"
            )
        empty = grade(task, "", run_id, timeout, run_if_empty=True)
        if empty.resolved:
            raise NewTaskError(
                "the untouched base commit already resolves the task; the tests do not show the bug"
            )
