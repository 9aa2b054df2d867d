"""eval.grading against real containers of one bundled example task."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import docker
import pytest

from envs.images import build_task_images
from envs.tasks import load_tasks
from envs.types import Task
from eval.grading import Grade, GradeStatus, grade
from tests.helpers.containers import labelled_containers

TASK_REPO = Path(__file__).resolve().parents[2] / "examples" / "tasks"
INSTANCE_ID = "swe-search__textkit-2"
RUN_ID = "test-grading"


def load_task(instance_id: str) -> Task:
    (task,) = load_tasks(TASK_REPO, instances=[instance_id])
    return task


@pytest.fixture(scope="session")
def task(docker_client: docker.DockerClient, base_image: str) -> Task:
    """The example task with its image built."""
    task = load_task(INSTANCE_ID)
    build_task_images([task], base_image=base_image, client=docker_client)
    return task


def variant(task: Task, **instance: str) -> Task:
    """A copy of ``task`` whose instance has some fields replaced."""
    changed = copy.deepcopy(task)
    changed.instance.update(instance)
    return changed


def gold(task: Task) -> str:
    return task.instance["patch"]


def test_empty_patch_needs_no_container():
    result = grade(load_task(INSTANCE_ID), "  \n", run_id=RUN_ID)
    assert result.status is GradeStatus.EMPTY_PATCH
    assert result.resolved is False
    assert result.report["patch_exists"] is False


def test_missing_image_is_an_infra_error(docker_client):
    task = load_task(INSTANCE_ID)
    task.image = "swe-search/task:no-such-image"
    result = grade(task, gold(task), run_id=RUN_ID, client=docker_client)
    assert result.status is GradeStatus.INFRA_ERROR
    assert "no-such-image" in result.message


def test_grade_round_trips_through_json():
    result = Grade(instance_id="x", status=GradeStatus.TEST_TIMEOUT, resolved=False, report={"a": [1]})
    data = json.loads(result.model_dump_json())
    assert data["status"] == "test_timeout"
    assert Grade.model_validate(data) == result


@pytest.mark.slow
def test_gold_patch_resolves_and_leaves_no_container(task):
    result = grade(task, gold(task), run_id=RUN_ID, timeout=60)
    assert result.status is GradeStatus.RESOLVED, result.log
    assert result.resolved
    assert labelled_containers(RUN_ID) == []


@pytest.mark.slow
def test_garbage_patch_is_patch_failed(task):
    result = grade(task, "this is not a diff\n+ at all\n", run_id=RUN_ID, timeout=60)
    assert result.status is GradeStatus.PATCH_FAILED
    assert ">>>>> Patch Apply Failed" in result.log


@pytest.mark.slow
def test_patch_against_other_code_is_patch_failed(task):
    stale = gold(task).replace("-    if len(text) < width:", "-    if len(text) != width:")
    result = grade(task, stale, run_id=RUN_ID, timeout=60)
    assert result.status is GradeStatus.PATCH_FAILED


@pytest.mark.slow
def test_patch_with_stale_context_applies_with_fuzz(task):
    lines = gold(task).splitlines(keepends=True)
    first_context = next(i for i, line in enumerate(lines) if line.startswith(" ") and i > 4)
    lines[first_context] = "     # a comment that is not in the file\n"
    fuzzy = "".join(line for line in lines if not line.startswith("index "))
    result = grade(task, fuzzy, run_id=RUN_ID, timeout=60)
    assert result.status is GradeStatus.RESOLVED, result.log
    assert "+ patch --batch" in result.log


@pytest.mark.slow
def test_broken_test_patch_is_an_infra_error(task):
    broken_tests = task.instance["test_patch"].replace(" def test_", " def tset_")
    broken = variant(
        task,
        test_patch=broken_tests,
        eval_script=task.instance["eval_script"].replace(task.instance["test_patch"], broken_tests),
    )
    result = grade(broken, gold(task), run_id=RUN_ID, timeout=60)
    assert result.status is GradeStatus.INFRA_ERROR
    assert "test patch" in result.message


@pytest.mark.slow
def test_eval_script_that_stops_before_the_tests_is_an_infra_error(task):
    stops = variant(
        task, eval_script=task.instance["eval_script"].replace("cd /testbed\n", "cd /testbed\nexit 7\n")
    )
    result = grade(stops, gold(task), run_id=RUN_ID, timeout=60)
    assert result.status is GradeStatus.INFRA_ERROR
    assert "exit 7" in result.message


@pytest.mark.slow
def test_eval_past_the_timeout_is_test_timeout(task):
    marker = ": '>>>>> Start Test Output'\n"
    slow = variant(task, eval_script=task.instance["eval_script"].replace(marker, marker + "sleep 60\n"))
    result = grade(slow, gold(task), run_id=f"{RUN_ID}-timeout", timeout=2)
    assert result.status is GradeStatus.TEST_TIMEOUT
    assert "Timeout error: 2 seconds exceeded." in result.log
    assert result.duration < 10
    assert labelled_containers(f"{RUN_ID}-timeout") == []


@pytest.mark.slow
def test_patch_that_breaks_the_tests_is_unresolved(task):
    breaking = gold(task).replace("+    if len(text) <= width:", "+    if len(text) <= width + 1:")
    result = grade(task, breaking, run_id=RUN_ID, timeout=60)
    assert result.status is GradeStatus.UNRESOLVED
    assert result.report["patch_successfully_applied"] is True
    assert "required test(s) failed" in result.message
