"""The experiment folder, named in one place: its seeds, phases and pools, each phase folder's plan and
completion markers, and the splits. The phases (eval.experiment.phases) write it; the report
(eval.experiment.report) reads it; neither imports the other.

    out/seed-S/collect/              a run folder: the critic's training data
    out/seed-S/train/critic/         the trained checkpoint (train/init/: the tiny critic before training)
    out/seed-S/evaluate/<pool>/      a run folder per pool (base, lookahead, const)
    out/seed-S/evaluate/lookahead-<critic>/  the lookahead pool of each other critic (an LLM judge)
    out/seed-S/evaluate/select-<critic>/     scores.json: that critic's final Q of the base pool's runs
    <phase folder>/phase.json        its plan, written when it starts; complete.json, written last

With `split: {kind: folds}` collect/ holds every task's runs, shared by the folds, and each fold F has
its own train and evaluate folders:

    out/seed-S/fold-F/train/data/    the other folds' collected runs (hard links into collect/)
    out/seed-S/fold-F/train/critic/  the fold's critic
    out/seed-S/fold-F/evaluate/<pool>/  the fold's own tasks (lookahead-<critic>/, select-<critic>/ too)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEARNED = "learned"
"""The critic trained in phases 1-2 (`critics: [learned, ...]`)."""
SCORES = "scores.json"
"""In a select-<critic> folder: {instance id: {run index: {final_q, tokens, cost}}}."""
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


def critic_slug(critic: str) -> str:
    """A folder-safe name of a critic of `critics`: `learned`, or `judge-<model>-<hash of the spec>`
    (the spec's URL stays out of folder names: it may carry a password)."""
    import hashlib
    import re

    if critic == LEARNED:
        return LEARNED
    model = critic.removeprefix("judge:").split("@", 1)[0]
    digest = hashlib.sha256(critic.encode()).hexdigest()[:6]
    return f"judge-{re.sub(r'[^A-Za-z0-9._-]+', '_', model)[:40]}-{digest}"


def lookahead_pool(critic: str, critics: list[str]) -> str:
    """The lookahead pool of `critic`: `lookahead` for the base pool's critic, else lookahead-<slug>."""
    return "lookahead" if critic == base_critic(critics) else f"lookahead-{critic_slug(critic)}"


def rescore_dir(out: Path, seed: int, critic: str, fold: int | None = None) -> Path:
    """Where `critic`'s final Q of the base pool's runs are kept (for a critic that did not run base),
    of fold F with folds."""
    return phase_dir(out, seed, "evaluate", fold) / f"select-{critic_slug(critic)}"


def base_critic(critics: list[str]) -> str:
    """The critic of the base and lookahead pools: `learned` when compared, else the first judge."""
    return LEARNED if LEARNED in critics else critics[0]
