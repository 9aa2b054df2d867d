"""The testbed policy's styles (`policy.style`, or `--model testbed:STYLE`): one policy, two sets of habits.

A critic is trained on one policy's runs and used with another's, so the testbed has two policies that
make the same kind of mistakes through different replies. Both go through the same phases (agent.testbed:
explore, reproduce, edit, verify, undo, submit); a style decides how each phase reads and how often it
happens (its knob defaults, which `policy:` overrides as usual):

    classic  (`--model testbed`)  find_file, search_file and open; runs the issue's example verbatim as
             /tmp/repro.py (an assertion prints a traceback); explores often (0.8), verifies almost every
             edit (0.9) but submits after most failed checks (0.6); up to 6 edits.
    scout    (`--model testbed:scout`)  ls, grep -n and sed -n in the shell; writes its own check,
             /tmp/check_<library>.py, which runs the example inside try/except and prints one line,
             `<library>: OK` or `<library>: FAIL (AssertionError: ...)` with exit code 1 and no traceback;
             explores less (0.5), reproduces more (0.85), verifies half its edits (0.5) but re-edits
             after most failed checks (p_submit_after_fail 0.3); up to 4 edits.

In every style one thought serves every edit and edits render through `render_edit`, so right and wrong
edits differ only in their code. Base Pass@1 (agent.testbed.analytic_pass_at_1): 34.2% classic, 33.7%
scout at T = 1.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from agent.testbed_task import THOUGHTS, FileChange, heredoc, library_of, reply, repro_script
from envs.types import Task

REPRO_PATH = "/tmp/repro.py"
"""Outside the repository, so the example never becomes part of the patch."""

Explore = Callable[[FileChange, dict[str, str]], list[str]]
Check = Callable[[Task], tuple[str, str] | None]
Undo = Callable[[list[str], list[str]], str]


@dataclass(frozen=True)
class Style:
    """How a testbed policy phrases each phase, and its knob defaults."""

    name: str
    thoughts: dict[str, str]
    explore: Explore
    """(the first changed file, thoughts) -> the exploring replies, in order."""
    check: Check
    """The task -> (write the check and run it, rerun it) commands, or None when the issue has no example."""
    undo: Undo
    """(tracked files, created files), shell-quoted -> the command that reverts an edit."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """Knob values of this style, under whatever the run config's `policy:` sets."""


# ---------------------------------------------------------------- classic: the scaffold's own tools


_DEFINITION = re.compile(r"\b(?:def|class)\s+(\w+)")


def _definition(change: FileChange) -> tuple[str, str] | None:
    """`def name` / `class Name` in the hunk's section header, and the name."""
    match = _DEFINITION.search(change.section)
    return (" ".join(match.group(0).split()), match.group(1)) if match else None


def _classic_explore(first: FileChange, thoughts: dict[str, str]) -> list[str]:
    explore = [reply("find", f"find_file {shlex.quote(PurePosixPath(first.path).name)}", thoughts)]
    if not first.added:
        definition = _definition(first)
        if definition:
            term, where = shlex.quote(definition[0]), shlex.quote(first.path)
            explore.append(reply("search", f"search_file {term} {where}", thoughts, name=definition[1]))
        explore.append(reply("open", f"open {shlex.quote(first.path)} {first.first_line}", thoughts))
    return explore


def _classic_check(task: Task) -> tuple[str, str] | None:
    script = repro_script(task.problem_statement)
    if not script:
        return None
    run = f"PYTHONPATH={shlex.quote(task.workdir)} python3 {REPRO_PATH}"
    return heredoc(f"cat > {REPRO_PATH}", script) + f"\n{run}", run


def _classic_undo(tracked: list[str], created: list[str]) -> str:
    parts = [
        f"git checkout -- {' '.join(tracked)}" if tracked else "",
        f"rm -f {' '.join(created)}" if created else "",
    ]
    return " && ".join(p for p in parts if p)


# ---------------------------------------------------------------- scout: the shell, and its own checks

SCOUT_THOUGHTS = {
    "find": "Before touching anything, a look at how the package is laid out.",
    "search": "Where does `{name}` live? grep will tell.",
    "open": "Reading the lines around it.",
    "reproduce": "I'll write a small check script of my own around the issue's example and run it.",
    "edit": "Time to patch the code.",
    "verify": "Running my check script against the patched code.",
    "undo": "My check still reports a failure; throwing this patch away to start over.",
    "submit": "That should be it; submitting.",
}
"""The scout's thoughts: no sentence in common with the classic THOUGHTS."""

SCOUT_CHECK = '''"""{library}: a check of the issue, built around its example."""
import sys

sys.path.insert(0, {workdir!r})
EXAMPLE = {example!r}

try:
    exec(compile(EXAMPLE, "<issue example>", "exec"), {{"__name__": "__main__"}})
except Exception as error:  # one line, no traceback
    print(f"{library}: FAIL ({{type(error).__name__}}: {{error}})")
    sys.exit(1)
print("{library}: OK")
'''


def scout_check_script(task: Task) -> str | None:
    """The scout's own check script for a task: the issue's example inside try/except, one verdict line."""
    example = repro_script(task.problem_statement)
    if not example:
        return None
    library = library_of(task.instance_id)
    return SCOUT_CHECK.format(library=library, workdir=task.workdir, example=example)


def _scout_explore(first: FileChange, thoughts: dict[str, str]) -> list[str]:
    path = PurePosixPath(first.path)
    explore = [reply("find", f"ls {shlex.quote(str(path.parent))}", thoughts)]
    if not first.added:
        definition = _definition(first)
        if definition:
            pattern = shlex.quote(f"^\\s*{definition[0]}\\b")
            explore.append(
                reply("search", f"grep -nE {pattern} {shlex.quote(first.path)}", thoughts, name=definition[1])
            )
        start = max(1, first.first_line - 10)
        explore.append(reply("open", f"sed -n '{start},{start + 40}p' {shlex.quote(first.path)}", thoughts))
    return explore


def _scout_check(task: Task) -> tuple[str, str] | None:
    script = scout_check_script(task)
    if script is None:
        return None
    path = f"/tmp/check_{library_of(task.instance_id)}.py"
    path = shlex.quote(path)
    return heredoc(f"cat > {path}", script) + f"\npython3 {path}", f"python3 {path}"


def _scout_undo(tracked: list[str], created: list[str]) -> str:
    parts = ["git diff --stat", *([f"git checkout -- {' '.join(tracked)}"] if tracked else [])]
    parts += [f"rm -f {' '.join(created)}"] if created else []
    return " && ".join(parts)


# ---------------------------------------------------------------- the registry

STYLES: dict[str, Style] = {
    "classic": Style("classic", THOUGHTS, _classic_explore, _classic_check, _classic_undo),
    "scout": Style(
        "scout",
        SCOUT_THOUGHTS,
        _scout_explore,
        _scout_check,
        _scout_undo,
        defaults={
            "p_explore": 0.5,
            "p_reproduce": 0.85,
            "p_verify": 0.5,
            "p_submit_after_fail": 0.3,
            "max_edits": 4,
        },
    ),
}
"""`policy.style` -> its Style. `--model testbed:NAME` picks one too."""
