"""Docker lookups the tests share."""

from __future__ import annotations

import time

import docker
import docker.errors


def labelled_containers(run_id: str) -> list:
    """Containers (running or not) that carry this run's `swe-search.run_id` label.

    docker-py lists ids, then inspects each: a container removed in between (the runner removes its
    own all the time) raises NotFound, so the listing is taken again.
    """
    client = docker.from_env()
    for _ in range(20):
        try:
            return client.containers.list(all=True, filters={"label": f"swe-search.run_id={run_id}"})
        except docker.errors.NotFound:
            time.sleep(0.05)
    return client.containers.list(all=True, filters={"label": f"swe-search.run_id={run_id}"})
