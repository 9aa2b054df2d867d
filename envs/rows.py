"""Rows from the datasets users have -> swebench 5 instances (docs/tasks.md, "Rows from other datasets").

swebench 5 grades an instance through four fields beyond the classic twelve: `image`,
`eval_script`, `log_parser` and `eval_type`. Rows that lack them get them here, once, before
pre-flight sees them:

- **SWE-rebench rows** carry `install_config` (`test_cmd`, `log_parser`, `install`, ...) and the
  image in `docker_image` (or `image_name`). `eval_script` is built the way the SWE-rebench fork of
  the harness builds it (`harness/test_spec/python.py`): activate the image's conda env `testbed`,
  reinstall, reset the test files to `base_commit`, apply `test_patch`, run `test_cmd` on the test
  files the test patch touches between swebench's output markers, reset the test files again.
- **Classic rows** (the 12-field princeton-nlp mirrors, SWE-Gym) take the four fields from a
  swebench 5 dataset row of the same `instance_id` (`--fields-from`).
- **Rows of any shape** may take an install spec from a spec file (`--spec`): per repo and version,
  the test command and log parser, which then derive the rest as for SWE-rebench.

A row that already has all four fields is left as it is. Rows that none of these fill are refused,
listed in one line, by `derive_rows` when a source was given, else by pre-flight (eval.preflight).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from envs.types import TaskSourceError

SWEBENCH5_FIELDS = ("eval_script", "log_parser", "eval_type")
"""What swebench 5's make_test_spec needs beyond the classic rows (with `image`)."""
JOINED_FIELDS = ("image", "eval_script", "log_parser", "eval_type", "image_assets")
"""What --fields-from copies from the swebench 5 row (image_assets only where it has one)."""
REBENCH_IMAGE_FIELDS = ("docker_image", "image_name")
SWEBENCH_IMAGE = "swebench/sweb.eval.x86_64.{docker_id}:latest"
"""The public SWE-bench image of an instance (see docker_id)."""
CONDA_ACTIVATION = ("source /opt/miniconda3/bin/activate", "conda activate testbed")
"""How SWE-rebench (and SWE-bench) images put the env `testbed` on PATH."""
LOCALE = "LANG=C.UTF-8 LC_ALL=C.UTF-8"
"""The SWE-rebench harness runs install and test commands under this locale."""
HEREDOC = "EOF_SWE_SEARCH_TEST_PATCH"
SHOWN = 5
"""Rows named in a refusal; the rest are counted."""
FIELDS_HINT = (
    "pass --fields-from DATASET (a swebench 5 dataset with these instances, e.g. "
    "SWE-bench/SWE-bench_Verified) or --spec FILE (the test command and log parser per repo and "
    "version; docs/tasks.md)"
)


class InstallSpec(BaseModel):
    """How to test one repo at one version: a SWE-rebench `install_config`, or an entry of a spec file."""

    model_config = ConfigDict(extra="ignore")  # SWE-rebench's own keys (python, pip_packages, ...) pass

    test_cmd: str | list[str] = Field(
        description="The test command; the test files the test patch touches are appended to it. "
        "A list: the commands run in order, the last one between the output markers."
    )
    log_parser: str = Field(description="A swebench 5 log parser, e.g. parse_log_pytest.")
    install: str | None = Field(
        None,
        description="Run again before the tests (e.g. `pip install -e .`), as the SWE-rebench harness does.",
    )
    eval_commands: list[str] = Field(
        default_factory=list, description="Commands run first, in /testbed (environment variables, say)."
    )
    activate: list[str] = Field(
        default_factory=lambda: list(CONDA_ACTIVATION),
        description="How the eval script activates the image's environment (default: conda env testbed).",
    )
    image: str | None = Field(
        None,
        description="Spec files only: the image name, with {instance_id} and {docker_id} (the id with `__` "
        "written `_1776_`, lowercase) filled in; None: the row's own image field, else the SWE-bench name.",
    )

    @field_validator("test_cmd")
    @classmethod
    def _not_empty(cls, v: str | list[str]) -> str | list[str]:
        if not (v if isinstance(v, str) else [c for c in v if c.strip()]):
            raise ValueError("test_cmd is empty")
        return v


class SpecFile:
    """A spec file: `{repo: {version: InstallSpec}}`; version `"*"` matches any version of that repo."""

    def __init__(self, path: Path, specs: dict[str, dict[str, InstallSpec]]) -> None:
        self.path, self.specs = path, specs

    @classmethod
    def load(cls, path: str | Path) -> SpecFile:
        path = Path(path).expanduser()
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise TaskSourceError(f"--spec {path}: could not read it: {' '.join(str(e).split())}") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise TaskSourceError(
                f"--spec {path}: expected {{repo: {{version: {{test_cmd, log_parser}}}}}}, e.g. "
                "'owner/name: {\"1.0\": {test_cmd: pytest -rA, log_parser: parse_log_pytest}}'"
            )
        specs: dict[str, dict[str, InstallSpec]] = {}
        for repo, versions in data.items():
            for version, entry in versions.items():
                try:
                    specs.setdefault(str(repo), {})[str(version)] = InstallSpec.model_validate(entry)
                except ValidationError as e:
                    problem = "; ".join(
                        f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()
                    )
                    raise TaskSourceError(f"--spec {path}: {repo} {version}: {problem}") from None
        return cls(path, specs)

    def find(self, row: Mapping[str, Any]) -> InstallSpec | None:
        versions = self.specs.get(str(row.get("repo") or ""), {})
        return versions.get(str(row.get("version") or "")) or versions.get("*")


