"""Base and task images: tags, mirror discovery, caching by tag and by context hash."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from envs.images import HASH_LABEL, apt_mirror, base_tag, build_base, build_task_images
from envs.tasks import load_tasks
from envs.types import EnvError


def test_base_tags_follow_the_python_version() -> None:
    assert base_tag("3.11") == "swe-search/base:bookworm"
    assert base_tag("3.9") == "swe-search/base:bullseye"
    with pytest.raises(EnvError, match="3.11, 3.9"):
        base_tag("2.7")


def test_apt_mirror_reads_deb822_and_one_line_sources(tmp_path: Path) -> None:
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n"
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n")
    assert apt_mirror([deb822]) == "http://mirror.example/debian"
    assert apt_mirror([tmp_path / "missing", one_line]) == "http://other.example/debian"
    with pytest.raises(EnvError, match="--mirror"):
        apt_mirror([tmp_path / "missing"])


def test_build_base_is_skipped_when_the_tag_exists(
    base_image: str, docker_client: docker.DockerClient
) -> None:
    before = docker_client.images.get(base_image).id
    assert build_base(client=docker_client) == base_image
    assert docker_client.images.get(base_image).id == before


def test_base_image_has_python_pip_pytest_git_and_patch(
    base_image: str, docker_client: docker.DockerClient
) -> None:
    script = "python3 --version && python3 -m pip --version && python3 -m pytest --version && git --version && patch --version"
    out = docker_client.containers.run(base_image, ["bash", "-c", script], remove=True, network_mode="none")
    assert b"Python 3.11" in out and b"git version" in out and b"GNU patch" in out


@pytest.mark.slow
def test_task_image_is_rebuilt_only_when_its_context_changes(
    tmp_path: Path, make_task_repo: Callable[..., Path], docker_client: docker.DockerClient, base_image: str
) -> None:
    # A fresh tag each run: an image left by an earlier, killed run on the same daemon would be
    # "up to date" (same context, same base) and hide the first build.
    instance_id = f"envs-test__rebuild-{uuid.uuid4().hex[:8]}"
    [task] = load_tasks(make_task_repo(tmp_path, instance_id))
    try:
        assert build_task_images([task], base_image=base_image, client=docker_client) == [task.image]
        first = docker_client.images.get(task.image)
        assert first.labels[HASH_LABEL]
        assert build_task_images([task], base_image=base_image, client=docker_client) == []
        Path(task.build_context, "repo", "hello.py").write_text("print('changed')\n")
        assert build_task_images([task], base_image=base_image, client=docker_client) == [task.image]
        assert docker_client.images.get(task.image).labels[HASH_LABEL] != first.labels[HASH_LABEL]
        assert build_task_images([task], force=True, base_image=base_image, client=docker_client) == [
            task.image
        ]
    finally:
        docker_client.images.remove(task.image, force=True)


def test_task_rows_without_a_dockerfile_are_not_built(
    tmp_path: Path, docker_client: docker.DockerClient, base_image: str
) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"instance_id": "a__b-1", "problem_statement": "p"}\n')
    seen: list[str] = []
    assert (
        build_task_images(load_tasks(rows), base_image=base_image, client=docker_client, report=seen.append)
        == []
    )
    assert "published image" in seen[0]
