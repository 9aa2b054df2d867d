"""The experiment folder, named in one place: its seeds, phases and pools, each phase folder's plan and
completion markers, and the splits. The phases (eval.experiment.phases) write it; the report
(eval.experiment.report) reads it; neither imports the other.

    out/seed-S/collect/              a run folder: the critic's training data
    out/seed-S/train/critic/         the trained checkpoint (train/init/: the tiny critic before training)
    out/seed-S/evaluate/<pool>/      a run folder per pool (base, lookahead, const)
    out/seed-S/evaluate/lookahead-<critic>/  the lookahead pool of each other critic (an LLM judge)
    out/seed-S/evaluate/select-<critic>/     scores.json: that critic's final Q of the base pool's runs
    <phase folder>/phase.json        its plan, written when it starts; complete.json, written last
"""

from __future__ import annotations

from dataclasses import dataclass
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


def rescore_dir(out: Path, seed: int, critic: str) -> Path:
    """Where `critic`'s final Q of the base pool's runs are kept (for a critic that did not run base)."""
    return phase_dir(out, seed, "evaluate") / f"select-{critic_slug(critic)}"


def base_critic(critics: list[str]) -> str:
    """The critic of the base and lookahead pools: `learned` when compared, else the first judge."""
    return LEARNED if LEARNED in critics else critics[0]
