"""What the inspector reads, file by file and only when a page asks for it.

The loaders read the JSON files a run writes (their formats: agent/trajectory.py, eval's records,
report and experiment report) and nothing else, so the inspector never imports the runner and
never writes: a run that is still going is read as it stands.

    <run>/instances/<id>/done.json             an instance's outcome (light: the overview reads these)
    <run>/trajectories/<id>/[run-<i>/]trajectory.json
    <run>/trajectories/<id>/selection.json     the pick, its rule and reason (select strategies)
    <run>/grades/<id>.json                     every run's grade with swebench's tests_status
    <run>/config.yaml, report.json             the run's config and report (when written)
    <exp>/experiment.json, plots/              an experiment; its pools are run folders under seed-S/

The overview needs each chosen run's tokens and wall time, which only its trajectory holds. A
trajectory file can be megabytes, but `stats` and `final_q` are its last keys (Trajectory's field
order), so `trajectory_tail` reads only its last few KB; it falls back to the whole file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from search.select import is_preferred, rank_key

TAIL_BYTES = 8192
FOLD_LINES = 25
FOLD_CHARS = 2500


class InspectError(ValueError):
    """The path cannot be inspected (missing, or neither a run, a folder of runs nor an experiment)."""


def read_json(path: Path) -> Any:
    """A JSON file's content, or None when it is absent or unreadable (a run may be writing around us)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_record(path: Path) -> dict[str, Any] | None:
    """A record of the run folder (done.json, selection.json, a grade): a JSON object whose `runs`, if
    any, is a list of objects; None when absent, unreadable or of another shape (a damaged file reads
    like one not yet written, as `swe-search report` counts it)."""
    data = read_json(path)
    if not isinstance(data, dict):
        return None
    runs = data.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        return None
    return data


# ----------------------------------------------------------------------------- what a folder is


def is_run_folder(path: Path) -> bool:
    return any((path / name).exists() for name in ("instances", "trajectories", "run.json"))


def is_experiment(path: Path) -> bool:
    return (path / "experiment.json").is_file() or any(path.glob("seed-*/evaluate"))


def kind_of(path: Path) -> str:
    """'experiment', 'run' or 'runs' (a folder holding run folders); InspectError otherwise."""
    if not path.is_dir():
        raise InspectError(f"{path}: no such folder")
    if is_experiment(path):
        return "experiment"
    if is_run_folder(path):
        return "run"
    if run_folders(path):
        return "runs"
    raise InspectError(
        f"{path}: neither a run folder (instances/, trajectories/), a folder of runs nor an experiment "
        "(experiment.json); pass the --out of `swe-search run` or `swe-search experiment`"
    )


def run_folders(root: Path, depth: int = 4) -> list[str]:
    """Every run folder under `root` (up to `depth` levels), as paths relative to it, sorted."""
    found: list[str] = []

    def walk(folder: Path, level: int) -> None:
        if is_run_folder(folder):
            found.append(folder.relative_to(root).as_posix())
            return
        if level >= depth:
            return
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            walk(child, level + 1)

    walk(root, 0)
    return [f for f in found if f != "."] or (["."] if found else [])


# ----------------------------------------------------------------------------- trajectories


