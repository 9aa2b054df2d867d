"""The form of an edit reply, for checking that right and wrong edits look alike."""

from __future__ import annotations

import difflib

from agent.testbed_task import FileChange

MARKERS = ("<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE")


def skeleton(text: str) -> list[str]:
    """A reply with the code inside its SEARCH/REPLACE blocks blanked (one marker per block half)."""
    out, code = [], False
    for line in text.split("\n"):
        if line in MARKERS:
            out.append(line)
            code = line != MARKERS[2]
            if code:
                out.append("<code>")
        elif not code:
            out.append(line)
    return out


def block_forms(changes: tuple[FileChange, ...]) -> list[tuple[str, int, int, int, int]]:
    """Per SEARCH/REPLACE block: its file, its lines searched and replaced, and lines removed and added."""
    forms = []
    for change in changes:
        for search, replace in change.blocks:
            old, new = search.splitlines(), replace.splitlines()
            diff = list(difflib.ndiff(old, new))
            removed = sum(line.startswith("- ") for line in diff)
            added = sum(line.startswith("+ ") for line in diff)
            forms.append((change.path, len(old), len(new), removed, added))
    return forms


def changed_chars(changes: tuple[FileChange, ...]) -> int:
    """The characters on the lines an edit removes or adds: how much code it changes."""
    total = 0
    for change in changes:
        for search, replace in change.blocks:
            diff = difflib.ndiff(search.splitlines(), replace.splitlines())
            total += sum(len(line) - 2 for line in diff if line[:2] in ("- ", "+ "))
    return total
