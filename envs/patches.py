"""What the agent's patch (`DockerEnv.diff()`) leaves out: caches its commands created.

Running code and tests writes byte-code and tool caches into the working tree; in a repository
that does not ignore them they would land in the patch as binaries. `DIFF_EXCLUDE` names them.
A pattern drops only files that are *new* since the base commit: a change to a file the
repository tracks is always kept, whatever its name.

Patterns follow .gitignore: one without a `/` matches a file or folder name at any depth
(`__pycache__`, `*.pyc`); one with a `/` before its end is anchored at the repository root
(`build/out.txt`, `/dist`); a trailing `/` matches folders only; `**` crosses folders. Set them per run with `container.diff_exclude` (envs.settings.ContainerSettings,
configs/run.yaml), or per env with `DockerEnv(..., diff_exclude=[...])`; an empty list keeps everything.
"""

from __future__ import annotations

from collections.abc import Sequence

DIFF_EXCLUDE: tuple[str, ...] = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".tox",
    ".nox",
    ".coverage",
    "*.egg-info",
    ".ipynb_checkpoints",
)
"""The default patterns: Python byte-code, test and linter caches, packaging metadata."""


def exclude_pathspecs(patterns: Sequence[str]) -> list[str]:
    """Git pathspecs (`:(glob)` magic) that match what the patterns match, files and folders alike."""
    specs: list[str] = []
    for pattern in patterns:
        pattern = pattern.strip()
        body = pattern.rstrip("/")
        if not body or body.startswith("#"):
            continue
        where = body.lstrip("/") if "/" in body else f"**/{body}"
        if pattern.endswith("/"):  # a folder only, as in .gitignore
            specs.append(f":(glob){where}/**")
        else:
            specs += [f":(glob){where}", f":(glob){where}/**"]
    return specs
