"""A small real library in a git repository, for `swe-search tasks new`: a bug, then its fix."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers.commands import pip_wheel

IDENTITY = {
    "GIT_AUTHOR_NAME": "Lib Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.invalid",
    "GIT_COMMITTER_NAME": "Lib Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.invalid",
}
PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.1.0"
dependencies = [{deps}]

[tool.setuptools]
packages = ["{name}"]
"""
CORE_OK = '''\
from unitsdep import factor


def to_bytes(size: str) -> int:
    """'3k' -> 3072, '2m' -> 2097152, '7' -> 7."""
    size = size.strip().lower()
    if size and size[-1] in "km":
        return int(size[:-1]) * factor(size[-1])
    return int(size)
'''
CORE_BUG = CORE_OK.replace("size = size.strip().lower()", "size = size.strip()")
TESTS = """\
from rangelib.core import to_bytes


def test_plain_number():
    assert to_bytes("7") == 7


def test_kilobytes():
    assert to_bytes("3k") == 3072
"""
NEW_TEST = """

def test_upper_case_suffix():
    assert to_bytes("2M") == 2097152
"""
UNITS = "def factor(unit):\n    return {'k': 1024, 'm': 1024 * 1024}[unit]\n"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **IDENTITY}
    done = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "commit.gpgsign=false", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_dependency_wheel(root: Path) -> Path:
    """The wheel of `unitsdep`, the library's one dependency, built here without a registry."""
    src = root / "unitsdep-src"
    (src / "unitsdep").mkdir(parents=True)
    (src / "unitsdep" / "__init__.py").write_text(UNITS)
    (src / "pyproject.toml").write_text(PYPROJECT.format(name="unitsdep", deps=""))
    wheels = root / "wheels"
    pip_wheel(src, wheels).check_returncode()
    return wheels


def make_library(root: Path) -> dict[str, str]:
    """`rangelib` in `root/rangelib`: a good commit, a commit with a bug, the fix with a new test.

    Also commits that fix without a separating test. Returns the shas by name.
    """
    repo = root / "rangelib"
    (repo / "rangelib").mkdir(parents=True)
    (repo / "tests").mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", "https://github.com/acme/rangelib.git")
    (repo / "pyproject.toml").write_text(PYPROJECT.format(name="rangelib", deps='"unitsdep"'))
    (repo / "rangelib" / "__init__.py").write_text("")
    (repo / "rangelib" / "core.py").write_text(CORE_OK)
    (repo / "tests" / "test_core.py").write_text(TESTS)
    shas = {"good": commit_all(repo, "rangelib: sizes with k and m suffixes")}
    (repo / "rangelib" / "core.py").write_text(CORE_BUG)
    shas["bug"] = commit_all(repo, "core: keep the size as given")
    (repo / "rangelib" / "core.py").write_text(CORE_OK)
    (repo / "tests" / "test_core.py").write_text(TESTS + NEW_TEST)
    shas["fix"] = commit_all(
        repo, "to_bytes: accept upper-case suffixes\n\n`to_bytes('2M')` raised KeyError: 'M'."
    )
    # a change whose only test passes before it too: nothing separates it
    (repo / "rangelib" / "core.py").write_text(CORE_OK.replace('"""', '"""Sizes. ', 1))
    (repo / "tests" / "test_core.py").write_text(
        TESTS + NEW_TEST + "\n\ndef test_zero():\n    assert to_bytes('0') == 0\n"
    )
    shas["no_separating_test"] = commit_all(repo, "docs and one more test")
    return {"repo": str(repo), **shas}
