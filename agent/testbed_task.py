"""What the testbed policy (agent.testbed) takes from a task, and how it writes its replies.

- The task folder: `load_patches` reads `gold.patch` and `decoys/*.patch` (`parse_patch`: one
  FileChange per file, one SEARCH/REPLACE pair per hunk); `repro_script` finds the issue's example.
- Rendering: `render_edit` turns gold and every decoy alike into one reply (`reply`: a thought from
  THOUGHTS, then one bash block of the scaffold's tools, `render_command`, `heredoc`).
- Randomness: `tempered` reshapes a knob's probability by the temperature; `draw_rng` is the RNG of the
  k-th draw from one conversation state (`state_hash`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from agent.policies import PolicyError
from agent.types import Message
from envs.types import Task

GOLD = "gold"

THOUGHTS = {
    "find": "First I'll find the file that the issue is about.",
    "search": "Let me locate the definition of `{name}` in it.",
    "open": "Let me read the code there.",
    "reproduce": "Let me reproduce the issue with the example from the problem statement.",
    "edit": "I'll change the code so that the example from the issue behaves as expected.",
    "verify": "Let me run the example again to check my change.",
    "undo": "The example still fails. Let me revert my change and try again.",
    "submit": "I'm done with this change; let me submit it.",
}
"""One thought per kind of action. The edit thought is the same for every edit, right or wrong."""

_PYTHON_BLOCK = re.compile(
    r"^ {0,3}```[ \t]*(?:py|python|python3)[ \t]*\n(.*?)^ {0,3}```[ \t]*$", re.M | re.S
)


class TestbedError(PolicyError, ValueError):
    """Bad knobs, or a task the testbed policy cannot play (no gold patch or no decoys)."""

    __test__ = False  # not a pytest test class, despite the name


# ---------------------------------------------------------------- the task folder


def load_patches(task: Task) -> tuple[tuple[FileChange, ...], dict[str, tuple[FileChange, ...]]]:
    """The task's gold patch and its decoys (by file stem), from its folder (`task.build_context`)."""
    folder = Path(task.build_context) if task.build_context else None
    gold_file = folder / "gold.patch" if folder else None
    if gold_file and gold_file.is_file():
        gold_text = gold_file.read_text(encoding="utf-8")
    elif task.instance.get("patch"):
        gold_text = task.instance["patch"]
    else:
        raise TestbedError(f"{task.instance_id}: no gold patch (gold.patch in the task folder, or `patch`)")
    decoy_files = sorted((folder / "decoys").glob("*.patch")) if folder else []
    if not decoy_files:
        raise TestbedError(
            f"{task.instance_id}: no decoys/*.patch in {folder or 'its task folder'}; --model testbed needs "
            "a testbed task repo (e.g. examples/testbed) whose tasks carry wrong edits"
        )
    gold = parse_patch(gold_text, f"{task.instance_id} gold.patch")
    decoys = {}
    for f in decoy_files:
        decoy = parse_patch(f.read_text(encoding="utf-8"), f"{task.instance_id} decoys/{f.name}")
        if f.stem == GOLD:
            raise TestbedError(f"{task.instance_id}: a decoy may not be named {f.name}")
        decoys[f.stem] = decoy
    return gold, decoys


# ---------------------------------------------------------------- patches -> actions


@dataclass(frozen=True)
class FileChange:
    """The part of a patch that touches one file: SEARCH/REPLACE pairs, or a whole new or removed file."""

    path: str
    blocks: tuple[tuple[str, str], ...] = ()
    added: bool = False
    removed: bool = False
    first_line: int = 1
    section: str = ""


