"""Which format a `--data` source is, and its Episodes: the one entry point of critic training data.

| format | a source is | module |
|---|---|---|
| `run_folder` | a folder with `trajectories/` (written by `swe-search run` or `eval`) | critic.data.runs |
| `mini_swe_agent` | a folder with `preds.json` or `<id>/<id>.traj.json` | critic.data.mini_swe_agent |
| `nebius` | a .parquet/.jsonl/.json whose rows have `trajectory` | critic.data.runs |
| `openai_messages` | a .parquet/.jsonl/.json whose rows have `messages` | critic.data.chat |
| `responses` | a .parquet/.jsonl/.json whose rows have `response` (or `output`) | critic.data.responses |

A file's format is read from its first row (a parquet file's from its columns), so a file holds one
format. `critic train` records each source's format in the checkpoint's metrics.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from critic.data.chat import load_chat_jsonl
from critic.data.mini_swe_agent import is_mini_folder, load_mini_folder
from critic.data.responses import load_responses
from critic.data.runs import DataError, Episode, load_nebius, load_run_folder

FILE_SUFFIXES = (".parquet", ".jsonl", ".json")
LOADERS: dict[str, Callable[..., list[Episode]]] = {
    "run_folder": lambda path, limit: load_run_folder(path),
    "mini_swe_agent": load_mini_folder,
    "nebius": load_nebius,
    "openai_messages": load_chat_jsonl,
    "responses": load_responses,
}
ROW_KEYS = (
    ("trajectory", "nebius"),
    ("messages", "openai_messages"),
    ("response", "responses"),
    ("output", "responses"),
)
"""The key of a file's first row that names its format, in this order."""


def detect_format(source: str | Path) -> str:
    """The format of a `--data` source (see the module docstring); DataError when none fits."""
    path = Path(source)
    if path.is_dir():
        if (path / "trajectories").is_dir():
            return "run_folder"
        if is_mini_folder(path):
            return "mini_swe_agent"
        raise DataError(
            f"{source}: a folder that is neither a swe-search run folder (trajectories/) nor a "
            "mini-swe-agent run folder (preds.json, <id>/<id>.traj.json)"
        )
    if not path.is_file():
        raise DataError(f"{source}: no such run folder or file")
    if path.suffix not in FILE_SUFFIXES:
        raise DataError(f"{source}: expected a run folder or a {'/'.join(FILE_SUFFIXES)} file")
    keys = _first_row_keys(path)
    for key, name in ROW_KEYS:
        if key in keys:
            return name
    raise DataError(
        f"{source}: rows with none of trajectory (nebius), messages (OpenAI chat), response/output "
        f"(Responses API); its first row has {', '.join(sorted(keys)[:8]) or 'no keys'}"
    )


def load_sources(sources: list[str | Path], limit: int | None = None) -> list[Episode]:
    """Episodes from each source, whatever its format; episodes without an agent turn are dropped."""
    episodes: list[Episode] = []
    for src in sources:
        episodes += LOADERS[detect_format(src)](Path(src), limit)
    episodes = [e for e in episodes if e.turns > 0]
    return episodes[:limit] if limit is not None else episodes


def source_formats(sources: list[str | Path]) -> dict[str, str]:
    """{source: format} (what metrics.json records)."""
    return {str(src): detect_format(src) for src in sources}


def _first_row_keys(path: Path) -> set[str]:
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return set(pq.read_schema(path).names)
        with path.open(encoding="utf-8") as f:
            if path.suffix == ".json":
                data = json.load(f)
                row = data[0] if isinstance(data, list) and data else data
            else:
                row = json.loads(next((line for line in f if line.strip()), "{}"))
    except (OSError, ValueError, IndexError) as e:
        raise DataError(f"{path}: could not read it: {' '.join(str(e).split())[:200]}") from None
    return set(row) if isinstance(row, dict) else set()
