"""mini-swe-agent run folders -> Episodes.

mini-swe-agent's SWE-bench runner writes, per run folder:

    <dir>/preds.json              {instance_id: {model_name_or_path, instance_id, model_patch}}
    <dir>/<id>/<id>.traj.json     {info: {exit_status, submission, ...}, messages: [...], trajectory_format}

The messages are OpenAI chat messages: text actions (```` ```bash ```` blocks) in v1, `tool_calls`
and `tool` results with a toolcall model (critic.data.chat renders both the same way). The labels
come from the grading, which must lie in the folder (or below it), any of:
- swebench's summary report (`<model>.<run_id>.json` from `swebench.harness.run_evaluation`):
  `resolved_ids` are resolved; `unresolved_ids`, `empty_patch_ids` and `completed_ids` not in
  `resolved_ids` are not; `error_ids` are unknown;
- swebench's per-instance `report.json` files (`logs/run_evaluation/<run>/<model>/<id>/report.json`,
  `{id: {resolved}}`);
- our grades (`swe-search eval --predictions <dir>/preds.json --dataset ... --out <dir>/eval` writes
  `eval/grades/<id>.json` with `resolved`).
An instance whose `preds.json` patch is empty is unresolved without a grade (there is nothing to
test). Trajectories with no label are skipped with a warning; a folder with none is a DataError.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from critic.data.chat import chat_to_messages
from critic.data.runs import DataError, Episode

log = logging.getLogger(__name__)


def is_mini_folder(path: Path) -> bool:
    return (path / "preds.json").is_file() or any(path.glob("*/*.traj.json"))


def read_labels(folder: Path) -> dict[str, bool]:
    """instance id -> resolved, from every grading result found in the folder (see the docstring)."""
    labels: dict[str, bool] = {}
    for path in sorted(folder.rglob("*.json")):
        if path.name == "preds.json" or path.name.endswith(".traj.json"):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a grading result
        if not isinstance(data, dict):
            continue
        if isinstance(data.get("resolved_ids"), list):  # swebench's summary report
            resolved = {str(i) for i in data["resolved_ids"]}
            for key in ("completed_ids", "unresolved_ids", "empty_patch_ids"):
                for iid in data.get(key) or []:
                    labels.setdefault(str(iid), str(iid) in resolved)
            labels.update(dict.fromkeys(resolved, True))
        elif path.parent.name == "grades" and isinstance(data.get("resolved"), bool):  # ours
            labels[str(data.get("instance_id") or path.stem.split(".")[0])] = data["resolved"]
        elif path.name == "report.json" and isinstance(data.get(path.parent.name), dict):
            report = data[path.parent.name]  # swebench's per-instance report, in a folder named by the id
            if isinstance(report.get("resolved"), bool):
                labels[path.parent.name] = report["resolved"]
    return labels


def load_mini_folder(folder: str | Path, limit: int | None = None) -> list[Episode]:
    """Episodes of a mini-swe-agent run folder, labelled by the grading in it."""
    folder = Path(folder)
    labels = read_labels(folder)
    preds = _json(folder / "preds.json") if (folder / "preds.json").is_file() else {}
    if isinstance(preds, list):  # a list of predictions, as swebench also reads
        preds = {str(p.get("instance_id")): p for p in preds if isinstance(p, dict)}
    for iid, pred in preds.items() if isinstance(preds, dict) else ():
        if isinstance(pred, dict) and not str(pred.get("model_patch") or "").strip():
            labels.setdefault(str(iid), False)
    paths = sorted(folder.glob("*/*.traj.json"))
    if not paths:
        raise DataError(f"{folder}: no <id>/<id>.traj.json trajectories (a mini-swe-agent run folder?)")
    episodes, unlabelled = [], []
    for path in paths[:limit]:
        data = _json(path)
        if not isinstance(data, dict):
            raise DataError(f"{path}: not a mini-swe-agent trajectory (no object)")
        iid = str(data.get("instance_id") or path.name.removesuffix(".traj.json"))
        if iid not in labels:
            unlabelled.append(iid)
            continue
        messages = chat_to_messages(data.get("messages"), str(path))
        episodes.append(Episode(iid, messages, labels[iid], source=str(path)))
    if unlabelled and not episodes:
        raise DataError(
            f"{folder}: no grading result for its {len(unlabelled)} trajectories; put swebench's report "
            f"(resolved_ids) in it, or grade it: swe-search eval --predictions {folder / 'preds.json'} "
            f"--dataset DATASET --out {folder / 'eval'}"
        )
    if unlabelled:
        log.warning(
            "%s: no grade for %d trajectories (%s); skipped",
            folder,
            len(unlabelled),
            ", ".join(unlabelled[:5]),
        )
    return episodes


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not readable JSON ({' '.join(str(e).split())[:200]})") from None