def trajectory_tail(path: Path) -> dict[str, Any] | None:
    """`final_q` and `stats` of a trajectory file, read from its end; None when it cannot be read."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    at = tail.rfind('\n "final_q": ')
    data = None
    if at >= 0:
        with contextlib.suppress(ValueError):  # the tail cut a value short: read the whole file
            data = json.loads("{" + tail[at + 1 :])
    if data is None:
        data = read_json(path)
    if not isinstance(data, dict):
        return None
    stats, final_q = data.get("stats"), data.get("final_q")
    return {
        "final_q": final_q if isinstance(final_q, int | float) and not isinstance(final_q, bool) else None,
        "stats": stats if isinstance(stats, dict) else {},
    }


def trajectory_paths(run: Path, instance_id: str) -> dict[int, Path]:
    """The trajectory files of an instance by run index (a single run is index 0)."""
    folder = run / "trajectories" / instance_id
    paths = {}
    if (folder / "trajectory.json").is_file():
        paths[0] = folder / "trajectory.json"
    for p in folder.glob("run-*/trajectory.json"):
        try:
            paths[int(p.parent.name.removeprefix("run-"))] = p
        except ValueError:
            continue
    return dict(sorted(paths.items()))


def tokens(stats: dict[str, Any]) -> int:
    return int(stats.get("prompt_tokens", 0) or 0) + int(stats.get("completion_tokens", 0) or 0)


# ----------------------------------------------------------------------------- a run folder


@dataclass
class InstanceRow:
    """One line of the overview."""

    instance_id: str
    status: str
    """ok | timeout | error (from done.json), or running (no done.json yet)."""
    grade: str = "-"
    resolved: bool = False
    exit_status: str = "-"
    chosen: int | None = None
    runs: int = 0
    resolved_runs: int = 0
    final_q: float | None = None
    steps: int = 0
    tokens: int | None = None
    cost: float = 0.0
    wall: float | None = None
    error_kind: str | None = None
    error: str | None = None

    @property
    def infra(self) -> bool:
        return self.status == "error"


@dataclass
class RunFolder:
    """A run folder, read on demand."""

    path: Path
    rel: str = "."
    _config: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            try:
                self._config = yaml.safe_load((self.path / "config.yaml").read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                self._config = {}
        return self._config

    @property
    def strategy(self) -> str:
        search = self.config.get("search") or {}
        return str(search.get("strategy") or ("eval" if self.config.get("mode") == "eval" else "greedy"))

    def report(self) -> dict[str, Any] | None:
        data = read_json(self.path / "report.json")
        return data if isinstance(data, dict) else None

    def instance_ids(self) -> list[str]:
        """Finished instances and those whose trajectories have started landing."""
        ids = {p.parent.name for p in (self.path / "instances").glob("*/done.json")}
        traj = self.path / "trajectories"
        if traj.is_dir():
            ids.update(p.name for p in traj.iterdir() if p.is_dir())
        return sorted(ids)

    def done(self, instance_id: str) -> dict[str, Any] | None:
        return read_record(self.path / "instances" / instance_id / "done.json")

    def row(self, instance_id: str) -> InstanceRow:
        rec = self.done(instance_id)
        if rec is None:  # still running: what has landed
            paths = trajectory_paths(self.path, instance_id)
            tails = [t for p in paths.values() if (t := trajectory_tail(p))]
            stats = [t.get("stats") or {} for t in tails]
            return InstanceRow(
                instance_id=instance_id,
                status="running",
                runs=len(paths),
                steps=sum(int(s.get("steps", 0) or 0) for s in stats),
                tokens=sum(tokens(s) for s in stats),
                cost=sum(float(s.get("cost", 0.0) or 0.0) for s in stats),
            )
        runs = rec.get("runs") or []
        chosen = rec.get("chosen")
        pick = runs[chosen] if isinstance(chosen, int) and 0 <= chosen < len(runs) else None
        row = InstanceRow(
            instance_id=instance_id,
            status=rec.get("status", "ok"),
            grade=rec.get("grade_status", "-"),
            resolved=bool(rec.get("resolved")),
            exit_status=rec.get("exit_status", "-"),
            chosen=chosen,
            runs=len(runs),
            resolved_runs=sum(bool(r.get("resolved")) for r in runs),
            final_q=pick.get("final_q") if pick else None,
            steps=int(pick.get("steps", 0)) if pick else 0,
            cost=float(rec.get("cost", 0.0) or 0.0),
            wall=float(rec.get("duration", 0.0) or 0.0),
            error_kind=rec.get("error_kind"),
            error=rec.get("error"),
        )
        if pick and pick.get("trajectory"):
            tail = trajectory_tail(self.path / pick["trajectory"])
            if tail:
                row.tokens = tokens(tail.get("stats") or {})
        return row

    def rows(self) -> list[InstanceRow]:
        return [self.row(i) for i in self.instance_ids()]

    def grades(self, instance_id: str) -> dict[str, Any]:
        return read_record(self.path / "grades" / f"{instance_id}.json") or {}

    def selection(self, instance_id: str) -> dict[str, Any] | None:
        return read_record(self.path / "trajectories" / instance_id / "selection.json")

    def instance(self, instance_id: str) -> dict[str, Any]:
        """An instance's runs side by side with the selection's pick, its rule and ranking, the oracle."""
        rec = self.done(instance_id) or {}
        sel = self.selection(instance_id) or {}
        grades = {g.get("index"): g for g in self.grades(instance_id).get("runs") or []}
        paths = trajectory_paths(self.path, instance_id)
        rule = sel.get("rule") or (self.config.get("search") or {}).get("rule") or "final_q"
        recs = {r.get("index"): r for r in rec.get("runs") or []}
        sels = {r.get("index"): r for r in sel.get("runs") or []}
        runs = []
        for index in sorted(set(paths) | set(recs) | set(sels)):
            r, s, g = recs.get(index) or {}, sels.get(index) or {}, grades.get(index) or {}
            tail = trajectory_tail(paths[index]) if index in paths else None
            stats = (tail or {}).get("stats") or {}
            submitted = bool(r.get("submitted", s.get("submitted", False)))
            patch_empty = bool(r.get("patch_empty", s.get("patch_empty", True)))
            final_q = _first(r.get("final_q"), s.get("final_q"), (tail or {}).get("final_q"))
            runs.append(
                {
                    "index": index,
                    "exists": index in paths,
                    "exit_status": r.get("exit_status") or s.get("status") or "running",
                    "steps": r.get("steps", stats.get("steps", 0)),
                    "tokens": tokens(stats) if stats else None,
                    "cost": r.get("cost", stats.get("cost", 0.0)),
                    "wall": stats.get("wall_time"),
                    "final_q": final_q,
                    "mean_q": _first(r.get("mean_q"), s.get("mean_q")),
                    "submitted": submitted,
                    "patch_empty": patch_empty,
                    "preferred": is_preferred(submitted, patch_empty) and not s.get("error"),
                    "grade": g.get("status") or r.get("grade_status") or "not_graded",
                    "resolved": bool(g.get("resolved", r.get("resolved", False))),
                    "message": g.get("message"),
                    "failure": r.get("failure") or s.get("error"),
                }
            )
        by = rule if rule in ("final_q", "mean_q") else "final_q"  # the random rule draws: rank by final Q
        ranked = sorted(
            runs, key=lambda x: rank_key(_Ranked(x["preferred"], x["final_q"], x["mean_q"]), x["index"], by)
        )
        for place, run in enumerate(reversed(ranked), start=1):
            run["rank"] = place
        chosen = rec.get("chosen", sel.get("chosen"))
        resolving = [r["index"] for r in runs if r["resolved"]]
        pick_resolved = any(r["resolved"] for r in runs if r["index"] == chosen)
        return {
            "instance_id": instance_id,
            "record": rec,
            "finished": bool(rec),
            "selection": sel or None,
            "rule": rule,
            "chosen": chosen,
            "runs": runs,
            "oracle": resolving,
            "wrong_pick": bool(resolving) and chosen is not None and not pick_resolved,
        }

    def trajectory(self, instance_id: str, index: int) -> dict[str, Any] | None:
        path = trajectory_paths(self.path, instance_id).get(index)
        data = read_json(path) if path else None
        return data if isinstance(data, dict) else None

    def grade(self, instance_id: str, index: int) -> dict[str, Any] | None:
        """One run's grade entry (with swebench's report), when graded."""
        one = read_json(self.path / "grades" / f"{instance_id}.run-{index}.json")
        if isinstance(one, dict):
            return one
        for g in self.grades(instance_id).get("runs") or []:
            if g.get("index") == index:
                return g
        return None


@dataclass
class _Ranked:
    preferred: bool
    final_q: float | None
    mean_q: float | None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


# ----------------------------------------------------------------------------- one run's page


def fold(text: str, lines: int = FOLD_LINES) -> bool:
    """Whether a text is long enough to show folded."""
    return len(text) > FOLD_CHARS or text.count("\n") > lines


def headline(text: str, width: int = 120) -> str:
    """The first line of a text, cut to `width`, with an ellipsis when anything was left out."""
    first = text.split("\n", 1)[0]
    cut = first[:width]
    return cut + (" …" if len(cut) < len(text) else "")


def q_range(steps: list[dict[str, Any]]) -> tuple[float, float]:
    """The span the Q bars and the plot are drawn over: [0, 1] widened to every Q of the run."""
    qs = [c["q"] for s in steps for c in s.get("candidates") or [] if _real(c.get("q"))]
    lo, hi = min([0.0, *qs]), max([1.0, *qs])
    return lo, hi if hi > lo else lo + 1.0


def _real(q: Any) -> bool:
    return isinstance(q, (int, float)) and not (isinstance(q, float) and math.isnan(q))


def view_steps(traj: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps as the timeline shows them: candidates with their bar widths, the chosen marked."""
    steps = traj.get("steps") or []
    lo, hi = q_range(steps)
    out = []
    for s in steps:
        chosen = s.get("chosen_index", 0)
        cands = []
        for j, c in enumerate(s.get("candidates") or []):
            q = c.get("q")
            cands.append(
                {
                    **c,
                    "index": j,
                    "chosen": j == chosen,
                    "bar": round(100 * (q - lo) / (hi - lo), 1) if _real(q) else 0,
                }
            )
        chosen_q = cands[chosen]["q"] if chosen < len(cands) else None
        samples = sum(int(c.get("count", 1) or 1) for c in cands)
        out.append(
            {
                **s,
                "candidates": cands,
                "lookahead": samples > 1 or any(_real(c.get("q")) for c in cands),
                "chosen_q": chosen_q,
                "samples": samples,
                "duplicates": samples - len(cands),
                "fold_observation": fold(s.get("observation") or ""),
            }
        )
    return out


