"""Training state between epochs, so that a killed `critic train` continues where it stopped.

After every `save_state_every` epochs (except the last) `out_dir/state/` holds the weights, the
AdamW moments, the schedule and the metrics so far. Starting the same command again (same config;
the device and the number of ranks may differ) loads it and goes on with the next epoch; the
folder is removed once the final checkpoint is written.

The weights and optimizer go through torch.distributed.checkpoint (DCP): every rank writes its own
shards, and a later run with another world size reshards on load. With several nodes `out_dir`
must be on a filesystem all of them see. A save goes to `state.tmp/` and is renamed into place,
so a kill at any moment leaves either the previous state or the new one, never half of one.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from critic.config import TrainConfig
from critic.errors import CriticSetupError

# Fields that change neither the data nor the arithmetic: a run may resume with other values.
FREE_FIELDS = {"out_dir", "prepared_dir", "device", "log_every", "save_state_every"}


class ResumeError(CriticSetupError):
    """`out_dir` holds the state of a run that this config cannot continue."""


@dataclass
class Progress:
    """Where a run stands: epochs finished, optimizer steps taken, metrics of each finished epoch."""

    epochs_done: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def _fingerprint(cfg: TrainConfig) -> dict[str, Any]:
    return cfg.model_dump(exclude=FREE_FIELDS)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _barrier() -> None:
    if _distributed():
        dist.barrier()


def find_state(out: Path) -> Path | None:
    """`out/state`, or `out/state.old` when a kill fell between the two renames of a save."""
    for name in ("state", "state.old"):
        if (out / name / "progress.json").is_file():
            return out / name
    return None


def save_state(
    out: Path, net: nn.Module, opt: torch.optim.Optimizer, sched: Any, progress: Progress, cfg: TrainConfig
) -> Path:
    """Write the state of every rank (call on all ranks); returns `out/state`."""
    from torch.distributed.checkpoint import save
    from torch.distributed.checkpoint.state_dict import get_state_dict

    main = not _distributed() or dist.get_rank() == 0
    tmp, final, old = out / "state.tmp", out / "state", out / "state.old"
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    model_state, optim_state = get_state_dict(net, opt)
    with warnings.catch_warnings():
        # DCP warns on every single-process save, though that is a case it supports.
        warnings.filterwarnings("ignore", message="torch.distributed is disabled", category=UserWarning)
        save({"model": model_state, "optim": optim_state}, checkpoint_id=tmp, no_dist=not _distributed())
    if main:
        torch.save(sched.state_dict(), tmp / "scheduler.pt")
        meta = {
            "epochs_done": progress.epochs_done,
            "step": progress.step,
            "history": progress.history,
            "config": _fingerprint(cfg),
        }
        (tmp / "progress.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return final


def load_state(
    path: Path, net: nn.Module, opt: torch.optim.Optimizer, sched: Any, cfg: TrainConfig
) -> Progress:
    """Load a state written by `save_state` into the (wrapped) model, optimizer and schedule."""
    from torch.distributed.checkpoint import load
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    meta = json.loads((path / "progress.json").read_text(encoding="utf-8"))
    saved, now = meta["config"], _fingerprint(cfg)
    changed = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
    if changed:
        raise ResumeError(
            f"{path} holds a run with another config (differs in: {', '.join(changed)}); "
            f"use another --out, or delete {path} to start over"
        )
    model_state, optim_state = get_state_dict(net, opt)  # the layout (and shards) to fill
    state = {"model": model_state, "optim": optim_state}
    load(state, checkpoint_id=path, no_dist=not _distributed())
    set_state_dict(net, opt, model_state_dict=state["model"], optim_state_dict=state["optim"])
    sched.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    return Progress(meta["epochs_done"], meta["step"], meta["history"])


def remove_state(out: Path) -> None:
    """Drop the state once the final checkpoint is written (rank 0 only)."""
    for name in ("state", "state.old", "state.tmp"):
        shutil.rmtree(out / name, ignore_errors=True)
