"""Grade one patch for one task, the way swebench grades it, in a fresh container.

The steps follow swebench's ``run_instance``: apply the model patch (``git apply``, then
``git apply --3way``, then ``git apply --reject``, then ``patch --fuzz=5``), run the
instance's eval script (which applies the test patch and runs the tests between swebench's
output markers), parse the log with the instance's swebench log parser and decide with
``get_eval_report``. Unlike ``run_instance`` it removes the container with a force kill,
first checks that the task's test patch applies to its base commit (so a broken task is an
``infra_error``, not the model's ``patch_failed``), runs offline under the same limits and
security options as the agent's container (``envs.settings.ContainerSettings``), and writes
nothing to disk.
"""

from __future__ import annotations

import shlex
import tempfile
import time
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

import docker
import docker.errors
from pydantic import BaseModel, Field
from swebench.harness.constants import START_TEST_OUTPUT
from swebench.harness.grading import get_eval_report
from swebench.harness.run_evaluation import GIT_APPLY_CMDS
from swebench.harness.utils import make_test_spec

from envs.container import create_container, exec_script, put_files, running_container
from envs.settings import ContainerSettings
from envs.types import Task

DEFAULT_TIMEOUT = 1800.0
MODEL_NAME = "swe-search"
PATCH_PATH = "/tmp/swe-search/model.patch"
TEST_PATCH_PATH = "/tmp/swe-search/test.patch"
EVAL_PATH = "/eval.sh"
# exit codes of the preparation script
_TEST_PATCH_BROKEN = 3
_MODEL_PATCH_FAILED = 4


class GradeStatus(str, Enum):
    """How grading one patch ended. Only ``resolved`` counts towards Pass@1."""

    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    EMPTY_PATCH = "empty_patch"
    PATCH_FAILED = "patch_failed"
    TEST_TIMEOUT = "test_timeout"
    INFRA_ERROR = "infra_error"


class Grade(BaseModel):
    """The outcome of grading one patch; ``model_dump_json()`` gives its JSON form."""

    instance_id: str = Field(description="the swebench instance id")
    status: GradeStatus = Field(description="how grading ended")
    resolved: bool = Field(description="whether every FAIL_TO_PASS and PASS_TO_PASS test passed")
    report: dict[str, Any] = Field(
        default_factory=dict, description="swebench's get_eval_report entry for this instance"
    )
    log: str = Field(default="", description="patch application output, then the eval script's output")
    message: str = Field(default="", description="why grading did not resolve, in words")
    duration: float = Field(default=0.0, description="seconds spent grading")


class GradingInfraError(Exception):
    """The environment failed (image, container, task data), not the patch."""


def grade(
    task: Task,
    patch: str | None,
    run_id: str,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    run_if_empty: bool = False,
    client: docker.DockerClient | None = None,
    container: ContainerSettings | None = None,
) -> Grade:
    """Grade ``patch`` for ``task`` in a fresh container from the task's image.

    An empty patch is ``empty_patch`` without starting a container, unless
    ``run_if_empty`` asks to run the tests on the untouched base commit. The container
    gets ``container``'s limits (default ``ContainerSettings()``), always offline. Any error
    is turned into an ``infra_error`` grade here, so a batch never stops on one task.
    """
    started = time.monotonic()
    settings = (container or ContainerSettings()).offline()
    try:
        result = _grade(task, patch or "", run_id, timeout, run_if_empty, client, settings)
    except Exception as exc:  # noqa: BLE001 - the per-instance boundary; reported in the grade
        result = _grade_of(task, GradeStatus.INFRA_ERROR, message=f"{type(exc).__name__}: {exc}")
    result.duration = time.monotonic() - started
    return result


@lru_cache(maxsize=1)
def _default_client() -> docker.DockerClient:
    return docker.from_env()


