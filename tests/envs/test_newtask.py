"""`swe-search tasks new` on a real git repository made here: the task it writes grades as it should.

The library (tests/helpers/gitlib.py) has a dependency installed from a wheel built here, a commit
with a bug and a fix commit with a new test. Every command is the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from swebench.task.repo import load_task_repo

from envs.docker import DockerEnv
from envs.fixcommit import DEFAULT_TESTS, NewTask, NewTaskError, is_test_file, read_change
from envs.tasks import load_tasks
from tests.helpers.gitlib import commit_all, git, make_dependency_wheel, make_library

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "eval.cli"]


def cli(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("library")
    return {**make_library(root), "wheels": str(make_dependency_wheel(root)), "root": str(root)}


@pytest.fixture(scope="module")
def task_repo(library: dict[str, str], base_image: str, docker_client: docker.DockerClient) -> Iterator[Path]:
    out = Path(library["root"]) / "my-tasks"
    instance_id = f"acme__rangelib-{os.getpid()}"
    done = cli(
        "tasks", "new", "--repo", library["repo"], "--commit", library["fix"], "--id", instance_id,
        "--wheels", library["wheels"], "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    yield out
    for task in load_tasks(out):
        docker_client.images.remove(task.image, force=True)


def _grade(run_dir: Path) -> dict:
    [path] = (run_dir / "grades").glob("*.json")
    return json.loads(path.read_text())


def test_written_task_loads_and_holds_what_the_tests_showed(task_repo: Path, library: dict[str, str]) -> None:
    [task] = load_tasks(task_repo)
    [row] = load_task_repo(task_repo)
    assert row["instance_id"] == task.instance_id and row["base_commit"] == library["bug"]
    assert task.fail_to_pass == ["tests/test_core.py::test_upper_case_suffix"]
    assert task.pass_to_pass == [
        "tests/test_core.py::test_kilobytes",
        "tests/test_core.py::test_plain_number",
    ]
    assert "rangelib/core.py" in row["patch"] and "tests/" not in row["patch"]
    assert "tests/test_core.py" in row["test_patch"] and "rangelib/core.py" not in row["test_patch"]
    assert row["problem_statement"].startswith("to_bytes: accept upper-case suffixes")
    assert row["repo"] == "acme/rangelib" and row["base_image"] == "swe-search/base:bookworm"
    check = subprocess.run(["swebench", "dataset", "check", str(task_repo)], capture_output=True, text=True)
    assert check.returncode == 0 and "looks well formed" in check.stdout, check.stdout + check.stderr


def test_the_image_keeps_the_upstream_sha_and_the_agent_sees_the_venv(
    task_repo: Path, library: dict[str, str]
) -> None:
    [task] = load_tasks(task_repo)
    with DockerEnv(task, run_id=f"test-newtask-{os.getpid()}") as env:
        assert env.execute("git rev-parse HEAD").output.strip() == library["bug"]
        assert env.execute("command -v python").output == "/opt/venv/bin/python\n"
        assert (
            env.execute("python -c 'import unitsdep, rangelib'").exit_code == 0
        )  # the wheel and the project
        assert env.execute("git status --porcelain").output == ""


def test_gold_resolves_and_empty_does_not_through_swe_search_run(task_repo: Path, tmp_path: Path) -> None:
    for model, status in (("gold", "resolved"), ("empty", "empty_patch")):
        out = tmp_path / model
        done = cli(
            "run", "--model", f"scripted:{model}", "--dataset", task_repo, "--out", out, "--no-progress"
        )
        assert done.returncode == 0, done.stderr
        grade = _grade(out)
        assert grade["status"] == status and grade["resolved"] is (model == "gold")


def test_a_wrong_patch_grades_unresolved_and_eval_says_it_graded_predictions(
    task_repo: Path, library: dict[str, str], tmp_path: Path
) -> None:
    repo = Path(library["repo"])
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(repo), str(work))
    git(work, "checkout", "-q", library["bug"])
    core = work / "rangelib" / "core.py"
    core.write_text(core.read_text().replace('size[-1] in "km"', 'size[-1].lower() in "km"'))  # KeyError: 'M'
    wrong = git(work, "diff") + "\n"
    [task] = load_tasks(task_repo)
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        json.dumps({"instance_id": task.instance_id, "model_name_or_path": "m", "model_patch": wrong})
    )
    done = cli(
        "eval", "--predictions", preds, "--dataset", task_repo, "--out", tmp_path / "graded", "--no-progress"
    )
    assert done.returncode == 0, done.stderr
    grade = _grade(tmp_path / "graded")
    assert grade["status"] == "unresolved" and not grade["resolved"]
    assert "graded from predictions" in done.stderr and "exit=unknown" not in done.stderr
    record = json.loads((tmp_path / "graded" / "instances" / task.instance_id / "done.json").read_text())
    assert record["exit_status"] == "from_predictions"


def test_a_fix_without_a_failing_test_is_refused(
    library: dict[str, str], tmp_path: Path, docker_client: docker.DockerClient, base_image: str
) -> None:
    out = tmp_path / "refused"
    instance_id = f"acme__rangelib-refused-{os.getpid()}"
    done = cli(
        "tasks", "new", "--repo", library["repo"], "--commit", library["no_separating_test"], "--id", instance_id,
        "--wheels", library["wheels"], "--out", out,
    )  # fmt: skip
    assert done.returncode == 2
    assert "do not separate it" in done.stderr and "fails on the base commit" in done.stderr
    assert not (out / "tasks" / instance_id).exists()
    image = f"swebench/sweb.eval.x86_64.{instance_id.replace('__', '_1776_')}:latest"
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(image)


def test_bad_input_is_a_one_line_error(library: dict[str, str], tmp_path: Path) -> None:
    for args, message in (
        (["--repo", tmp_path, "--commit", "HEAD"], "is not a git repository"),
        (["--repo", tmp_path / "no" / "such" / "path", "--commit", "HEAD"], "is not a git repository"),
        (["--repo", library["repo"], "--commit", "no-such-ref"], "is not a commit"),
        (
            ["--repo", library["repo"], "--commit", library["fix"], "--tests", "spec/*"],
            "changes no test file",
        ),
        (["--repo", library["repo"], "--commit", library["fix"], "--wheels", tmp_path], "holds no .whl file"),
    ):
        done = cli("tasks", "new", *args, "--out", tmp_path / "out")
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr


def test_a_fix_to_latin1_sources_and_binary_fixtures_round_trips_byte_for_byte(tmp_path: Path) -> None:
    """Patches are bytes end to end: `git apply` of what read_change returns gives the fix's exact bytes."""
    repo = tmp_path / "legacy"
    (repo / "legacy").mkdir(parents=True)
    (repo / "tests" / "data").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    old_source = "# -*- coding: latin-1 -*-\nNAME = 'caf\xe9'\n".encode("latin-1")
    (repo / "legacy" / "names.py").write_bytes(old_source)
    (repo / "tests" / "test_names.py").write_text("def test_name():\n    pass\n")
    (repo / "tests" / "data" / "blob.bin").write_bytes(bytes(range(256)))
    base = commit_all(repo, "legacy names")
    files = {
        "legacy/names.py": old_source.replace(b"caf\xe9", b"na\xefve \xa9"),
        "tests/test_names.py": b"from legacy.names import NAME\n\ndef test_name():\n    assert NAME\n",
        "tests/data/blob.bin": bytes(range(255, -1, -1)) + b"\x00\xff",
        "tests/data/caf\xe9.txt": "caf\xe9\n".encode("latin-1"),
    }
    for name, data in files.items():
        (repo / name).write_bytes(data)
    fix = commit_all(repo, "names: na\xefve")
    change = read_change(NewTask(repo=repo, commit=fix, out=tmp_path / "out"))
    assert change.base == base and change.gold_files == ["legacy/names.py"]
    assert sorted(change.test_files) == [
        "tests/data/blob.bin",
        "tests/data/caf\xe9.txt",
        "tests/test_names.py",
    ]
    check = tmp_path / "check"
    git(tmp_path, "clone", "-q", str(repo), str(check))
    git(check, "checkout", "-q", base)
    for patch in (change.gold_patch, change.test_patch):
        (tmp_path / "p.patch").write_bytes(patch.encode("utf-8"))
        git(check, "apply", "--binary", str(tmp_path / "p.patch"))
    for name, data in files.items():
        assert (check / name).read_bytes() == data, name


def test_ranges_and_test_patterns(library: dict[str, str], tmp_path: Path) -> None:
    repo = Path(library["repo"])
    change = read_change(NewTask(repo=repo, commit=f"{library['bug']}..{library['fix']}", out=tmp_path))
    assert (change.base, change.fix) == (library["bug"], library["fix"])
    with pytest.raises(NewTaskError, match="changes only test files"):  # the bug and its fix cancel out
        read_change(NewTask(repo=repo, commit=f"{library['good']}..{library['fix']}", out=tmp_path))
    with pytest.raises(NewTaskError, match="not an ancestor"):
        read_change(NewTask(repo=repo, commit=f"{library['fix']}..{library['good']}", out=tmp_path))
    single = read_change(NewTask(repo=repo, commit=library["fix"], out=tmp_path))
    assert single.base == library["bug"] and single.created == set()
    for path, is_test in (
        ("tests/test_core.py", True),
        ("pkg/tests/data/case.json", True),
        ("src/pkg/test_util.py", True),
        ("pkg/io_test.py", True),
        ("conftest.py", True),
        ("src/pkg/testing.py", False),
        ("pkg/contest.py", False),
    ):
        assert is_test_file(path, DEFAULT_TESTS) is is_test
