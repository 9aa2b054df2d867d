"""Task sources: SWE-bench rows (HF dataset or local file) and swebench task repos -> `Task`.

`load_tasks(dataset, ...)` accepts:
- an alias (`verified`, `lite`, `full`) or a Hugging Face dataset id, loaded with `datasets`;
- a local `.json` (a list of rows), `.jsonl` or `.parquet` file of SWE-bench rows;
- a swebench 5 task repo folder (`tasks/<id>/{task.yaml, ..., Dockerfile}`), e.g. `examples/tasks`.

Rows without swebench 5's grading fields are filled by envs.rows: SWE-rebench rows from their
`install_config`, classic rows from the `fields_from` dataset's row of the same id, others from a
`spec` file (docs/tasks.md); with either source given, selected rows left unfilled are refused.

Filters apply in this order: `filter` (regex searched in the instance id), `instances` (exact ids),
`shuffle_seed` (shuffle), `slice` ("start:stop[:step]").

Both are untrusted input (a task repo is often someone else's download):
- an instance id names folders and files of a run (`instances/<id>/`, `grades/<id>.json`, ...), so
  every id of every source passes `check_instance_id` where it is loaded: one that could not be a
  single file name is refused (TaskSourceError), never rewritten;
- a task folder whose files (or the folder itself) link outside it is refused before anything reads
  them (`check_task_folder`): its files reach the model's prompt and Docker's build context.
"""

from __future__ import annotations

import json
import os
import random
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from envs.rows import SWEBENCH_IMAGE, SpecFile, check_filled, derive_rows, docker_id
from envs.types import Task, TaskSourceError

