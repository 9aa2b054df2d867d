"""The experiment folder, named in one place: its seeds, phases and pools, each phase folder's plan and
completion markers, and the splits. The phases (eval.experiment.phases) write it; the report
(eval.experiment.report) reads it; neither imports the other.

    out/seed-S/collect/              a run folder: the critic's training data
    out/seed-S/train/critic/         the trained checkpoint (train/init/: the tiny critic before training)
    out/seed-S/evaluate/<pool>/      a run folder per pool (base, lookahead, const)
    <phase folder>/phase.json        its plan, written when it starts; complete.json, written last

With `split: {kind: folds}` collect/ holds every task's runs, shared by the folds, and each fold F has
its own train and evaluate folders:

    out/seed-S/fold-F/train/data/    the other folds' collected runs (hard links into collect/)
    out/seed-S/fold-F/train/critic/  the fold's critic
    out/seed-S/fold-F/evaluate/<pool>/  the fold's own tasks
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PHASES = ("collect", "train", "evaluate")
POOLS = ("base", "lookahead", "const")
PLAN = "phase.json"
COMPLETE = "complete.json"


@dataclass
class Fold:
    """One fold of a cross-validated experiment: its groups (libraries), its held-out tasks, the rest."""

    groups: list[str]
    train: list[str]
    heldout: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"groups": self.groups, "train": self.train, "heldout": self.heldout}


@dataclass
class Splits:
    """The train and held-out tasks (instance ids, sorted) and the datasets they come from.

    With folds, `train` (collected) and `heldout` (evaluated, fold by fold) are every task, and
    `group_of` maps each task to its group (library)."""

    train_dataset: str
    eval_dataset: str
    train: list[str]
    heldout: list[str]
    folds: list[Fold] = field(default_factory=list)
    group_of: dict[str, str] = field(default_factory=dict)

    def fold(self, index: int) -> Splits:
        """Fold `index` as a plain train / held-out split."""
        f = self.folds[index]
        return Splits(self.train_dataset, self.eval_dataset, f.train, f.heldout)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "train_dataset": self.train_dataset,
            "eval_dataset": self.eval_dataset,
            "train": self.train,
            "heldout": self.heldout,
        }
        if self.folds:
            data["folds"] = [f.as_dict() for f in self.folds]
            data["group_of"] = self.group_of
        return data


def seed_dir(out: Path, seed: int) -> Path:
    return Path(out) / f"seed-{seed}"


def fold_name(fold: int) -> str:
    return f"fold-{fold}"


def phase_dir(out: Path, seed: int, phase: str, fold: int | None = None) -> Path:
    """A phase folder; a fold's train and evaluate live in seed-S/fold-F/ (collect is shared)."""
    if fold is None or phase == "collect":
        return seed_dir(out, seed) / phase
    return seed_dir(out, seed) / fold_name(fold) / phase


def pool_dir(out: Path, seed: int, pool: str, fold: int | None = None) -> Path:
    return phase_dir(out, seed, "evaluate", fold) / pool


def checkpoint_dir(out: Path, seed: int, fold: int | None = None) -> Path:
    """The trained critic of seed S (a checkpoint folder, `--critic PATH`), of fold F with folds."""
    return phase_dir(out, seed, "train", fold) / "critic"
