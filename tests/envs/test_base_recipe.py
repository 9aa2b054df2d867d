"""The base image provides `python`, and a base image built by an older recipe is rebuilt."""

from __future__ import annotations

import io
import os
import tarfile

import docker

from envs.images import RECIPE_LABEL, base_is_current, recipe_digest


def test_base_image_answers_to_python_and_carries_its_recipe(
    base_image: str, docker_client: docker.DockerClient
) -> None:
    out = docker_client.containers.run(
        base_image, ["bash", "-c", "python --version"], remove=True, network_mode="none"
    )
    assert out.startswith(b"Python 3.11")
    assert docker_client.images.get(base_image).labels[RECIPE_LABEL] == recipe_digest()
    assert base_is_current(docker_client, base_image)


def test_an_image_of_an_older_recipe_is_not_current(docker_client: docker.DockerClient) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("etc/os-release")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"old"))
    tag = f"swe-search-test/stale-base:{os.getpid()}"
    repository, _, version = tag.partition(":")
    docker_client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=version)
    try:
        assert not base_is_current(docker_client, tag)  # built before the recipe label existed
        assert not base_is_current(docker_client, f"{repository}:missing")
    finally:
        docker_client.images.remove(tag, force=True)