def parse_patch(text: str, where: str = "patch") -> tuple[FileChange, ...]:
    """A unified diff as FileChanges, one per file in path order; each hunk is one SEARCH/REPLACE pair."""
    try:
        patch = PatchSet(text)
    except UnidiffParseError as e:
        raise TestbedError(f"{where} is not a unified diff: {e}") from e
    changes = []
    for f in patch:
        blocks = []
        for hunk in f:
            search = "".join(_line(v.value) for v in hunk if not v.is_added)
            replace = "".join(_line(v.value) for v in hunk if not v.is_removed)
            blocks.append((search, replace))
        first = f[0] if len(f) else None
        changes.append(
            FileChange(
                path=f.path,
                blocks=tuple(blocks),
                added=f.is_added_file,
                removed=f.is_removed_file,
                first_line=max(1, first.source_start + min(3, max(first.source_length - 1, 0)))
                if first
                else 1,
                section=first.section_header if first else "",
            )
        )
    if not changes:
        raise TestbedError(f"{where} changes no file")
    return tuple(sorted(changes, key=lambda c: c.path))


def _line(value: str) -> str:
    return value if value.endswith("\n") else value + "\n"


def _delimiter(body: str, base: str = "EOF") -> str:
    """A heredoc delimiter that no line of `body` equals (the scaffold compares stripped lines)."""
    lines = {line.strip() for line in body.split("\n")}
    name, i = base, 0
    while name in lines:
        i += 1
        name = f"{base}_{i}"
    return name


def heredoc(command: str, body: str) -> str:
    """`command <<'EOF'`, the body, then the delimiter."""
    delimiter = _delimiter(body)
    return f"{command} <<'{delimiter}'\n{body}{delimiter}"


def render_command(changes: tuple[FileChange, ...]) -> str:
    """The shell command that applies `changes` with the scaffold's tools."""
    parts = []
    for change in changes:
        path = shlex.quote(change.path)
        if change.removed:
            parts.append(f"rm {path}")
        elif change.added:
            content = "".join(replace for _, replace in change.blocks)
            parts.append(heredoc(f"mkdir -p $(dirname {path}) && cat > {path}", content))
        else:
            body = "".join(
                f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"
                for search, replace in change.blocks
            )
            parts.append(heredoc(f"replace {path}", body))
    return "\n".join(parts)


def reply(kind: str, command: str, thoughts: dict[str, str] = THOUGHTS, **values: str) -> str:
    """A reply of the given kind: its thought (from `thoughts`, a style's), then the command in one bash block."""
    return f"{thoughts[kind].format(**values)}\n```bash\n{command}\n```"


def render_edit(changes: tuple[FileChange, ...], thoughts: dict[str, str] = THOUGHTS) -> str:
    """The reply that makes an edit. Gold and every decoy go through here, so only their code differs."""
    return reply("edit", render_command(changes), thoughts)


def library_of(instance_id: str) -> str:
    """`testbed__intervals-3` -> `intervals`: the part between `__` and the last `-`."""
    return instance_id.split("__", 1)[-1].rsplit("-", 1)[0]


def repro_script(problem_statement: str) -> str | None:
    """The issue's reproducible example: its first ```python block, or None."""
    match = _PYTHON_BLOCK.search(problem_statement)
    if not match or not match.group(1).strip():
        return None
    return match.group(1) if match.group(1).endswith("\n") else match.group(1) + "\n"


# ---------------------------------------------------------------- randomness


def tempered(p: float, temperature: float) -> float:
    """The yes/no probability p at `temperature`: sigmoid(logit(p) / T); T = 0 takes the likelier branch."""
    if p <= 0.0 or p >= 1.0:
        return min(max(p, 0.0), 1.0)
    if temperature == 0:
        return 1.0 if p >= 0.5 else 0.0
    z = (math.log(p) - math.log1p(-p)) / temperature
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def state_hash(messages: list[Message]) -> str:
    data = json.dumps([[m.get("role", ""), m.get("content", "")] for m in messages], ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def draw_rng(seed: int, instance_id: str, state: str, k: int) -> random.Random:
    """The RNG of the k-th draw from conversation `state` (a `state_hash`) on one task, for one seed."""
    key = f"{seed}\0{instance_id}\0{state}\0{k}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))
