"""A semantic version (semver 2.0.0) and its precedence."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_PATTERN = re.compile(
    r"^(\d+)\.(\d+)\.(\d+)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


class VersionError(ValueError):
    """Text that is not a semantic version, or a range that cannot be read."""


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """``major.minor.patch[-prerelease][+build]``; build metadata does not take part in precedence."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _PATTERN.match(text.strip())
        if not match:
            raise VersionError(f"not a semantic version: {text!r}")
        major, minor, patch, prerelease, build = match.groups()
        return cls(
            int(major),
            int(minor),
            int(patch),
            tuple(prerelease.split(".")) if prerelease else (),
            tuple(build.split(".")) if build else (),
        )

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def _key(self) -> tuple:
        return (self.major, self.minor, self.patch, _prerelease_key(self.prerelease))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def bump_major(self) -> Version:
        return Version(self.major + 1, 0, 0)

    def bump_minor(self) -> Version:
        return Version(self.major, self.minor + 1, 0)

    def bump_patch(self) -> Version:
        """The next patch release; a prerelease bumps to its own release (1.2.3-rc.1 -> 1.2.3)."""
        if self.prerelease:
            return Version(self.major, self.minor, self.patch)
        return Version(self.major, self.minor, self.patch + 1)


def _prerelease_key(prerelease: tuple[str, ...]) -> tuple:
    """A release sorts after all of its prereleases; prereleases compare field by field."""
    if not prerelease:
        return (1,)
    return (0, tuple(_identifier_key(part) for part in prerelease))


def _identifier_key(part: str) -> tuple:
    """Numeric identifiers compare as numbers and sort before alphanumeric ones (semver 11.4)."""
    if part.isdigit():
        return (0, int(part), "")
    return (1, 0, part)
