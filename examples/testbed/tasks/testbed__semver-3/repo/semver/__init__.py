"""Semantic versions: parse, compare, bump and match ranges."""

from semver.ranges import satisfies
from semver.version import Version, VersionError

__all__ = ["Version", "VersionError", "satisfies"]
__version__ = "0.9.2"