ALIASES = {
    "verified": "SWE-bench/SWE-bench_Verified",
    "lite": "SWE-bench/SWE-bench_Lite",
    "full": "SWE-bench/SWE-bench",
}
FILE_SUFFIXES = (".json", ".jsonl", ".parquet")
IMAGE_FIELDS = ("image", "image_name", "docker_image")
REQUIRED_FIELDS = ("instance_id", "problem_statement")
STRING_FIELDS = ("problem_statement", "base_commit", "repo", "workdir")
IMAGE_NAME = re.compile(
    r"(?=.{1,255}$)(?:[A-Za-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
"""A Docker image reference, as the daemon accepts it (checked at load: a bad one is one line, not an API error)."""
MAX_ID_BYTES = 200
"""The longest instance id, in UTF-8 bytes: a file name may hold 255, and the run folder adds
suffixes such as `.run-12.json` and `.tmp` to it."""


def check_instance_id(value: object, where: str = "row") -> str:
    """`value` if it can be used as one file name in a run folder; else TaskSourceError, one line.

    Refused: a non-string, "", "." and "..", path separators (/ and \\), NUL and other control
    characters, lone surrogates, and more than MAX_ID_BYTES bytes of UTF-8. Every task source and
    predictions file calls this once, so each path built from an id stays inside the run folder.
    """
    shown = repr(value)[:80]
    if not isinstance(value, str):
        raise TaskSourceError(f"{where}: instance_id {shown} is not a string")
    why = None
    if value in ("", ".", ".."):
        why = "is not a file name"
    elif "/" in value or "\\" in value:
        why = "contains a path separator"
    elif any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        why = "contains a control character or a lone surrogate"
    elif len(value.encode("utf-8")) > MAX_ID_BYTES:
        why = f"is longer than {MAX_ID_BYTES} bytes"
    if why:
        raise TaskSourceError(
            f"{where}: instance_id {shown} {why}; an id names files of the run folder, so it must be "
            f"one file name (no / or \\, no control characters, at most {MAX_ID_BYTES} bytes)"
        )
    return value


def check_task_folder(task_dir: Path) -> None:
    """Refuse a task folder that is, or holds, a link resolving outside itself (TaskSourceError).

    Everything in the folder may be read: task.yaml, the patches, eval.sh, tests.json, the problem
    statement (which goes to the model), decoys, repo/, and the whole folder as Docker's build context.
    """
    root = task_dir.resolve()
    tasks = task_dir.parent.resolve()
    if root.parent != tasks:
        raise TaskSourceError(f"task folder {task_dir} links outside {tasks} (to {root}); refused")
    for folder, dirs, files in os.walk(task_dir):  # links are not followed, only checked
        for name in (*dirs, *files):
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise TaskSourceError(
                    f"task {task_dir.name}: {path.relative_to(task_dir)} links outside its task folder "
                    f"(to {path.resolve()}); refused: a task may only read its own files"
                )


def load_tasks(
    dataset: str | Path,
    instances: list[str] | None = None,
    slice: str | None = None,  # noqa: A002 - the CLI's name for it
    filter: str | None = None,  # noqa: A002
    shuffle_seed: int | None = None,
    split: str = "test",
    fields_from: str | None = None,
    spec: str | Path | None = None,
) -> list[Task]:
    """Load tasks from a dataset (see the module docstring), fill their fields, apply the filters."""
    raw = _dataset_rows(str(dataset), split)
    spec_file = SpecFile.load(spec) if spec else None
    filled = derive_rows(
        [row for _, row in raw], _fields_index(fields_from, split), spec_file, fields_from or ""
    )
    tasks = [row_to_task(row, where) for (where, _), row in zip(raw, filled, strict=True)]
    if filter:
        try:
            pattern = re.compile(filter)
        except re.error as e:
            raise TaskSourceError(f"--filter {filter!r} is not a valid regular expression: {e}") from None
        tasks = [t for t in tasks if pattern.search(t.instance_id)]
    if instances:
        by_id = {t.instance_id: t for t in tasks}
        missing = [i for i in instances if i not in by_id]
        if missing:
            raise TaskSourceError(f"not in {dataset}: {', '.join(missing)}")
        tasks = [by_id[i] for i in instances]
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(tasks)
    if slice:
        tasks = tasks[parse_slice(slice)]
    check_filled([t.instance for t in tasks], fields_from, spec_file)
    return tasks


def row_to_task(row: dict[str, Any], where: str = "row") -> Task:
    """One SWE-bench row or task-repo instance as a Task; a missing field raises TaskSourceError."""
    if not isinstance(row, dict):
        raise TaskSourceError(f"{where}: expected an object with SWE-bench fields, got {type(row).__name__}")
    for key in REQUIRED_FIELDS:
        if not row.get(key):
            name = row.get("instance_id") or where
            raise TaskSourceError(f"{name}: malformed row, the required field {key!r} is missing or empty")
    check_instance_id(row["instance_id"], where)
    for key in (*STRING_FIELDS, *IMAGE_FIELDS):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise TaskSourceError(f"{where}: field {key!r} must be a string, not {type(row[key]).__name__}")
    instance = dict(row)
    build_context = instance.pop("_task_dir", None)
    image = next((instance[f] for f in IMAGE_FIELDS if instance.get(f)), None) or swebench_image(
        instance["instance_id"]
    )
    instance.setdefault("image", image)
    if not IMAGE_NAME.fullmatch(image):
        raise TaskSourceError(
            f"{where}: image {image[:100]!r} is not a Docker image name (lowercase [host/]path[:tag][@digest])"
        )
    return Task(
        instance_id=instance["instance_id"],
        problem_statement=instance["problem_statement"],
        image=image,
        instance=instance,
        workdir=instance.get("workdir") or "/testbed",
        base_commit=instance.get("base_commit") or None,
        repo=instance.get("repo") or "",
        build_context=build_context,
    )


def swebench_image(instance_id: str) -> str:
    """The public SWE-bench image of an instance: `__` becomes `_1776_`, all lowercase."""
    return SWEBENCH_IMAGE.format(docker_id=docker_id(instance_id))


def _fields_index(fields_from: str | None, split: str) -> dict[str, dict[str, Any]] | None:
    """The rows of the --fields-from dataset by instance id (None: no such dataset)."""
    if not fields_from:
        return None
    return {
        str(row.get("instance_id")): row
        for _, row in _dataset_rows(fields_from, split)
        if isinstance(row, dict)
    }


def parse_slice(text: str) -> slice:
    """'0:10' -> slice(0, 10); '5:' and ':3' and '::2' work as in Python."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 3:
        raise TaskSourceError(f"bad slice {text!r}; write start:stop[:step], e.g. 0:10")
    try:
        values = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise TaskSourceError(f"bad slice {text!r}; write start:stop[:step], e.g. 0:10") from None
    if len(values) == 1:  # "5" means the first five
        return slice(None, values[0])
    return slice(*values)


def _dataset_rows(dataset: str, split: str) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) pairs from any supported source."""
    path = Path(dataset).expanduser()
    if path.is_dir():
        return _task_repo_rows(path)
    if dataset.endswith(FILE_SUFFIXES) or path.exists() or dataset.startswith((".", "/", "~")):
        if not path.is_file():
            raise TaskSourceError(f"dataset file {dataset} does not exist")
        return _file_rows(path)
    name = ALIASES.get(dataset.lower(), dataset)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        raise TaskSourceError(
            f"unknown dataset {dataset!r}: pass one of {', '.join(ALIASES)}, a Hugging Face id "
            "(owner/name), a .json/.jsonl/.parquet file, or a task-repo folder"
        )
    return _hub_rows(name, split)


def _task_repo_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    from swebench.task import repo

    try:
        dirs = repo.task_dirs(path)
    except FileNotFoundError as e:
        raise TaskSourceError(f"{path} is neither a task repo (no tasks/ folder) nor a data file") from e
    rows = []
    for task_dir in dirs:
        check_task_folder(task_dir)
        try:
            instance = repo.load_task(task_dir)
        except (
            OSError,
            ValueError,
            TypeError,
            AttributeError,
            yaml.YAMLError,
        ) as e:  # task.yaml not a mapping, ...
            why = " ".join(str(e).split())[:300] or type(e).__name__
            raise TaskSourceError(f"task {task_dir.name} in {path} is malformed: {why}") from None
        instance.setdefault("instance_id", task_dir.name)
        instance["_task_dir"] = str(task_dir.resolve())
        rows.append((str(task_dir), instance))
    return rows


def _file_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        elif path.suffix == ".jsonl":
            return [(f"{path} line {number}", row) for number, row in read_jsonl(path)]
        else:
            data = json.loads(path.read_text())
            rows = data if isinstance(data, list) else [data]
    except (OSError, ValueError) as e:
        raise TaskSourceError(f"could not read {path}: {e}") from e
    return [(f"{path} row {i}", row) for i, row in enumerate(rows)]


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(line number, value) for each non-blank line of a JSON Lines file; numbers are 1-based.

    Lines end only at "\\n" (not at every character `str.splitlines` breaks on, such as a raw
    U+2028 inside a string), so the numbers are the file's. A bad line raises ValueError naming it.
    """
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as e:
            raise ValueError(f"line {number}: not valid JSON ({e.msg} at column {e.colno})") from None
    return rows


def _hub_rows(name: str, split: str) -> list[tuple[str, dict[str, Any]]]:
    import datasets

    try:
        rows = datasets.load_dataset(name, split=split)
    except Exception as e:  # noqa: BLE001 - datasets raises many kinds; report them as one
        raise TaskSourceError(
            f"could not load {name} (split {split}) from Hugging Face: {e}. "
            "Offline, pass a local .jsonl or .parquet file of its rows."
        ) from e
    return [(f"{name} row {i}", dict(row)) for i, row in enumerate(rows)]
