"""Generate the testbed's tasks from correct libraries and the bugs declared for them.

Sources (hand-written):

- ``libs/<lib>/``: a small, correct library with its own passing tests;
- ``specs/<lib>.yaml``: its tasks. Each declares the ``file`` it breaks, the ``bug`` (hunks: a
  ``fixed`` snippet of the correct file and the ``buggy`` snippet that replaces it), 2 to 4
  ``decoys`` (wrong fixes of the buggy file), the hidden ``tests`` and the ``issue`` text.

For each task this writes ``tasks/testbed__<lib>-<n>/``: ``repo/`` (the library with the bug
injected), ``gold.patch`` (buggy -> correct, the bug reversed), ``decoys/<k>.patch``,
``test.patch`` (the hidden tests, appended to a test file), ``tests.json`` (the hidden tests
are FAIL_TO_PASS, every test already in the repo is PASS_TO_PASS), ``problem_statement.md``,
``task.yaml``, and, rendered by ``examples/tasks/sync.py``, ``base_commit``, ``Dockerfile`` and
``eval.sh``. Everything is deterministic (fixed git identity and dates), so rerunning it
changes nothing unless a source changed.

A snippet is found verbatim; a snippet of several lines is written without its indentation and
found at any indentation (which its replacement then gets). It must occur exactly once.

A decoy is either a list with one entry per bug hunk (the text to put where that hunk's buggy
snippet is) or a mapping ``{find, replace}``: one edit anywhere in the buggy file (the right
change in the wrong place). A decoy has the gold patch's form: every hunk is edited, so half of a
two-hunk fix pairs the right hunk with a wrong one rather than leaving one buggy, and a
multi-line fix has multi-line decoys (tests/e2e/test_testbed_tasks.py checks every task).

    python examples/testbed/build.py              # write the tasks
    python examples/testbed/build.py --check      # exit 1 if a generated file is stale
    python examples/testbed/build.py --validate   # also run every task's tests and repro here
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from types import ModuleType

import yaml
from swebench.task.repo import dump_tests

TESTBED = Path(__file__).resolve().parent
LIBS = TESTBED / "libs"
SPECS = TESTBED / "specs"
TASKS = TESTBED / "tasks"
DATASET = "swe-search/testbed"
ID_PREFIX = "testbed__"
DOCKERIGNORE = "**/__pycache__\n**/*.pyc\n**/.pytest_cache\n"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
# git with no user or system configuration, so the patches do not depend on this machine
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


class SpecError(Exception):
    """A task's declaration does not fit its library (a snippet is missing, ambiguous or a no-op)."""


