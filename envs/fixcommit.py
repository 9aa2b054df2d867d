"""Reading a fix commit for `swe-search tasks new` (envs.newtask): the request (`NewTask`), the fix
split into source and test files (`Change`, `read_change`), and the git helpers they use."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from envs.types import EnvError

if TYPE_CHECKING:
    pass

DEFAULT_TESTS = ("tests/*", "test/*", "*/tests/*", "*/test/*", "test_*.py", "*_test.py", "conftest.py")
"""Test files by default: fnmatch patterns; one without `/` matches the file name, one with `/` the
path from the repository root (`*` crosses folders)."""
TEST_MODULE = ("test_*.py", "*_test.py")
"""The files of the test changes that pytest is pointed at."""


class NewTaskError(EnvError):
    """The task cannot be made as asked: bad input, or tests that do not separate the fix."""


@dataclass
class NewTask:
    """What `swe-search tasks new` was asked for."""

    repo: Path
    commit: str
    out: Path
    instance_id: str | None = None
    tests: Sequence[str] = DEFAULT_TESTS
    python: str = "3.11"
    wheels: Path | None = None
    issue: Path | None = None
    install_project: bool = True
    timeout: float = 900.0


@dataclass
class Change:
    """The fix, read from the repository."""

    base: str
    fix: str
    gold_files: list[str]
    test_files: list[str]
    gold_patch: str
    test_patch: str
    message: str
    created_at: str
    repo_name: str
    version: str
    deleted: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)


def read_change(spec: NewTask) -> Change:
    """The base and fix commits, the split patches and the metadata, from the local repository."""
    repo = spec.repo.expanduser().resolve()
    if not repo.is_dir() or (
        not (repo / ".git").exists() and run_git(repo, "rev-parse", "--git-dir", check=False) is None
    ):
        raise NewTaskError(f"{spec.repo} is not a git repository")
    if ".." in spec.commit:
        base_ref, _, fix_ref = spec.commit.partition("..")
        base, fix = _commit(repo, base_ref.lstrip(".") or "HEAD"), _commit(repo, fix_ref or "HEAD")
        if run_git(repo, "merge-base", "--is-ancestor", base, fix, check=False) is None:
            raise NewTaskError(f"{base_ref} is not an ancestor of {fix_ref}: the range has no base")
    else:
        fix = _commit(repo, spec.commit)
        base = _commit(repo, f"{fix}^", what=f"the parent of {spec.commit}")
    status = run_git(repo, "diff", "--name-status", "--no-renames", "-z", base, fix) or ""
    fields = status.split("\0")
    gold, tests, deleted, created = [], [], set(), set()
    for kind, path in zip(fields[0::2], fields[1::2], strict=False):
        (tests if is_test_file(path, spec.tests) else gold).append(path)
        if kind.startswith("D"):
            deleted.add(path)
        if kind.startswith("A"):
            created.add(path)
    patterns = ", ".join(spec.tests)
    if not tests:
        raise NewTaskError(
            f"the fix {spec.commit} changes no test file (patterns: {patterns}): a task needs the tests "
            "that show the bug; pass --tests GLOB if yours live elsewhere"
        )
    if not gold:
        raise NewTaskError(
            f"the fix {spec.commit} changes only test files (patterns: {patterns}): nothing to fix"
        )
    message = run_git(repo, "log", "--reverse", "--format=%B", f"{base}..{fix}") or ""
    message = message.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # a latin-1 message
    return Change(
        base=base,
        fix=fix,
        gold_files=gold,
        test_files=tests,
        gold_patch=_patch(repo, base, fix, gold),
        test_patch=_patch(repo, base, fix, tests),
        message=message.strip(),
        created_at=(run_git(repo, "show", "-s", "--format=%cI", fix) or "").strip(),
        repo_name=_repo_name(repo),
        version=(run_git(repo, "describe", "--tags", "--abbrev=0", base, check=False) or "0.0").strip(),
        deleted=deleted,
        created=created,
    )


def is_test_file(path: str, patterns: Sequence[str]) -> bool:
    """Whether `path` (from the repository root) matches one of the test patterns."""
    name = PurePosixPath(path).name
    return any(fnmatch.fnmatchcase(path if "/" in p else name, p) for p in patterns)


def default_id(change: Change) -> str:
    """owner__name-<short fix sha>, the shape of SWE-bench ids."""
    owner, _, name = change.repo_name.partition("/")
    return f"{owner}__{name}-{change.fix[:7]}"


def _commit(repo: Path, ref: str, what: str | None = None) -> str:
    sha = run_git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if not sha:
        raise NewTaskError(f"{what or ref!r} is not a commit of {repo}")
    return sha.strip()


def _patch(repo: Path, base: str, fix: str, paths: list[str]) -> str:
    """The diff of `paths` from base to fix, as text that `git apply` turns back into the exact bytes.

    Git's diff is bytes: a text file in latin-1 (or any non-UTF-8 encoding) gives lines that are not
    UTF-8. Such files are diffed again as binary (a `GIT binary patch`, base85, ASCII), so the patch
    is valid UTF-8 and still carries every byte; UTF-8 files stay readable diffs.
    """
    if not paths:
        return ""
    text = _diff_bytes(repo, base, fix, paths)
    if _is_utf8(text):
        return text.decode("utf-8")
    odd = [path for path in paths if not _is_utf8(_diff_bytes(repo, base, fix, [path]))]
    with tempfile.TemporaryDirectory() as tmp:  # an attributes file for this command marks them binary
        attributes = Path(tmp) / "attributes"
        attributes.write_bytes(b"".join(b"/" + _glob_literal(p) + b" binary\n" for p in odd))
        text = _diff_bytes(repo, base, fix, paths, attributes=attributes)
    if not _is_utf8(text):
        raise NewTaskError(f"the diff of {base[:7]}..{fix[:7]} is not UTF-8 even with binary diffs")
    return text.decode("utf-8")


def _diff_bytes(repo: Path, base: str, fix: str, paths: list[str], attributes: Path | None = None) -> bytes:
    config = ["-c", f"core.attributesFile={attributes}"] if attributes else []
    specs = [f":(literal){p}" for p in paths]
    args = ("diff", "--binary", "--no-renames", "--no-color", "--no-ext-diff", base, fix, "--", *specs)
    return run_git_bytes(repo, *config, *args)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _glob_literal(path: str) -> bytes:
    """A path as a gitattributes pattern matching only itself (wildcards and spaces escaped)."""
    return re.sub(rb"([*?\[\]\\ ])", rb"\\\1", os.fsencode(path))


def _repo_name(repo: Path) -> str:
    url = (run_git(repo, "remote", "get-url", "origin", check=False) or "").strip()
    found = re.search(r"[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", url)
    return f"{found.group(1)}/{found.group(2)}" if found else f"local/{repo.name}"


def run_git(repo: Path, *args: str, check: bool = True) -> str | None:
    """Git's stdout as text; None when it fails and not `check`.

    Bytes that are not UTF-8 (a path or a commit message in latin-1) are kept as surrogate escapes,
    so a path read here names the same file when passed back to git. Patches use run_git_bytes.
    """
    out = _git(repo, args, check)
    return None if out is None else out.decode("utf-8", errors="surrogateescape")


def run_git_bytes(repo: Path, *args: str) -> bytes:
    """Git's stdout, as the bytes it printed; NewTaskError when it fails."""
    out = _git(repo, args, check=True)
    assert out is not None  # check=True raises instead
    return out


def _git(repo: Path, args: Sequence[str], check: bool) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=false", *args], cwd=repo, capture_output=True, check=False
        )
    except (FileNotFoundError, NotADirectoryError) as e:  # no such folder (or no git at all)
        raise NewTaskError(f"cannot run git in {repo}: {e.strerror}") from None
    if done.returncode != 0:
        if check:
            stderr = done.stderr.decode("utf-8", errors="replace").strip()
            raise NewTaskError(f"git {' '.join(args[:3])} failed in {repo}: {stderr}")
        return None
    return done.stdout


def check_id(instance_id: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", instance_id):
        raise NewTaskError(f"bad instance id {instance_id!r}: use letters, digits, '_', '.' and '-'")
