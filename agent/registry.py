"""Short names for pluggable parts, as mini-swe-agent's `models/__init__.py` does.

A registry maps a short name to the import path of a class or factory (`"module.attr"`). Wherever a
short name is accepted, a full import path is accepted too (`mypkg.critics.MyCritic`), so a user's
own policy, critic or strategy plugs in without editing this code. The registries:
- `agent.policies.BACKENDS` (the `backend:` of a model alias) and `agent.policies.POLICIES`
  (`--model scripted:NAME`, `--model testbed`);
- `critic.factory.CRITICS` (`--critic const:V`, `http://...`, `tiny`, ...);
- `critic.backbones.BACKBONES` (a critic's starting model: `train.model: tiny|smollm2`);
- `search.config.CHOOSERS` (the step part of `--strategy`: greedy, lookahead).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
"""`package.module.attr`: dotted Python names, nothing else (no '/', '-' or ':')."""


class UnknownName(LookupError):
    """A name is neither in the registry nor an importable `module.attr` path."""


def is_import_path(name: str) -> bool:
    """Whether `name` has the shape of a full import path (`pkg.module.Attr`)."""
    return bool(IMPORT_PATH.fullmatch(name))


def lookup(name: str, registry: Mapping[str, str], what: str = "name") -> Any:
    """The object that `name` stands for: `registry[name]`, else `name` as a full import path.

    Raises UnknownName saying which short names exist.
    """
    path = registry.get(name, name)
    module_name, _, attr = path.rpartition(".")
    known = ", ".join(sorted(registry))
    if not is_import_path(path):
        raise UnknownName(
            f"unknown {what} {name!r}: use one of {known}, or a full import path pkg.module.Name"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise UnknownName(f"unknown {what} {name!r}: cannot import {module_name!r} ({e})") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise UnknownName(f"unknown {what} {name!r}: {module_name} has no {attr!r}") from None
