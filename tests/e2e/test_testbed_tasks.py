"""The testbed's tasks are sound: gold resolves, empty and decoys do not, the repro tells them apart.

Every patch is graded by `eval.grading.grade` in a fresh container, a few at a time. The issue's
reproducible example runs in one DockerEnv per task, reset with git between the base, the gold
patch and each decoy (a reset tree is the base commit again, so reusing the container is honest).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import docker
import pytest
import yaml
from swebench.task.checks import check_task_repo

from agent.testbed import TestbedPolicy
from agent.testbed_task import GOLD, load_patches
from envs.docker import DockerEnv
from envs.images import build_task_images
from envs.tasks import load_tasks
from envs.types import Task
from eval.grading import Grade, GradeStatus, grade
from tests.helpers.edits import block_forms, changed_chars, skeleton

TESTBED = Path(__file__).resolve().parents[2] / "examples" / "testbed"
RUN_ID = "test-testbed-tasks"
# graded at once: container start-up is mostly waiting on the daemon, so a few overlap well on 2 cores
WORKERS = 4
TASKS = load_tasks(TESTBED)
IDS = [t.instance_id for t in TASKS]
TASK_FILES = (
    "task.yaml",
    "tests.json",
    "problem_statement.md",
    "gold.patch",
    "test.patch",
    "eval.sh",
    "Dockerfile",
)


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("testbed_build", TESTBED / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = load_build()


def decoys(task: Task) -> dict[str, str]:
    """The task's wrong patches, by file name."""
    folder = Path(task.build_context or "") / "decoys"
    return {p.name: p.read_text() for p in sorted(folder.glob("*.patch"))}


def patches(task: Task) -> dict[str, str]:
    """Every patch the checks below apply: "" (the base commit), the gold patch, the decoys."""
    return {"base": "", "gold": task.instance["patch"], **decoys(task)}


# ---- fast: the layout and the split ---------------------------------------------------------------


def test_split_declares_disjoint_libraries_that_cover_every_task():
    split = yaml.safe_load((TESTBED / "split.yaml").read_text())
    train, heldout = split["train"], split["heldout"]
    assert len(train) >= 4 and len(heldout) >= 2
    assert not set(train) & set(heldout)
    libraries = [BUILD.library_of(i) for i in IDS]
    assert set(libraries) == set(train) | set(heldout)
    for lib in set(libraries):
        assert libraries.count(lib) >= 4, lib
    assert len(TASKS) >= 24


def test_ids_name_their_library():
    for task in TASKS:
        assert re.fullmatch(r"testbed__[a-z]+-\d+", task.instance_id)
        assert task.repo == f"testbed/{BUILD.library_of(task.instance_id)}"


@pytest.mark.parametrize("instance_id", IDS)
def test_task_folder_is_complete(instance_id):
    task = next(t for t in TASKS if t.instance_id == instance_id)
    folder = Path(task.build_context or "")
    for name in TASK_FILES:
        assert (folder / name).is_file() and (folder / name).read_text().strip(), name
    assert "FROM ${BASE_IMAGE}" in (folder / "Dockerfile").read_text()
    assert task.fail_to_pass and task.pass_to_pass
    gold_files = BUILD.SYNC.patched_files(task.instance["patch"])
    assert gold_files[0] and not gold_files[1], "gold edits existing files only"
    wrong = decoys(task)
    assert 2 <= len(wrong) <= 4
    for name, patch in wrong.items():
        assert BUILD.SYNC.patched_files(patch) == gold_files, f"{name} touches other files than gold"
        assert patch != task.instance["patch"]
    repro = BUILD.repro_script(task.problem_statement)
    assert f"from {BUILD.library_of(instance_id)} import" in repro, "the example uses the task's library"


# a decoy's reply is at most this many times longer or shorter than gold's ("similar size")
SIZE_RATIO = 1.5
# how much better than chance a rule that only measures size may pick gold across the testbed
SIZE_RULE_MARGIN = 0.15


@pytest.mark.parametrize("instance_id", IDS)
def test_every_decoy_has_its_gold_patchs_form(instance_id):
    """As the policy writes them, gold and each decoy differ only in their code: the same blocks
    in the same files, the same lines searched, replaced, removed and added per block, and a
    similar size. A decoy with fewer blocks (half a fix) or one-line edits against a multi-line
    gold would let a critic count its way to the answer."""
    task = next(t for t in TASKS if t.instance_id == instance_id)
    gold, wrong = load_patches(task)
    edits = TestbedPolicy(task).actions.edits
    assert set(edits) == {GOLD, *wrong}
    for name, decoy in wrong.items():
        assert skeleton(edits[name]) == skeleton(edits[GOLD]), name
        assert block_forms(decoy) == block_forms(gold), name
        assert 1 / SIZE_RATIO <= len(edits[name]) / len(edits[GOLD]) <= SIZE_RATIO, name


