"""Fixtures for the envs tests: a tiny task repo of our own, its image, and a unique run id."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
import yaml

from envs.container import cleanup
from envs.docker import DockerEnv
from envs.images import build_task_images
from envs.tasks import load_tasks
from envs.types import Task

TINY_ID = "envs-test__tiny-1"
DOCKERFILE = """\
ARG BASE_IMAGE=swe-search/base:bookworm
FROM ${BASE_IMAGE}
COPY repo/ /testbed/
WORKDIR /testbed
RUN git init -q && git add -A \\
 && git -c user.name=t -c user.email=t@example.invalid commit -q -m base
"""


def write_task_repo(root: Path, instance_id: str = TINY_ID, **meta: object) -> Path:
    """A one-task swebench 5 task repo under `root`; returns `root`."""
    task_dir = root / "tasks" / instance_id
    (task_dir / "repo").mkdir(parents=True)
    (task_dir / "repo" / "hello.py").write_text("print('hello')\n")
    (task_dir / "repo" / "old_name.txt").write_text("to be renamed\n" * 20)
    (task_dir / "repo" / "to_delete.txt").write_text("to be deleted\n")
    (task_dir / "repo" / "data.bin").write_bytes(bytes(range(256)) * 4)
    (task_dir / "repo" / "run.sh").write_text("#!/bin/sh\necho run\n")
    (task_dir / "repo" / "run.sh").chmod(0o755)
    (task_dir / "task.yaml").write_text(
        yaml.safe_dump(
            {
                "instance_id": instance_id,
                "image": f"swe-search/task:{instance_id}",
                "repo": "swe-search/tiny",
                "base_commit": "",
                "version": "0.1",
                "log_parser": "parse_log_pytest",
                "eval_type": "pass_and_fail",
                "split": "test",
                **meta,
            }
        )
    )
    (task_dir / "tests.json").write_text('{"FAIL_TO_PASS": ["t::a"], "PASS_TO_PASS": []}')
    (task_dir / "problem_statement.md").write_text("Say hello in French.\n")
    (task_dir / "gold.patch").write_text("")
    (task_dir / "test.patch").write_text("")
    (task_dir / "eval.sh").write_text("#!/bin/bash\npython3 -m pytest\n")
    (task_dir / "Dockerfile").write_text(DOCKERFILE)
    return root


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_task_repo(tmp_path_factory.mktemp("tiny-repo"))


@pytest.fixture(scope="session")
def tiny_task(tiny_repo: Path, docker_client: docker.DockerClient, base_image: str) -> Task:
    """The tiny task, with its image built: /testbed is a git repo with a few files."""
    [task] = load_tasks(tiny_repo)
    build_task_images([task], base_image=base_image, client=docker_client)
    return task


@pytest.fixture(scope="session")
def run_id() -> Iterator[str]:
    """A run id unique to this test session; its containers are removed at the end."""
    rid = f"test-envs-{os.getpid()}"
    yield rid
    cleanup(run_id=rid)


@pytest.fixture
def env(tiny_task: Task, run_id: str) -> Iterator[DockerEnv]:
    """A fresh container of the tiny task."""
    with DockerEnv(tiny_task, run_id=run_id) as e:
        yield e


@pytest.fixture
def make_task_repo() -> Callable[..., Path]:
    """`make_task_repo(root, instance_id=..., **task_yaml_fields) -> root`."""
    return write_task_repo


@pytest.fixture
def labelled(docker_client: docker.DockerClient) -> Callable[[str], list]:
    """`labelled(run_id)`: the containers (running or not) that carry this run id."""

    def find(rid: str) -> list:
        return docker_client.containers.list(all=True, filters={"label": f"swe-search.run_id={rid}"})

    return find