def needs_fields(row: Mapping[str, Any]) -> bool:
    """Whether a row lacks any of swebench 5's grading fields."""
    return not all(row.get(f) for f in SWEBENCH5_FIELDS)


def install_config(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """A SWE-rebench row's `install_config` as a dict (parquet exports may hold it as a JSON string)."""
    config = row.get("install_config")
    if isinstance(config, str) and config.strip():
        try:
            config = json.loads(config)
        except json.JSONDecodeError:
            return None
    return config if isinstance(config, dict) and config else None


def derive_rows(
    rows: list[dict[str, Any]],
    fields: Mapping[str, Mapping[str, Any]] | None = None,
    spec: SpecFile | None = None,
    fields_name: str = "the fields dataset",
) -> list[dict[str, Any]]:
    """Fill every row that lacks swebench 5's fields (see the module docstring); filled rows are copies.

    Order per row: its own `install_config`, then the `fields` row of its instance id, then `spec`.
    Rows nothing fills are returned as they are; `check_filled` refuses them.
    """
    out = []
    for row in rows:
        if isinstance(row, dict) and needs_fields(row):
            config = install_config(row)
            if config is not None:
                row = rebench_row(row, _install_spec(row, config))
            elif fields is not None and row.get("instance_id") in fields:
                row = joined_row(row, fields[row["instance_id"]], fields_name)
            elif spec is not None and (entry := spec.find(row)) is not None:
                row = rebench_row(row, entry, from_spec_file=True)
        out.append(row)
    return out


def check_filled(rows: list[Mapping[str, Any]], fields_name: str | None, spec: SpecFile | None) -> None:
    """Refuse, in one line, the rows that still lack swebench 5's fields after --fields-from / --spec."""
    unmatched = [r for r in rows if needs_fields(r)]
    if not unmatched or (fields_name is None and spec is None):
        return  # without a source, pre-flight refuses them (with a hint that names both flags)
    sources = [f"--fields-from {fields_name}"] if fields_name is not None else []
    sources += [f"--spec {spec.path}"] if spec is not None else []
    listed = ", ".join(_label(r) for r in unmatched[:SHOWN])
    more = f" and {len(unmatched) - SHOWN} more" if len(unmatched) > SHOWN else ""
    raise TaskSourceError(
        f"{len(unmatched)} selected row(s) have no swebench 5 fields (eval_script, log_parser, eval_type) "
        f"and {' or '.join(sources)} has nothing for them: {listed}{more}"
    )


def rebench_row(row: Mapping[str, Any], spec: InstallSpec, from_spec_file: bool = False) -> dict[str, Any]:
    """A row with an install spec (SWE-rebench's own, or a spec file's) as a swebench 5 instance."""
    instance = dict(row)
    instance_id = str(row.get("instance_id") or "")
    if not row.get("base_commit") or not row.get("test_patch"):
        missing = [k for k in ("base_commit", "test_patch") if not row.get(k)]
        raise TaskSourceError(
            f"{instance_id or 'a row'}: no {', '.join(missing)}, so no eval script can be built"
        )
    image = next((row[f] for f in ("image", *REBENCH_IMAGE_FIELDS) if row.get(f)), None)
    if spec.image:
        image = spec.image.format(instance_id=instance_id, docker_id=docker_id(instance_id))
    if not image and from_spec_file:
        image = SWEBENCH_IMAGE.format(docker_id=docker_id(instance_id))
    if not image:
        raise TaskSourceError(f"{instance_id}: a SWE-rebench row with no docker_image or image_name")
    instance.update(
        image=image,
        eval_script=eval_script(row["base_commit"], row["test_patch"], spec),
        log_parser=spec.log_parser,
        eval_type="pass_and_fail",
    )
    instance.setdefault("version", "")
    instance.setdefault("environment_setup_commit", row["base_commit"])
    return instance


def joined_row(
    row: Mapping[str, Any], v5: Mapping[str, Any], name: str = "the fields dataset"
) -> dict[str, Any]:
    """A classic row with image, eval_script, log_parser and eval_type from a swebench 5 row of its id."""
    missing = [f for f in ("image", *SWEBENCH5_FIELDS) if not v5.get(f)]
    if missing:
        raise TaskSourceError(
            f"{row.get('instance_id')}: its row in --fields-from {name} has no {', '.join(missing)} (not a swebench 5 dataset?)"
        )
    instance = dict(row)
    instance.update({f: v5[f] for f in JOINED_FIELDS if v5.get(f)})
    return instance


def eval_script(base_commit: str, test_patch: str, spec: InstallSpec) -> str:
    """The eval script of a row with an install spec, shaped as the SWE-rebench harness writes it.

    The last command before the end marker is the test command (swebench records its exit code
    there). Paths are shell-quoted; the test patch goes in through a here-document.
    """
    # swebench.harness's package import costs seconds (docker, reporting): only rows that need it pay
    from swebench.harness.constants import END_TEST_OUTPUT, NON_TEST_EXTS, START_TEST_OUTPUT

    if HEREDOC in test_patch:
        raise TaskSourceError(f"the test patch contains the here-document delimiter {HEREDOC}")
    touched = patch_files(test_patch)
    reset_files = [old for old, _ in touched if old]
    directives = [new for _, new in touched if new and not new.endswith(tuple(NON_TEST_EXTS))]
    reset = (
        f"git checkout {base_commit} -- {_join(reset_files)}" if reset_files else ": no test file to reset"
    )
    commands = [spec.test_cmd] if isinstance(spec.test_cmd, str) else [c for c in spec.test_cmd if c.strip()]
    *before, test_cmd = commands
    lines = [
        "#!/bin/bash",
        "set -uxo pipefail",
        *spec.activate,
        "cd /testbed",
        *spec.eval_commands,
        "git config --global --add safe.directory /testbed",
        "git status",
        "git show",
        f"git -c core.fileMode=false diff {base_commit}",
        *spec.activate,
        *([f"{LOCALE} {spec.install}"] if spec.install else []),
        reset,
        f"git apply -v - <<'{HEREDOC}'",
        test_patch.rstrip("\n"),
        HEREDOC,
        *(f"{LOCALE} {c}" for c in before),
        f": '{START_TEST_OUTPUT}'",
        " ".join([f"{LOCALE} {test_cmd}", *map(shlex.quote, directives)]),
        f": '{END_TEST_OUTPUT}'",
        reset,
    ]
    return "\n".join(lines) + "\n"


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_GIT_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)$")


