"""`swe-search images build` says what it does per image while it builds."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import docker

from envs.images import build_task_images
from envs.tasks import load_tasks


def test_images_build_streams_build_steps_and_reports_each_image(
    tmp_path: Path, make_task_repo: Callable[..., Path], docker_client: docker.DockerClient, base_image: str
) -> None:
    instance_id = f"envs-test__progress-{uuid.uuid4().hex[:8]}"  # not the pid: a rerun in a fresh container can get the same one
    repo = make_task_repo(tmp_path, instance_id)
    [task] = load_tasks(repo)
    try:
        steps: list[str] = []
        assert build_task_images([task], base_image=base_image, on_log=steps.append) == [task.image]
        assert any(s.startswith("Step 1/") for s in steps) and any("COPY repo/" in s for s in steps)
        command = [sys.executable, "-m", "envs.cli", "images", "build", str(repo)]
        again = subprocess.run([*command, "--force"], capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert f"{instance_id}: built {task.image} in " in again.stdout
        assert "built 1 of 1 task images" in again.stdout
        fresh = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert f"{instance_id}: {task.image} is up to date" in fresh.stdout
    finally:
        docker_client.images.remove(task.image, force=True)