def test_no_size_rule_picks_gold_much_more_often_than_chance():
    """Across the testbed, taking the longest (or shortest) edit, or the one changing the most
    (or least) code, finds gold about as often as a random pick does."""
    picks: dict[str, float] = {}
    chance = 0.0
    for task in TASKS:
        gold, wrong = load_patches(task)
        edits = TestbedPolicy(task).actions.edits
        sizes = {
            "reply length": {name: len(text) for name, text in edits.items()},
            "changed code": {GOLD: changed_chars(gold)} | {n: changed_chars(d) for n, d in wrong.items()},
        }
        for feature, size in sizes.items():
            for rule, pick in (("largest", max), ("smallest", min)):
                chosen = [name for name, value in size.items() if value == pick(size.values())]
                key = f"{rule} {feature}"
                picks[key] = picks.get(key, 0.0) + (GOLD in chosen) / len(chosen) / len(TASKS)
        chance += 1 / len(edits) / len(TASKS)
    assert all(share <= chance + SIZE_RULE_MARGIN for share in picks.values()), (picks, chance)


def test_task_repo_passes_swebench_checks_except_our_image_names():
    problems = [p for p in check_task_repo(TESTBED) if "is not the derived name" not in p.message]
    assert problems == []


def test_generated_files_match_their_sources():
    assert BUILD.build(check=True) == []


def test_empty_patch_is_graded_empty_patch():
    for task in TASKS:
        result = grade(task, "", run_id=RUN_ID)
        assert result.status is GradeStatus.EMPTY_PATCH, task.instance_id


# ---- slow: in the tasks' real images --------------------------------------------------------------


@pytest.fixture(scope="module")
def built(
    request: pytest.FixtureRequest, docker_client: docker.DockerClient, base_image: str
) -> dict[str, Task]:
    """The selected tests' tasks by id (all of them unless `-k` picks some), their images built
    (rebuilt only when a task changed)."""
    selected = {
        item.callspec.params["instance_id"]
        for item in request.session.items
        if "built" in getattr(item, "fixturenames", ()) and hasattr(item, "callspec")
    }
    tasks = [t for t in TASKS if t.instance_id in selected] or TASKS
    build_task_images(tasks, base_image=base_image, client=docker_client)
    return {t.instance_id: t for t in tasks}


@pytest.fixture(scope="module")
def grades(built: dict[str, Task]) -> dict[tuple[str, str], Grade]:
    """The grade of every patch of every task, by (instance id, patch name); base runs the tests."""
    jobs = [(task, name, patch) for task in built.values() for name, patch in patches(task).items()]

    def run(job: tuple[Task, str, str]) -> Grade:
        task, _, patch = job
        return grade(task, patch, run_id=RUN_ID, timeout=120, run_if_empty=True)

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(run, jobs))
    return {(task.instance_id, name): result for (task, name, _), result in zip(jobs, results, strict=True)}


@pytest.fixture(scope="module")
def repro_exits(built: dict[str, Task], docker_client: docker.DockerClient) -> dict[tuple[str, str], int]:
    """The exit status of the issue's example on each patch of each task, by (instance id, patch name)."""

    def run(task: Task) -> dict[tuple[str, str], int]:
        exits = {}
        with DockerEnv(task, run_id=RUN_ID, client=docker_client, timeout=60) as env:
            env.write_file("/tmp/repro.py", BUILD.repro_script(task.problem_statement).encode())
            for name, patch in patches(task).items():
                reset = env.execute(
                    f"git reset -q --hard {shlex.quote(task.base_commit or 'HEAD')} && git clean -fdq"
                )
                assert reset.exit_code == 0, reset.output
                if patch:
                    env.write_file("/tmp/fix.patch", patch.encode())
                    applied = env.execute("git apply /tmp/fix.patch")
                    assert applied.exit_code == 0, f"{task.instance_id} {name}: {applied.output}"
                # run from /testbed, as the issue says: the library is imported from the working tree
                exits[(task.instance_id, name)] = env.execute("python3 - < /tmp/repro.py").exit_code
        return exits

    with ThreadPoolExecutor(WORKERS) as pool:
        return {key: code for part in pool.map(run, built.values()) for key, code in part.items()}


@pytest.mark.slow
@pytest.mark.parametrize("instance_id", IDS)
def test_gold_resolves_and_the_base_commit_fails_only_fail_to_pass(grades, built, instance_id):
    task = built[instance_id]
    gold = grades[(instance_id, "gold")]
    assert gold.status is GradeStatus.RESOLVED, f"{gold.message}\n{gold.log[-3000:]}"
    base = grades[(instance_id, "base")]
    assert base.status is GradeStatus.UNRESOLVED, f"{base.message}\n{base.log[-3000:]}"
    tests = base.report["tests_status"]
    assert sorted(tests["FAIL_TO_PASS"]["failure"]) == sorted(task.fail_to_pass)
    assert sorted(tests["PASS_TO_PASS"]["success"]) == sorted(task.pass_to_pass)


@pytest.mark.slow
@pytest.mark.parametrize("instance_id", IDS)
def test_every_decoy_applies_and_is_unresolved(grades, built, instance_id):
    for name in decoys(built[instance_id]):
        result = grades[(instance_id, name)]
        assert result.status is GradeStatus.UNRESOLVED, f"{name}: {result.message}\n{result.log[-3000:]}"
        assert result.report["tests_status"]["FAIL_TO_PASS"]["failure"], name


@pytest.mark.slow
@pytest.mark.parametrize("instance_id", IDS)
def test_repro_fails_on_the_base_and_every_decoy_and_passes_with_gold(repro_exits, built, instance_id):
    exits = {name: code for (task_id, name), code in repro_exits.items() if task_id == instance_id}
    assert set(exits) == set(patches(built[instance_id]))
    assert exits.pop("gold") == 0
    assert all(code != 0 for code in exits.values()), exits