def load_sync() -> ModuleType:
    """examples/tasks/sync.py, the one home of the base commit, Dockerfile and eval.sh recipes."""
    spec = importlib.util.spec_from_file_location("example_tasks_sync", TESTBED.parent / "tasks" / "sync.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SYNC = load_sync()


def instance_id(lib: str, n: int) -> str:
    return f"{ID_PREFIX}{lib}-{n}"


def library_of(task_id: str) -> str:
    """The library of a task id: the part between ``__`` and the last ``-``."""
    return task_id.split("__", 1)[1].rsplit("-", 1)[0]


def repro_script(problem_statement: str) -> str:
    """The issue's reproducible example: its first ```python fenced block."""
    match = re.search(r"^```python\n(.*?)^```", problem_statement, flags=re.M | re.S)
    if not match:
        raise SpecError("the problem statement has no ```python block")
    return match.group(1)


# ---- snippets -------------------------------------------------------------------------------------


def replace_once(text: str, snippet: str, replacement: str, where: str) -> str:
    """``text`` with the one occurrence of ``snippet`` replaced (see the module docstring)."""
    if not snippet.endswith("\n"):  # inline: verbatim
        candidates = [(snippet, replacement)]
    elif replacement and not replacement.endswith("\n"):
        raise SpecError(f"{where}: a block of lines must be replaced by a block of lines:\n{snippet}")
    else:  # whole lines, written without their indentation
        first = snippet.splitlines()[0]
        indents = sorted(set(re.findall(rf"^([ \t]*){re.escape(first)}$", text, flags=re.M)))
        # anchored at a line start, so that an unindented block does not match an indented one
        candidates = [("\n" + _indent(snippet, i), "\n" + _indent(replacement, i)) for i in indents]
        text = "\n" + text
    count = sum(text.count(old) for old, _ in candidates)
    if count != 1:
        raise SpecError(f"{where}: the snippet occurs {count} times, not once:\n{snippet}")
    old, new = next((old, new) for old, new in candidates if old in text)
    result = text.replace(old, new)
    return result[1:] if snippet.endswith("\n") else result


def _indent(block: str, prefix: str) -> str:
    return textwrap.indent(block, prefix, lambda line: bool(line.strip()))


# ---- one task -------------------------------------------------------------------------------------


def read_tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (caches excluded), by its posix path relative to ``root``."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        cache = path.suffix == ".pyc" or any(p in ("__pycache__", ".pytest_cache") for p in rel.parts)
        if path.is_file() and not cache:
            files[rel.as_posix()] = path.read_text(encoding="utf-8")
    return files


def collect_tests(files: dict[str, str]) -> list[str]:
    """The pytest ids of the top-level test functions in ``tests/test_*.py``."""
    ids = []
    for path, text in files.items():
        if re.fullmatch(r"tests/test_\w+\.py", path):
            tree = ast.parse(text)
            ids += [
                f"{path}::{n.name}"
                for n in tree.body
                if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
            ]
    return sorted(ids)


def inject(files: dict[str, str], task: dict, where: str) -> dict[str, str]:
    """The library with the task's bug: each hunk's ``fixed`` snippet replaced by its ``buggy`` one."""
    buggy = dict(files)
    for k, hunk in enumerate(task["bug"], start=1):
        path = hunk.get("file", task["file"])
        buggy[path] = replace_once(buggy[path], hunk["fixed"], hunk["buggy"], f"{where} bug hunk {k}")
    return buggy


def apply_decoy(base: dict[str, str], task: dict, decoy: list | dict, where: str) -> dict[str, str]:
    """The buggy library with one wrong fix applied."""
    tree = dict(base)
    if isinstance(decoy, dict):
        edits = [(decoy.get("file", task["file"]), decoy["find"], decoy["replace"])]
    else:
        if len(decoy) != len(task["bug"]):
            raise SpecError(f"{where}: {len(decoy)} entries for {len(task['bug'])} bug hunks")
        if None in decoy:  # a hunk left buggy gives a decoy with fewer blocks than gold: a tell
            raise SpecError(f"{where}: edit every bug hunk (pair a right hunk with a wrong one)")
        edits = [
            (hunk.get("file", task["file"]), hunk["buggy"], text)
            for hunk, text in zip(task["bug"], decoy, strict=True)
        ]
    for path, find, replace in edits:
        tree[path] = replace_once(tree[path], find, replace, where)
    return tree


def add_tests(base: dict[str, str], tests: dict) -> dict[str, str]:
    """The buggy library with the hidden tests appended to (or written as) their test file."""
    tree = dict(base)
    code = tests["code"].rstrip("\n") + "\n"
    old = tree.get(tests["file"])
    tree[tests["file"]] = f"{old.rstrip()}\n\n\n{code}" if old else code
    return tree


class Git:
    """A scratch repository holding the base tree, for ``git diff``-made patches."""

    def __init__(self, root: Path, base: dict[str, str]) -> None:
        self.root, self.base = root, base
        write_tree(root, base)
        self("init", "-q", "-b", "main")
        self("add", "-A")
        self("-c", "commit.gpgsign=false", "commit", "-q", "-m", "base")

    def __call__(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV, **SYNC.GIT_IDENTITY}
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout

    def patch(self, tree: dict[str, str]) -> str:
        """The patch that turns the base tree into ``tree``."""
        for path in set(self.base) - set(tree):
            (self.root / path).unlink()
        write_tree(self.root, {p: t for p, t in tree.items() if self.base.get(p) != t})
        self("add", "-A")
        diff = self("diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames")
        self("reset", "-q", "--hard")
        return diff


def write_tree(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")


def render_task(lib: str, version: str, n: int, task: dict, correct: dict[str, str]) -> dict[str, str]:
    """Every file of one task folder, by its path relative to the folder."""
    task_id = instance_id(lib, n)
    base = inject(correct, task, task_id)
    decoy_trees = [
        apply_decoy(base, task, decoy, f"{task_id} decoy {k}") for k, decoy in enumerate(task["decoys"], 1)
    ]
    if not 2 <= len(decoy_trees) <= 4:
        raise SpecError(f"{task_id}: {len(decoy_trees)} decoys; declare 2 to 4")
    fail_to_pass = [
        f"{task['tests']['file']}::{name}"
        for name in re.findall(r"^def (test_\w+)", task["tests"]["code"], flags=re.M)
    ]
    pass_to_pass = collect_tests(base)
    if not fail_to_pass or set(fail_to_pass) & set(pass_to_pass):
        raise SpecError(f"{task_id}: the hidden tests must be new test functions")
    with tempfile.TemporaryDirectory(prefix="testbed-build-") as tmp:
        git = Git(Path(tmp) / "repo", base)
        gold = git.patch(correct)
        decoys = [git.patch(tree) for tree in decoy_trees]
        test_patch = git.patch(add_tests(base, task["tests"]))
        write_tree(Path(tmp) / "base", base)
        sha = SYNC.base_commit(Path(tmp) / "base", task_id)
    for k, decoy in enumerate(decoys, start=1):
        if not decoy or decoy == gold or decoy in decoys[: k - 1]:
            raise SpecError(f"{task_id}: decoy {k} is empty, the gold patch, or a copy of another decoy")
    meta = {
        "base_commit": sha,
        "created_at": "2024-01-01T00:00:00Z",
        "datasets": [DATASET],
        "environment_setup_commit": sha,
        "eval_type": "pass_and_fail",
        "image": f"swe-search/task:{task_id}",
        "instance_id": task_id,
        "log_parser": "parse_log_pytest",
        "repo": f"testbed/{lib}",
        "split": "test",
        "version": version,
    }
    repro_script(task["issue"])  # fails early on an issue without its example
    dockerfile = SYNC.render_dockerfile(task_id, sha).split("\n", 1)[1]
    header = "# Generated by examples/testbed/build.py from libs/ and specs/; edit those and rerun it.\n"
    files = {
        ".dockerignore": DOCKERIGNORE,
        "task.yaml": yaml.safe_dump(meta, sort_keys=True, allow_unicode=True),
        "tests.json": dump_tests({"FAIL_TO_PASS": sorted(fail_to_pass), "PASS_TO_PASS": pass_to_pass}),
        "problem_statement.md": task["issue"].rstrip("\n") + "\n",
        "gold.patch": gold,
        "test.patch": test_patch,
        "eval.sh": SYNC.render_eval_script(test_patch, sha),
        "Dockerfile": header + dockerfile,
    }
    files |= {f"decoys/{k}.patch": patch for k, patch in enumerate(decoys, start=1)}
    files |= {f"repo/{path}": text for path, text in base.items()}
    return files


# ---- the whole testbed ----------------------------------------------------------------------------


def load_specs(libs: list[str] | None = None) -> dict[str, dict]:
    """Each library's declaration (specs/<lib>.yaml), by library name."""
    specs = {}
    for path in sorted(SPECS.glob("*.yaml")):
        if libs is None or path.stem in libs:
            specs[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return specs


def expected_files(libs: list[str] | None = None) -> dict[Path, str]:
    """Every generated file under tasks/, with the text it should hold."""
    files: dict[Path, str] = {}
    for lib, spec in load_specs(libs).items():
        correct = read_tree(LIBS / lib)
        version = ".".join(
            re.search(r'^version = "([^"]+)"', correct["pyproject.toml"], re.M)[1].split(".")[:2]
        )
        for n, task in spec["tasks"].items():
            task_dir = TASKS / instance_id(lib, n)
            for rel, text in render_task(lib, version, n, task, correct).items():
                files[task_dir / rel] = text
    return files


def generated_files() -> set[Path]:
    """The files now under tasks/ in this testbed's task folders."""
    return {p for p in TASKS.glob(f"{ID_PREFIX}*/**/*") if p.is_file()} if TASKS.is_dir() else set()


def build(check: bool = False) -> list[str]:
    """Write (or with ``check``, only compare) the tasks; return what was or would be changed."""
    expected = expected_files()
    changes = []
    for path, text in sorted(expected.items()):
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            changes.append(f"{'stale' if check else 'wrote'}: {path.relative_to(TESTBED)}")
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    for path in sorted(generated_files() - set(expected)):
        changes.append(f"{'extra' if check else 'removed'}: {path.relative_to(TESTBED)}")
        if not check:
            path.unlink()
    if not check:
        for folder in sorted(TASKS.glob(f"{ID_PREFIX}*/**/"), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return changes


# ---- a quick behavioural check on this machine ----------------------------------------------------


def validate(task_dir: Path) -> list[str]:
    """Run one task's tests and repro here (host python, no container): the problems found.

    The base commit must fail every FAIL_TO_PASS test and pass every PASS_TO_PASS one; gold must
    pass them all; each decoy must fail at least one FAIL_TO_PASS test; the repro must fail on
    the base and on each decoy and pass with gold. tests/e2e/test_testbed_tasks.py checks the
    same in the task's real image.
    """
    from swebench.harness.log_parsers import PARSER_REGISTRY

    parse = PARSER_REGISTRY["parse_log_pytest"]
    tests = yaml.safe_load((task_dir / "tests.json").read_text(encoding="utf-8"))
    repro = repro_script((task_dir / "problem_statement.md").read_text(encoding="utf-8"))
    patches = {"base": "", "gold": (task_dir / "gold.patch").read_text(encoding="utf-8")}
    patches |= {
        f"decoy {p.stem}": p.read_text(encoding="utf-8")
        for p in sorted((task_dir / "decoys").glob("*.patch"))
    }
    problems = []
    for name, patch in patches.items():
        with tempfile.TemporaryDirectory(prefix="testbed-validate-") as tmp:
            work = Path(tmp) / "repo"
            shutil.copytree(task_dir / "repo", work, ignore=IGNORED)
            for p in (patch, (task_dir / "test.patch").read_text(encoding="utf-8")):
                if p:
                    subprocess.run(["git", "apply", "-"], input=p, text=True, cwd=work, check=True)
            env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
            ran = subprocess.run(
                [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "tests"],
                cwd=work,
                capture_output=True,
                text=True,
                env=env,
            )
            status = parse(ran.stdout, None)
            failed_f2p = [t for t in tests["FAIL_TO_PASS"] if status.get(t) != "PASSED"]
            failed_p2p = [t for t in tests["PASS_TO_PASS"] if status.get(t) != "PASSED"]
            repro_ok = (
                subprocess.run(
                    [sys.executable, "-c", repro], cwd=work, capture_output=True, env=env
                ).returncode
                == 0
            )
        if name == "base" and (len(failed_f2p) != len(tests["FAIL_TO_PASS"]) or failed_p2p):
            problems.append(
                f"base: FAIL_TO_PASS passing: {set(tests['FAIL_TO_PASS']) - set(failed_f2p)}, PASS_TO_PASS failing: {failed_p2p}"
            )
        if name == "gold" and (failed_f2p or failed_p2p):
            problems.append(f"gold: failing {failed_f2p + failed_p2p}")
        if name.startswith("decoy") and not failed_f2p:
            problems.append(f"{name}: passes every FAIL_TO_PASS test")
        if repro_ok != (name == "gold"):
            problems.append(f"{name}: the repro {'passes' if repro_ok else 'fails'}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale files, write nothing")
    parser.add_argument("--validate", action="store_true", help="then run each task's tests and repro here")
    parser.add_argument("--filter", default="", help="with --validate: only task ids matching this regex")
    args = parser.parse_args(argv)
    try:
        changes = build(check=args.check)
    except SpecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in changes:
        print(line)
    failed = bool(args.check and changes)
    if args.validate:
        for task_dir in sorted(TASKS.glob(f"{ID_PREFIX}*")):
            if re.search(args.filter, task_dir.name):
                problems = validate(task_dir)
                print(f"{task_dir.name}: {'ok' if not problems else '; '.join(problems)}")
                failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
