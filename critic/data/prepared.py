"""Training data as the model reads it: episodes serialized into windows, cached on disk.

Serializing ~80k trajectories (about 1e9 tokens) takes minutes. So each rank serializes a strided
share of the episodes and writes it to `<cache>/<key>/part-<rank>-of-<world>.pt`; then every rank
reads all parts, in the original order. The key covers the sources (path, size and mtime of each
file), `limit`, the tokenizer, the context limit and this module's `FORMAT`, so a later run on the
same data (a resumed run, another learning rate, another number of ranks) reads the windows instead
of tokenizing again. Parts hold only tensors, lists and strings (read with `weights_only=True`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from critic.data.runs import Episode
from critic.data.sources import load_sources
from critic.serialize import ContextTooLong, Serializer
from envs.files import write_atomic

log = logging.getLogger(__name__)

FORMAT = 1
"""Bump when the serialization changes what a window holds: old cache entries are then ignored."""


@dataclass
class Window:
    """A serialized window (critic.serialize.Encoded), compactly: int32 token ids take 4 bytes a
    token where a list of Python ints takes ~36, which matters with ~1e9 tokens held on every rank."""

    ids: torch.Tensor
    markers: list[int]
    turns: list[int]


@dataclass
class Prepared:
    """What training keeps of an episode: its outcome and its windows (not the message text).
    `windows` is empty when even the issue plus one turn does not fit the context."""

    instance_id: str
    resolved: bool
    windows: list[Window]

    @property
    def turns(self) -> int:
        return sum(len(w.turns) for w in self.windows)


def serialize(episodes: list[Episode], serializer: Serializer) -> list[Prepared]:
    """One Prepared per episode, in order."""
    out = []
    for ep in episodes:
        try:
            wins = serializer.windows(ep.messages)
        except ContextTooLong as e:
            log.warning("skipping %s (%s): %s", ep.instance_id, ep.source, e)
            wins = []
        compact = [Window(torch.tensor(w.ids, dtype=torch.int32), w.markers, w.turns) for w in wins]
        out.append(Prepared(ep.instance_id, ep.resolved, compact))
    return out


def cache_key(sources: list[str], limit: int | None, serializer: Serializer) -> str:
    """A digest of everything the windows depend on (without reading the data)."""
    h = hashlib.sha256(f"format {FORMAT} limit {limit} max {serializer.max_tokens}".encode())
    h.update(repr(serializer.compression).encode())
    for src in sources:
        path = Path(src).resolve()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            st = f.stat()
            h.update(f"{f} {st.st_size} {st.st_mtime_ns}".encode())
    tok = serializer.tokenizer
    h.update(json.dumps(sorted(tok.get_vocab().items())).encode())
    h.update(json.dumps([tok.chat_template, tok.all_special_tokens, serializer.value_token]).encode())
    return h.hexdigest()[:24]


def _complete(entry: Path) -> list[Path] | None:
    """The parts of one finished write, any world size, in rank order."""
    for first in sorted(entry.glob("part-0-of-*.pt")):
        world = int(first.stem.rsplit("-", 1)[1])
        parts = [entry / f"part-{r}-of-{world}.pt" for r in range(world)]
        if all(p.is_file() for p in parts):
            return parts
    return None


def _to_plain(items: list[tuple[int, Prepared]]) -> dict[str, Any]:
    return {
        "index": [i for i, _ in items],
        "instance_id": [p.instance_id for _, p in items],
        "resolved": [p.resolved for _, p in items],
        "windows": [
            [{"ids": w.ids, "markers": w.markers, "turns": w.turns} for w in p.windows] for _, p in items
        ],
    }


def _from_plain(part: dict[str, Any]) -> list[tuple[int, Prepared]]:
    return [
        (i, Prepared(iid, bool(res), [Window(w["ids"], w["markers"], w["turns"]) for w in wins]))
        for i, iid, res, wins in zip(
            part["index"], part["instance_id"], part["resolved"], part["windows"], strict=True
        )
    ]


def load_prepared(
    sources: list[str], limit: int | None, serializer: Serializer, cache: Path, rank: int = 0, world: int = 1
) -> tuple[list[Prepared], bool]:
    """(Prepared per episode of `sources`, in order; whether they came from the cache).
    Under torchrun every rank calls this: each serializes its share, then all read every part."""
    entry = cache / cache_key(sources, limit, serializer)
    parts = _complete(entry)
    if world > 1 and dist.is_initialized():
        # rank 0 decides for all: a rank that looked later could see another rank's new part
        # complete a set left by a crashed run, and skip the barrier the others wait at
        decision = [parts]
        dist.broadcast_object_list(decision, src=0)
        parts = decision[0]
    hit = parts is not None
    if parts is None:
        episodes = load_sources(sources, limit=limit)
        share = serialize(episodes[rank::world], serializer)
        mine = list(zip(range(rank, len(episodes), world), share, strict=True))
        buffer = io.BytesIO()
        torch.save(_to_plain(mine), buffer)
        write_atomic(entry / f"part-{rank}-of-{world}.pt", buffer.getvalue())  # a part is whole or absent
        if world > 1 and dist.is_initialized():
            dist.barrier()
        parts = [entry / f"part-{r}-of-{world}.pt" for r in range(world)]
    items = [item for p in parts for item in _from_plain(torch.load(p, weights_only=True))]
    items.sort(key=lambda x: x[0])
    return [p for _, p in items], hit
