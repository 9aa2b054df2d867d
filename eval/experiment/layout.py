"""The experiment folder, named in one place: its seeds, phases and pools, each phase folder's plan and
completion markers, and the splits. The phases (eval.experiment.phases) write it; the report
(eval.experiment.report) reads it; neither imports the other.

    out/seed-S/collect/              a run folder: the critic's training data
    out/seed-S/train/critic/         the trained checkpoint (train/init/: the tiny critic before training)
    out/seed-S/evaluate/<pool>/      a run folder per pool (base, lookahead, const)
    <phase folder>/phase.json        its plan, written when it starts; complete.json, written last
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

PHASES = ("collect", "train", "evaluate")
POOLS = ("base", "lookahead", "const")
PLAN = "phase.json"
COMPLETE = "complete.json"


@dataclass
class Splits:
    """The train and held-out tasks (instance ids, sorted) and the datasets they come from."""

    train_dataset: str
    eval_dataset: str
    train: list[str]
    heldout: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "train_dataset": self.train_dataset,
            "eval_dataset": self.eval_dataset,
            "train": self.train,
            "heldout": self.heldout,
        }


def seed_dir(out: Path, seed: int) -> Path:
    return Path(out) / f"seed-{seed}"


def phase_dir(out: Path, seed: int, phase: str) -> Path:
    return seed_dir(out, seed) / phase


def pool_dir(out: Path, seed: int, pool: str) -> Path:
    return phase_dir(out, seed, "evaluate") / pool


def checkpoint_dir(out: Path, seed: int) -> Path:
    """The trained critic of seed S (a checkpoint folder, `--critic PATH`)."""
    return phase_dir(out, seed, "train") / "critic"