def _grade(
    task: Task,
    patch: str,
    run_id: str,
    timeout: float,
    run_if_empty: bool,
    client: docker.DockerClient | None,
    settings: ContainerSettings,
) -> Grade:
    if not patch.strip() and not run_if_empty:
        return _grade_of(
            task, GradeStatus.EMPTY_PATCH, message="the patch is empty", report=_no_patch_report()
        )
    client = client or _default_client()  # only now: an empty patch needs no Docker at all
    spec = make_test_spec(task.instance)
    image = task.image or spec.image
    created = create_container(client, task, run_id, settings, image=image, kind="grade")
    with running_container(client, created) as container:
        files = {
            PATCH_PATH: patch,
            TEST_PATCH_PATH: task.instance.get("test_patch") or "",
            EVAL_PATH: spec.eval_script,
        }
        put_files(client, container.id, {path: text.encode() for path, text in files.items()})
        script = _prepare_script(task, bool(patch.strip()))
        prepared = exec_script(client, container.id, script, timeout=120, workdir=task.workdir)
        if prepared.exit_code == _TEST_PATCH_BROKEN:
            return _grade_of(
                task,
                GradeStatus.INFRA_ERROR,
                message="the task's test patch does not apply to its base commit",
                log=prepared.output,
            )
        if prepared.exit_code == _MODEL_PATCH_FAILED:
            return _grade_of(
                task, GradeStatus.PATCH_FAILED, message="the patch does not apply", log=prepared.output
            )
        if prepared.exit_code != 0:
            raise GradingInfraError(f"preparing the container failed (exit {prepared.exit_code})")
        ran = exec_script(
            client, container.id, f"/bin/bash {EVAL_PATH}", timeout=timeout, workdir=task.workdir
        )

    log = f"{prepared.output}\n{ran.output}"
    if ran.timed_out:
        return _grade_of(
            task,
            GradeStatus.TEST_TIMEOUT,
            message=f"the tests ran past {timeout:g} s",
            log=f"{log}\n\nTimeout error: {timeout:g} seconds exceeded.",
        )
    if START_TEST_OUTPUT not in ran.output:
        return _grade_of(
            task,
            GradeStatus.INFRA_ERROR,
            message=f"the eval script stopped before the tests ran (exit {ran.exit_code})",
            log=log,
        )
    report = _swebench_report(spec, task.instance_id, patch, ran.output)
    if report.get("resolved"):
        return _grade_of(task, GradeStatus.RESOLVED, report=report, log=log)
    if report.get("infra_failure"):
        reason = report.get("infra_failure_reason", "unknown")
        return _grade_of(
            task, GradeStatus.INFRA_ERROR, message=f"environment failure: {reason}", report=report, log=log
        )
    return _grade_of(
        task, GradeStatus.UNRESOLVED, message=_unresolved_message(report), report=report, log=log
    )


def _grade_of(task: Task, status: GradeStatus, **fields: Any) -> Grade:
    return Grade(
        instance_id=task.instance_id, status=status, resolved=status is GradeStatus.RESOLVED, **fields
    )


def _no_patch_report() -> dict[str, Any]:
    return {
        "patch_is_None": False,
        "patch_exists": False,
        "patch_successfully_applied": False,
        "resolved": False,
    }


def _swebench_report(spec: Any, instance_id: str, patch: str, eval_output: str) -> dict[str, Any]:
    """swebench's verdict on the eval output; its API reads the log from a file."""
    prediction = {"instance_id": instance_id, "model_name_or_path": MODEL_NAME, "model_patch": patch}
    with tempfile.TemporaryDirectory(prefix="swe-search-grade-") as tmp:
        log_path = Path(tmp) / "test_output.txt"
        log_path.write_text(eval_output)
        report = get_eval_report(
            test_spec=spec, prediction=prediction, test_log_path=str(log_path), include_tests_status=True
        )
    return report[instance_id]


def _unresolved_message(report: dict[str, Any]) -> str:
    if not report.get("patch_successfully_applied"):
        return "the test log could not be read as a test run"
    tests = report.get("tests_status", {})
    failed = [t for key in ("FAIL_TO_PASS", "PASS_TO_PASS") for t in tests.get(key, {}).get("failure", [])]
    return f"{len(failed)} required test(s) failed: {', '.join(failed[:5])}" + (
        " ..." if len(failed) > 5 else ""
    )


def _prepare_script(task: Task, has_patch: bool) -> str:
    """Bash that checks the test patch against the base commit, then applies the model patch."""
    base = shlex.quote(task.base_commit or task.instance.get("base_commit") or "HEAD")
    lines = [
        "set -u",
        f"if [ -s {TEST_PATCH_PATH} ]; then",
        # a throwaway index holding the base tree: the check sees neither the model patch nor the worktree
        f"  GIT_INDEX_FILE=/tmp/swe-search/base.index git read-tree {base} \\",
        f"   && GIT_INDEX_FILE=/tmp/swe-search/base.index git apply --cached --check {TEST_PATCH_PATH} \\",
        f"   || {{ echo '>>>>> Test patch does not apply to the base commit'; exit {_TEST_PATCH_BROKEN}; }}",
        "fi",
    ]
    if has_patch:
        attempts = " ".join(shlex.quote(cmd) for cmd in GIT_APPLY_CMDS)
        lines += [
            "applied=0; first=1",
            f"for cmd in {attempts}; do",
            # a failed attempt (--reject above all) leaves partial state behind
            '  [ "$first" = 1 ] || { git checkout -q -- . ; git clean -fdq; }; first=0',
            f'  echo "+ $cmd"; if $cmd {PATCH_PATH}; then applied=1; break; fi',
            "done",
            # the chain can leave the patch fully applied while every command exited non-zero
            f'if [ "$applied" = 0 ] && git apply --check --reverse {PATCH_PATH} 2>/dev/null; then applied=1; fi',
            f"[ \"$applied\" = 1 ] || {{ echo '>>>>> Patch Apply Failed'; exit {_MODEL_PATCH_FAILED}; }}",
            "echo '>>>>> Applied Patch'",
        ]
    return "\n".join(lines) + "\n"
