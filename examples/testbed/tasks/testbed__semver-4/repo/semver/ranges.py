"""Match versions against ranges such as ``^1.2.3``, ``~1.2.3`` and ``>=1.0.0 <2.0.0``."""

from __future__ import annotations

import re

from semver.version import Version, VersionError

_CLAUSE = re.compile(r"^(\^|~|>=|<=|>|<|=)?(.+)$")


def satisfies(version: str | Version, spec: str) -> bool:
    """Whether ``version`` meets every space-separated clause of ``spec``."""
    if isinstance(version, str):
        version = Version.parse(version)
    clauses = spec.split()
    if not clauses:
        raise VersionError("an empty range matches nothing; write a clause such as ^1.2.3")
    return all(_matches(version, clause) for clause in clauses)


def _matches(version: Version, clause: str) -> bool:
    match = _CLAUSE.match(clause)
    if not match:
        raise VersionError(f"not a range clause: {clause!r}")
    op, text = match.groups()
    target = Version.parse(text)
    if op == "^":
        return target <= version < _caret_limit(target)
    if op == "~":
        return target <= version < Version(target.major, target.minor + 1, 0)
    if op == ">=":
        return version >= target
    if op == "<=":
        return version <= target
    if op == ">":
        return version > target
    if op == "<":
        return version < target
    return version == target


def _caret_limit(target: Version) -> Version:
    """The first version ``^target`` excludes: the next change of its leftmost non-zero part."""
    if target.major > 0:
        return Version(target.major + 1, 0, 0)
    if target.minor > 0:
        return Version(0, target.minor + 1, 0)
    return Version(0, 0, target.patch + 1)
