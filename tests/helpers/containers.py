"""Docker lookups the tests share."""

from __future__ import annotations

import docker


def labelled_containers(run_id: str) -> list:
    """Containers (running or not) that carry this run's `swe-search.run_id` label."""
    return docker.from_env().containers.list(all=True, filters={"label": f"swe-search.run_id={run_id}"})
