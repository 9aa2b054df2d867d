"""The agent's shell sees the image's environment, as the grading shell (`/bin/bash /eval.sh`) does.

Real images, built here FROM the base image, put tools on PATH the three ways images do: `ENV`
(a venv, as official language images and hand-built tasks do), /etc/profile.d, and an activation
line in ~/.bashrc (what SWE-bench images write for conda).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import docker
import pytest

from envs.docker import DockerEnv
from envs.shell import SHELL_ENV
from envs.types import Task

PROBE = "RUN mkdir -p {bin} && printf '#!/bin/sh\\necho hello from {bin}\\n' > {bin}/hello && chmod +x {bin}/hello\n"
DOCKERFILES = {
    # the reproduction of the issue, with a venv as a real project image has it
    "env": PROBE.format(bin="/opt/probe/bin")
    + "RUN python3 -m venv /opt/venv\n"
    + "ENV PATH=/opt/probe/bin:/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv PROBE_VAR=from-env\n",
    "profile": PROBE.format(bin="/opt/prof/bin")
    + "RUN printf 'export PATH=/opt/prof/bin:$PATH\\nexport FROM_PROFILE_D=yes\\n' > /etc/profile.d/probe.sh\n",
    # a conda-like activation appended to Debian's own ~/.bashrc, plus an image PATH entry
    "bashrc": "RUN python3 -m venv /opt/fakeconda/envs/testbed\n"
    + "RUN printf 'export CONDA_PREFIX=/opt/fakeconda/envs/$1\\nexport PATH=$CONDA_PREFIX/bin:$PATH\\n'"
    + " > /opt/fakeconda/activate\n"
    + "RUN echo 'source /opt/fakeconda/activate testbed' >> /root/.bashrc\n"
    + PROBE.format(bin="/opt/imagetools/bin")
    + "ENV PATH=/opt/imagetools/bin:$PATH\n",
}
# what the grading shell runs before the tests, as an eval.sh of such an image does
GRADING_PREFIX = {"env": "", "profile": "", "bashrc": "source /opt/fakeconda/activate testbed\n"}
# variables that belong to one shell process, not to the environment
PER_SHELL = {"_", "SHLVL", "OLDPWD", "PWD"}


@pytest.fixture(scope="module")
def probe_images(docker_client: docker.DockerClient, base_image: str) -> Iterator[dict[str, Task]]:
    tasks = {}
    for kind, body in DOCKERFILES.items():
        tag = f"swe-search-test/probe-{kind}:{os.getpid()}"
        dockerfile = f"FROM {base_image}\n{body}WORKDIR /testbed\n"
        docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
        tasks[kind] = Task(instance_id=f"probe-{kind}", problem_statement="-", image=tag, base_commit="HEAD")
    yield tasks
    for task in tasks.values():
        docker_client.images.remove(task.image, force=True)


def _environment(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k: v for k, v in pairs if k not in PER_SHELL}


def test_the_images_env_path_reaches_the_agents_shell(probe_images: dict[str, Task], run_id: str) -> None:
    with DockerEnv(probe_images["env"], run_id=run_id) as env:
        assert env.execute("hello").output == "hello from /opt/probe/bin\n"
        assert env.execute("command -v python3").output == "/opt/venv/bin/python3\n"
        assert env.execute("echo $PROBE_VAR $VIRTUAL_ENV").output == "from-env /opt/venv\n"
        assert env.execute("pwd").output == "/testbed\n"


def test_profile_d_scripts_take_effect(probe_images: dict[str, Task], run_id: str) -> None:
    with DockerEnv(probe_images["profile"], run_id=run_id) as env:
        assert env.execute("hello; echo $FROM_PROFILE_D").output == "hello from /opt/prof/bin\nyes\n"
        # and the image's own PATH survives them
        assert env.execute("command -v git").output == "/usr/bin/git\n"


def test_bashrc_activation_takes_effect_and_keeps_the_images_path(
    probe_images: dict[str, Task], run_id: str
) -> None:
    with DockerEnv(probe_images["bashrc"], run_id=run_id) as env:
        assert env.execute("command -v python").output == "/opt/fakeconda/envs/testbed/bin/python\n"
        assert env.execute("hello").output == "hello from /opt/imagetools/bin\n"
        assert env.execute("echo $CONDA_PREFIX").output == "/opt/fakeconda/envs/testbed\n"


@pytest.mark.parametrize("kind", ["env", "bashrc"])
def test_agent_and_grading_shells_resolve_the_same_python_and_environment(
    probe_images: dict[str, Task], run_id: str, kind: str
) -> None:
    probe = "command -v python; command -v python3; command -v hello; env"
    with DockerEnv(probe_images[kind], run_id=run_id) as env:
        agent = env.execute(probe)
        code, out = env.container.exec_run(
            ["/bin/bash", "-c", GRADING_PREFIX[kind] + probe], workdir=env.task.workdir
        )
    assert agent.exit_code == 0 and code == 0, agent.output
    agent_lines, grading_lines = agent.output.splitlines(), out.decode().splitlines()
    assert agent_lines[:3] == grading_lines[:3]
    ours = set(SHELL_ENV)
    agent_env = {k: v for k, v in _environment(agent.output).items() if k not in ours}
    grading_env = {k: v for k, v in _environment(out.decode()).items() if k not in ours}
    assert agent_env == grading_env


def test_the_shell_disables_byte_code_and_base_has_python(env: DockerEnv) -> None:
    assert env.execute("echo $PYTHONDONTWRITEBYTECODE").output == "1\n"
    obs = env.execute("python -c 'import sys; print(sys.version_info[0])'")
    assert obs.output == "3\n", obs.output