def patch_files(patch: str) -> list[tuple[str | None, str | None]]:
    """(old path, new path) of every file a unified diff touches; None where the file is absent.

    Hunk lengths are counted, so a removed line that starts with `---` is not taken for a header.
    """
    files: list[list[str | None]] = []
    git_header = False  # the last `diff --git` still waits for its `---` line
    old_left = new_left = 0
    for line in patch.split("\n"):
        if old_left > 0 or new_left > 0:
            if line.startswith("-"):
                old_left -= 1
            elif line.startswith("+"):
                new_left -= 1
            elif not line.startswith("\\"):
                old_left, new_left = old_left - 1, new_left - 1
            continue
        if line.startswith("diff --git "):
            m = _GIT_HEADER.match(line)
            files.append([m[1], m[2]] if m else [None, None])
            git_header = True
        elif git_header and line.startswith("new file mode"):
            files[-1][0] = None
        elif git_header and line.startswith("deleted file mode"):
            files[-1][1] = None
        elif line.startswith("--- "):
            if git_header:
                files[-1][0] = _diff_path(line[4:], "a/")
            else:  # a plain unified diff, without git's header
                files.append([_diff_path(line[4:], "a/"), None])
            git_header = False
        elif line.startswith("+++ ") and files:
            files[-1][1] = _diff_path(line[4:], "b/")
        elif m := _HUNK.match(line):
            old_left = int(m[1]) if m[1] is not None else 1
            new_left = int(m[2]) if m[2] is not None else 1
    return [(old, new) for old, new in files]


def docker_id(instance_id: str) -> str:
    """An instance id as SWE-bench image names write it: `__` becomes `_1776_`, all lowercase."""
    return instance_id.replace("__", "_1776_").lower()


def _diff_path(text: str, prefix: str) -> str | None:
    path = text.split("\t", 1)[0].strip()
    if path == "/dev/null":
        return None
    if path.startswith('"') and path.endswith('"'):
        path = path[1:-1]
    return path[len(prefix) :] if path.startswith(prefix) else path


def _install_spec(row: Mapping[str, Any], config: dict[str, Any]) -> InstallSpec:
    try:
        return InstallSpec.model_validate({k: v for k, v in config.items() if v is not None and k != "image"})
    except ValidationError as e:
        problem = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise TaskSourceError(
            f"{_label(row)}: its install_config cannot derive an eval script ({problem})"
        ) from None


def _join(paths: list[str]) -> str:
    return " ".join(shlex.quote(p) for p in paths)


def _label(row: Mapping[str, Any]) -> str:
    return str(row.get("instance_id") or "a row without instance_id")
