"""Training data for the critic: our own graded runs, and the public nebius trajectories.

Our run folders (written by `swe-search run`):

    <run>/trajectories/<instance_id>/**/trajectory.json   one file per run of the agent
    <run>/grades/<instance_id>*.json                       grade JSON with `resolved: bool`

A trajectory is matched to its grade by, in order: (1) a grade whose file name contains the
trajectory's sub-folder name (e.g. `grades/<id>.run-3.json` for `trajectories/<id>/run-3/...`);
(2) a grade whose `patch`/`model_patch` equals the trajectory's patch; (3) the only grade of that
instance when the instance has only one trajectory. Unmatched trajectories are skipped (warned), and so
are damaged files (a trajectory or grade that is not readable JSON of the right shape), each named.
A trajectory JSON with its own boolean `resolved` field needs no grade file.

`nebius/SWE-agent-trajectories` rows (parquet or JSONL): `instance_id, model_name, target,
trajectory, exit_status, generated_patch, eval_logs`, where `trajectory` is a list (or a JSON string
of a list) of `{role, text, system_prompt, mask, cutoff_date}`; roles `system`, `user`, `ai`.
`target` is the resolved flag. `ai` becomes `assistant`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.types import Message
from critic.errors import CriticSetupError

log = logging.getLogger(__name__)

NEBIUS_ROLES = {
    "system": "system",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "human": "user",
}


class DataError(CriticSetupError):
    """A data source that cannot be read as critic training data."""


@dataclass
class Episode:
    """One graded trajectory: the chat messages and whether the run resolved its task."""

    instance_id: str
    messages: list[Message]
    resolved: bool
    source: str = ""

    @property
    def turns(self) -> int:
        return sum(m["role"] == "assistant" for m in self.messages)


# -- our run folders ------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    """A JSON file's value; DataError naming the file when it cannot be read or parsed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not readable JSON ({e})") from None


def _read_trajectory(path: Path) -> dict[str, Any]:
    """The trajectory as a dict, validated by agent's schema when it has a schema_version."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: a trajectory must be a JSON object, not {type(data).__name__}")
    if "schema_version" in data:
        from agent.trajectory import Trajectory

        try:
            traj = Trajectory.load(path)
        except (ValueError, ValidationError) as e:
            raise DataError(f"{path}: not a readable trajectory: {e}") from e
        return {**data, "messages": traj.messages, "instance_id": traj.instance_id, "patch": traj.patch}
    if not isinstance(data.get("messages"), list):
        raise DataError(f"{path}: no `messages` list")
    return data


def load_run_folder(run_dir: str | Path) -> list[Episode]:
    """Episodes from `<run>/trajectories/**/trajectory.json` and `<run>/grades/*.json`."""
    run_dir = Path(run_dir)
    traj_root, grade_root = run_dir / "trajectories", run_dir / "grades"
    if not traj_root.is_dir():
        raise DataError(f"{run_dir} has no trajectories/ folder")
    grades: dict[str, list[tuple[str, dict]]] = {}
    for g in sorted(grade_root.glob("**/*.json")) if grade_root.is_dir() else []:
        try:
            data = _read_json(g)
        except DataError as e:
            log.warning("%s; skipped", e)
            continue
        if not isinstance(data, dict):
            log.warning("%s: a grade must be a JSON object; skipped", g)
            continue
        iid = data.get("instance_id") or g.stem.split(".")[0]
        grades.setdefault(iid, []).append((str(g.relative_to(grade_root)), data))
    paths = sorted(traj_root.glob("*/**/trajectory.json"))
    per_instance: dict[str, int] = {}
    for p in paths:
        per_instance[p.relative_to(traj_root).parts[0]] = (
            per_instance.get(p.relative_to(traj_root).parts[0], 0) + 1
        )
    episodes = []
    for p in paths:
        rel = p.relative_to(traj_root)
        try:
            data = _read_trajectory(p)
        except DataError as e:  # one damaged file costs one episode, as an ungraded one does
            log.warning("%s; skipped", e)
            continue
        iid = data.get("instance_id") or rel.parts[0]
        resolved = data.get("resolved")
        if not isinstance(resolved, bool):
            grade = _match_grade(rel, data, grades.get(iid, []), per_instance[rel.parts[0]])
            if grade is None:
                log.warning("no grade for %s; skipped", p)
                continue
            resolved = bool(grade.get("resolved"))
        episodes.append(Episode(iid, list(data["messages"]), resolved, source=str(p)))
    return episodes


def _match_grade(rel: Path, traj: dict, grades: list[tuple[str, dict]], n_trajs: int) -> dict | None:
    subs = [s for s in rel.parts[1:-1] if s]
    for name, g in grades:
        if subs and any(s in name for s in subs):
            return g
    patch = traj.get("patch")
    for _, g in grades:
        if patch and patch == (g.get("patch") or g.get("model_patch")):
            return g
    if n_trajs == 1 and len(grades) == 1:
        return grades[0][1]
    return None


# -- nebius/SWE-agent-trajectories ------------------------------------------------------------------


def nebius_row_to_episode(row: dict[str, Any], source: str = "") -> Episode:
    """One nebius row -> Episode (roles mapped, system prompt prepended when only given per turn)."""
    turns = row.get("trajectory")
    if isinstance(turns, str):
        turns = json.loads(turns)
    if not isinstance(turns, list) or not turns:
        raise DataError(f"row {row.get('instance_id')!r}: `trajectory` must be a non-empty list")
    messages: list[Message] = []
    for i, turn in enumerate(turns):
        role = NEBIUS_ROLES.get(str(turn.get("role", "")).lower())
        if role is None:
            raise DataError(f"row {row.get('instance_id')!r}: turn {i} has unknown role {turn.get('role')!r}")
        messages.append({"role": role, "content": str(turn.get("text") or "")})
    system_prompt = turns[0].get("system_prompt")
    if messages[0]["role"] != "system" and system_prompt:
        messages.insert(0, {"role": "system", "content": str(system_prompt)})
    return Episode(str(row.get("instance_id", "")), messages, bool(row.get("target")), source=source)


def load_nebius(path: str | Path, limit: int | None = None) -> list[Episode]:
    """Episodes from a local parquet or JSONL export of nebius/SWE-agent-trajectories."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    elif path.suffix in (".jsonl", ".json"):
        with path.open(encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    else:
        raise DataError(f"{path}: expected a .parquet or .jsonl file")
    rows = rows[:limit] if limit is not None else rows
    return [nebius_row_to_episode(r, source=f"{path}:{i}") for i, r in enumerate(rows)]
