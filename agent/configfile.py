"""The one config loader and the one `ConfigError`: YAML < flags < `key.path=value` overrides.

Every config model of swe-search is a `FileConfig`: `RunConfig` (eval.batch.config), `ExperimentConfig`
(eval.experiment.config), `AgentConfig`, `SearchConfig` and `CriticConfig`. `Model.load(path,
flags, overrides)` reads the YAML file (`path`, else the model's `DEFAULTS` file), then sets each
flag that is not None, then each `key.path=value` override (the value read as YAML), then
validates; any problem is a `ConfigError` of one line that names the key. A command's config is
`Model.from_args(args, flag_keys, overrides)`: the same merge, its flags read off the parsed arguments.

In a YAML file, `extends: other.yaml` names a base that the file is merged over (mappings key by
key), and each section in the model's `FILE_SECTIONS` may name a file instead of holding a mapping
(`search: strategies.yaml`); both are resolved relative to the file that names them. This module
sits in `agent` because every package that has a config (agent, search, critic, eval) may import it.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ValidationError
from typing_extensions import Self

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
"""The YAML defaults; they ship in the wheel beside the packages."""


class ConfigError(ValueError):
    """A config is malformed: a missing or bad YAML file, a bad override, flag or value."""


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from `path`, with a clear error when it is missing or not one."""
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping, not {type(data).__name__}")
    return data


def near(path: Path, name: str) -> Path:
    """`name` relative to the folder of the file that names it."""
    p = Path(name)
    return p if p.is_absolute() else path.parent / p


def read_config_file(path: Path, sections: tuple[str, ...] = ()) -> dict[str, Any]:
    """A YAML mapping with its `extends:` base merged in and the file-valued `sections` read."""
    data = read_yaml(path)
    base_name = data.pop("extends", None)
    base = read_config_file(near(path, base_name), sections) if base_name else {}
    for section in sections:
        if isinstance(data.get(section), str):
            data[section] = read_config_file(near(path, data[section]), sections)
    return deep_merge(base, data)


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`top` over `base`, merging nested mappings key by key."""
    out = dict(base)
    for k, v in top.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_override(item: str) -> tuple[str, Any]:
    """'search.k=8' -> ('search.k', 8). The value is read as YAML, so 8, true, null and [a, b] work."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip() or not re.fullmatch(r"[A-Za-z_][\w.]*", key.strip()):
        raise ConfigError(f"override {item!r} is not of the form key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {item!r}: the value is not valid YAML ({e})") from e
    return key.strip(), value


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set data['a']['b'] = value for key 'a.b', creating the mappings on the way."""
    *parents, last = key.split(".")
    node = data
    for p in parents:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[last] = value


def one_line(error: ValidationError, what: str = "config") -> str:
    """A pydantic error as one line naming the key: 'invalid run config: container.mem_limit: ...'."""
    errors = error.errors()
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"]) or "config"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "no such setting"
    elif "input" in first and first["type"] not in ("missing", "value_error"):
        message = f"{message} (got {repr(first['input'])[:80]})"
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"invalid {what}: {key}: {message}{more}"


class FileConfig(BaseModel):
    """A config model that loads from YAML, flags and overrides (see the module's docstring)."""

    DEFAULTS: ClassVar[Path | None] = None
    """The YAML file read when `load` is given no path."""
    FILE_SECTIONS: ClassVar[tuple[str, ...]] = ()
    """Sections that may name a YAML file instead of holding a mapping."""
    WHAT: ClassVar[str] = "config"
    """What errors call it: 'invalid run config: ...'."""

    @classmethod
    def read(cls, path: Path | None = None) -> dict[str, Any]:
        """The YAML layer: `path`, else `DEFAULTS` (empty when neither)."""
        source = path or cls.DEFAULTS
        return read_config_file(source, cls.FILE_SECTIONS) if source else {}

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        flags: dict[str, Any] | None = None,
        overrides: list[str] | None = None,
    ) -> Self:
        """The YAML layer, then each flag that is not None, then `key.path=value` overrides; validated."""
        data = cls.read(Path(path) if path else None)
        for key, value in (flags or {}).items():
            if value is not None:
                set_path(data, key, value)
        for item in overrides or []:
            set_path(data, *parse_override(item))
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ConfigError(one_line(e, cls.WHAT)) from e

    @classmethod
    def from_args(
        cls,
        args: argparse.Namespace,
        flag_keys: Mapping[str, str | tuple[str, ...]],
        overrides: list[str],
    ) -> Self:
        """A command's effective config: its `-c` file (`args.config`), then each flag of `flag_keys`
        (argparse dest -> the key path it sets, or several) that was given, then the overrides."""
        flags: dict[str, Any] = {}
        for dest, keys in flag_keys.items():
            value = getattr(args, dest, None)
            for key in (keys,) if isinstance(keys, str) else keys:
                flags[key] = str(value) if isinstance(value, PurePath) else value
        return cls.load(getattr(args, "config", None), flags, overrides)