def q_plot(steps: list[dict[str, Any]], width: int = 320, height: int = 160) -> dict[str, Any] | None:
    """An SVG-ready plot of the chosen Q along the steps, the other candidates' Q as dots."""
    if not any(_real(c.get("q")) for s in steps for c in s["candidates"]):
        return None
    lo, hi = q_range(steps)
    pad = 24
    n = max(len(steps) - 1, 1)

    def xy(t: int, q: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * t / n
        y = height - pad - (height - 2 * pad) * (q - lo) / (hi - lo)
        return round(x, 1), round(y, 1)

    line, dots = [], []
    for t, s in enumerate(steps):
        for c in s["candidates"]:
            if not _real(c.get("q")):
                continue
            x, y = xy(t, c["q"])
            if c["chosen"]:
                line.append({"x": x, "y": y, "q": c["q"], "step": t})
            else:
                dots.append({"x": x, "y": y, "q": c["q"], "step": t})
    return {
        "width": width,
        "height": height,
        "pad": pad,
        "lo": lo,
        "hi": hi,
        "points": " ".join(f"{p['x']},{p['y']}" for p in line),
        "line": line,
        "dots": dots,
        "last_step": len(steps) - 1,
    }


def diff_lines(patch: str) -> list[tuple[str, str]]:
    """(css class, line) for each line of a unified diff."""
    out = []
    for line in patch.splitlines():
        if line.startswith(("diff --git", "index ", "--- ", "+++ ")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        out.append((kind, line))
    return out


def tests_of(grade: dict[str, Any] | None) -> list[dict[str, Any]]:
    """FAIL_TO_PASS and PASS_TO_PASS tests, each passed or failed, from swebench's tests_status."""
    status = ((grade or {}).get("report") or {}).get("tests_status") or {}
    rows = []
    for group in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        entry = status.get(group) or {}
        rows += [{"group": group, "test": t, "passed": True} for t in entry.get("success") or []]
        rows += [{"group": group, "test": t, "passed": False} for t in entry.get("failure") or []]
    return rows


# ----------------------------------------------------------------------------- an experiment

POOL_OF_CELL = {
    "base": "base",
    "select": "base",
    "select_random": "base",
    "oracle_select": "base",
    "lookahead": "lookahead",
    "both": "lookahead",
    "oracle_both": "lookahead",
    "lookahead_const": "const",
}
"""Which pool (eval.experiment.layout.POOLS) each cell of the experiment's table is computed from."""


def experiment_plots(root: Path) -> list[str]:
    """The experiment's PNG plots, relative to its folder."""
    return sorted(p.relative_to(root).as_posix() for p in (root / "plots").glob("*.png"))


def mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
