"""The bundled example tasks are sound: gold resolves, the base commit fails, the repo is well formed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from swebench.task.checks import check_task_repo

from envs.tasks import load_tasks
from envs.types import Task
from eval.grading import GradeStatus, grade

TASK_REPO = Path(__file__).resolve().parents[2] / "examples" / "tasks"
RUN_ID = "test-example-tasks-gold"


TASKS = load_tasks(TASK_REPO)
IDS = [t.instance_id for t in TASKS]


@pytest.fixture(scope="session")
def built(example_task_images: list[Task]) -> dict[str, Task]:
    """The example tasks by id, their images built (tests/conftest.py)."""
    return {t.instance_id: t for t in example_task_images}


def load_sync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_tasks_sync", TASK_REPO / "sync.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_at_least_five_tasks_with_both_test_kinds():
    assert len(TASKS) >= 5
    for task in TASKS:
        assert task.fail_to_pass and task.pass_to_pass, task.instance_id
        assert task.instance["log_parser"] == "parse_log_pytest"
        assert task.instance["eval_type"] == "pass_and_fail"


def test_task_repo_passes_swebench_checks_except_our_image_names():
    problems = [p for p in check_task_repo(TASK_REPO) if "is not the derived name" not in p.message]
    assert problems == []


def test_generated_files_match_their_sources():
    assert load_sync().sync(TASK_REPO, check=True) == []


@pytest.mark.parametrize("instance_id", IDS)
def test_empty_patch_is_graded_empty_patch(instance_id):
    task = next(t for t in TASKS if t.instance_id == instance_id)
    result = grade(task, "", run_id=RUN_ID)
    assert result.status is GradeStatus.EMPTY_PATCH
    assert not result.resolved


@pytest.mark.slow
@pytest.mark.parametrize("instance_id", IDS)
def test_gold_patch_resolves(built, instance_id):
    task = built[instance_id]
    result = grade(task, task.instance["patch"], run_id=RUN_ID, timeout=60)
    assert result.status is GradeStatus.RESOLVED, f"{result.message}\n{result.log[-3000:]}"
    tests = result.report["tests_status"]
    assert sorted(tests["FAIL_TO_PASS"]["success"]) == sorted(task.fail_to_pass)
    assert sorted(tests["PASS_TO_PASS"]["success"]) == sorted(task.pass_to_pass)


@pytest.mark.slow
@pytest.mark.parametrize("instance_id", IDS)
def test_base_commit_fails_fail_to_pass_and_passes_pass_to_pass(built, instance_id):
    task = built[instance_id]
    result = grade(task, "", run_id=RUN_ID, timeout=60, run_if_empty=True)
    assert result.status is GradeStatus.UNRESOLVED, f"{result.message}\n{result.log[-3000:]}"
    tests = result.report["tests_status"]
    assert sorted(tests["FAIL_TO_PASS"]["failure"]) == sorted(task.fail_to_pass)
    assert sorted(tests["PASS_TO_PASS"]["success"]) == sorted(task.pass_to_pass)
