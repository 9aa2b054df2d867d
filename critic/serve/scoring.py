"""Fast Q(s, a): prefix-shared candidates, session KV caches, and batching across requests.

How a request `(history, candidates, session)` is scored:
1. Serialize the history (truncated, see critic.serialize) and each candidate (+ its marker).
2. Reuse: if the session holds the KV cache of an earlier history, keep its longest common token
   prefix with this history. Only the rest ("new" history tokens) is computed.
3. Rows: the new history tokens run in causal chunks of at most `max_batch_tokens`, then the K
   candidates are packed into one row after them; a few new tokens (a session's next step, at
   most a quarter of the candidates' tokens) share the candidates' row instead. Each candidate sees the past, the new history tokens and itself,
   never the other candidates; its positions restart at the history length. Q is read at each
   candidate's marker.
4. Batching: the requests of one `score_many` call run together. Each round takes the next row of
   every request and packs rows with similar past lengths into one padded forward (at most
   `max_batch_rows` rows, `max_batch_tokens` query tokens and `max_batch_kv` key tokens); shorter
   pasts are padded and masked out. By default only a GPU batches (64 rows): one CPU row already
   keeps the cores busy.
5. The history part of the KV goes back into the session (an LRU bounded by bytes); the
   candidates' KV is dropped.

So a lookahead step costs one forward over its new tokens plus K short candidates, instead of K
forwards over the full context, and concurrent runs share forwards.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache, PreTrainedModel

from agent.types import Message
from critic.model import backbone, cache_argument, output_cache, values_from_hidden
from critic.serialize import Encoded, ScoringInput, Serializer, compression_from_config

KV = list[tuple[torch.Tensor, torch.Tensor]]
"""Per layer (keys, values), each (batch, kv_heads, tokens, head_dim)."""


@dataclass
class Request:
    """Q(history, candidate_k) for each k, on the session's cache when `session` is given."""

    history: list[Message]
    candidates: list[str]
    session: str | None = None


@dataclass
class ScoreResult:
    """Values for the candidates, the history length in tokens, how many of those came from cache, and
    the candidates' tokens (each scored once after the shared history)."""

    values: list[float]
    prefix_tokens: int
    cached_tokens: int
    candidate_tokens: int = 0


@dataclass
class ScorerStats:
    """Counters that show batching at work (served on /health)."""

    requests: int = 0
    forwards: int = 0
    rows: int = 0
    max_rows: int = 0
    """Most rows (request parts) that shared one forward."""


@dataclass
class _Entry:
    ids: list[int]
    kv: KV
    nbytes: int


class SessionCache:
    """LRU of per-session KV caches, bounded by the bytes of the tensors they hold."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.nbytes = 0
        self.freed_bytes = 0
        """Bytes of KV caches evicted or dropped so far (the server returns them to the OS, critic.serve.memory)."""

    def get(self, session: str) -> _Entry | None:
        entry = self._entries.get(session)
        if entry is not None:
            self._entries.move_to_end(session)
        return entry

    def put(self, session: str, ids: list[int], kv: KV) -> None:
        self.drop(session)
        nbytes = _storage_bytes(kv)
        if nbytes > self.max_bytes:
            return
        self._entries[session] = _Entry(ids, kv, nbytes)
        self.nbytes += nbytes
        while self.nbytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.nbytes -= old.nbytes
            self.freed_bytes += old.nbytes

    def drop(self, session: str) -> bool:
        old = self._entries.pop(session, None)
        if old is not None:
            self.nbytes -= old.nbytes
            self.freed_bytes += old.nbytes
        return old is not None

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class _Row:
    """One row of a forward: `n_hist` history tokens that extend the past, then candidate blocks."""

    ids: list[int]
    n_hist: int
    cand_lens: list[int] = field(default_factory=list)

    def ends(self) -> list[int]:
        """Row indices of the candidates' markers (their last tokens)."""
        out, off = [], self.n_hist
        for n in self.cand_lens:
            off += n
            out.append(off - 1)
        return out

    def local_mask(self, device: torch.device) -> torch.Tensor:
        """(n, n) bool: who sees whom inside the row (the past is visible to all)."""
        n, h = len(self.ids), self.n_hist
        allowed = torch.zeros(n, n, dtype=torch.bool, device=device)
        allowed[:h, :h] = torch.ones(h, h, dtype=torch.bool, device=device).tril()
        off = h
        for c in self.cand_lens:
            allowed[off : off + c, :h] = True
            allowed[off : off + c, off : off + c] = torch.ones(c, c, dtype=torch.bool, device=device).tril()
            off += c
        return allowed

    def local_positions(self, device: torch.device) -> torch.Tensor:
        """Offsets from the past length: history tokens count on, each candidate restarts after them."""
        parts = [torch.arange(self.n_hist, device=device)]
        parts += [torch.arange(self.n_hist, self.n_hist + c, device=device) for c in self.cand_lens]
        return torch.cat(parts)


@dataclass
class _Work:
    """A request in flight: its tokens, the past computed so far, the rows still to run."""

    index: int
    inp: ScoringInput
    session: str | None
    rows: deque[_Row]
    kv: KV | None = None
    past: int = 0
    cached: int = 0
    values: list[float] = field(default_factory=list)


def _result(work: _Work) -> ScoreResult:
    inp = work.inp
    return ScoreResult(work.values, len(inp.history), work.cached, sum(len(c) for c in inp.candidates))


class Scorer:
    """The model plus serializer plus session caches. All model access goes through one lock."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer,
        max_context: int = 32768,
        max_batch_tokens: int = 8192,
        cache_bytes: int = 2 << 30,
        max_batch_kv: int | None = None,
        max_batch_rows: int | None = None,
    ) -> None:
        self.model = model.eval()
        if model.config._attn_implementation not in ("sdpa", "eager"):
            # the packed candidates need an explicit 4D mask, which flash/flex kernels do not take
            model.set_attn_implementation("sdpa")
        # the compression rule the critic was trained with (critic.serialize), from its config.json
        self.serializer = Serializer(
            tokenizer, max_tokens=max_context, compression=compression_from_config(model.config)
        )
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_kv = max_batch_kv or 4 * max_context
        self.sessions = SessionCache(cache_bytes)
        self.stats = ScorerStats()
        self.lock = threading.RLock()
        self.device = next(model.parameters()).device
        self.dtype = next(backbone(model).parameters()).dtype
        # a CPU is already saturated by one row; padding several only adds work (BENCHMARKS.md)
        self.max_batch_rows = max_batch_rows or (64 if self.device.type == "cuda" else 1)
        self.pad_id = tokenizer.pad_token_id or 0
        self.cache_argument = cache_argument(backbone(model))

    @property
    def max_context(self) -> int:
        return self.serializer.max_tokens

    # -- public -----------------------------------------------------------------------------------
    def score(self, history: list[Message], candidates: list[str], session: str | None = None) -> ScoreResult:
        """Q for each candidate after `history`, reusing the session's cache when given."""
        result = self.score_many([Request(history, candidates, session)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    @torch.inference_mode()
    def score_many(
        self,
        requests: list[Request],
        on_done: Callable[[int, ScoreResult | Exception], None] | None = None,
    ) -> list[ScoreResult | Exception]:
        """Score requests together. Each gets its result or the exception that failed it (a bad
        request fails alone; a failed forward fails the requests that shared it). `on_done(i, r)` is
        called as soon as request i is finished. Requests on the same session run one after another."""
        results: list[ScoreResult | Exception | None] = [None] * len(requests)

        def finish(i: int, result: ScoreResult | Exception) -> None:
            results[i] = result
            if on_done is not None:
                on_done(i, result)

        pending = list(enumerate(requests))
        while pending:  # waves: a session's second request needs the cache its first one leaves
            wave, later, seen = [], [], set()
            for i, r in pending:
                if r.session is not None and r.session in seen:
                    later.append((i, r))
                else:
                    seen.add(r.session)
                    wave.append((i, r))
            self._score_wave(wave, finish)
            pending = later
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def score_naive(self, history: list[Message], candidates: list[str]) -> list[float]:
        """Reference: K independent full-sequence forwards (history + candidate), no cache."""
        inp = self.serializer.for_scoring(history, candidates)
        with self.lock:
            out = []
            for cand in inp.candidates:
                ids = torch.tensor([inp.history + cand], device=self.device)
                hidden = backbone(self.model)(input_ids=ids, use_cache=False).last_hidden_state
                out.append(float(values_from_hidden(self.model, hidden[0, -1])))
            return out

    @torch.inference_mode()
    def values_by_turn(self, messages: list[Message]) -> list[float]:
        """V at every agent turn's marker of a whole trajectory (the windows of critic.serialize)."""
        with self.lock:
            return windows_values(self.model, self.serializer.windows(messages), self.device)

    def drop_session(self, session: str) -> bool:
        with self.lock:
            return self.sessions.drop(session)

    # -- one wave of requests (distinct sessions) ---------------------------------------------------
    def _score_wave(
        self, wave: list[tuple[int, Request]], finish: Callable[[int, ScoreResult | Exception], None]
    ) -> None:
        inputs = []
        for i, r in wave:
            try:
                inputs.append((i, r, self.serializer.for_scoring(r.history, r.candidates)))
            except Exception as e:  # noqa: BLE001 - a request that cannot be serialized fails alone
                finish(i, e)
        with self.lock:
            works = [self._start(i, r.session, inp) for i, r, inp in inputs]
            self.stats.requests += len(works)
            while active := [w for w in works if w.rows]:
                for batch in self._pack(active):
                    try:
                        self._forward(batch)
                    except Exception as e:  # noqa: BLE001 - reported to the requests of this forward
                        for w in batch:
                            w.rows.clear()
                            finish(w.index, e)
                        continue
                    for w in batch:
                        if not w.rows:
                            if w.session is not None and w.kv is not None:
                                self.sessions.put(w.session, list(w.inp.history), w.kv)
                            finish(w.index, _result(w))

    def _start(self, index: int, session: str | None, inp: ScoringInput) -> _Work:
        """Attach the session's cached prefix and plan the rows still to compute."""
        work = _Work(index, inp, session, deque())
        entry = self.sessions.get(session) if session is not None else None
        if entry is not None:
            work.cached = _common_prefix(entry.ids, inp.history)
            if work.cached:
                work.kv = [(k[:, :, : work.cached], v[:, :, : work.cached]) for k, v in entry.kv]
                work.past = work.cached
        work.rows.extend(_plan(inp.history[work.cached :], inp.candidates, self.max_batch_tokens))
        return work

    def _pack(self, works: list[_Work]) -> list[list[_Work]]:
        """The next row of each request, grouped into forwards; similar past lengths go together."""
        batches: list[list[_Work]] = []
        batch: list[_Work] = []
        q = p = 0
        for w in sorted(works, key=lambda w: (w.past, len(w.rows[0].ids))):
            nq, np_ = max(q, len(w.rows[0].ids)), max(p, w.past)
            rows = len(batch) + 1
            full = rows > self.max_batch_rows or rows * nq > self.max_batch_tokens
            if batch and (full or rows * (np_ + nq) > self.max_batch_kv):
                batches.append(batch)
                batch, nq, np_ = [], len(w.rows[0].ids), w.past
            batch.append(w)
            q, p = nq, np_
        return [*batches, batch] if batch else batches

    def _forward(self, batch: list[_Work]) -> None:
        """One padded forward over the next row of each request in `batch`."""
        rows = [w.rows[0] for w in batch]
        b_size, dev = len(batch), self.device
        p_max, q_max = max(w.past for w in batch), max(len(r.ids) for r in rows)
        ids = torch.full((b_size, q_max), self.pad_id, dtype=torch.long, device=dev)
        positions = torch.zeros((b_size, q_max), dtype=torch.long, device=dev)
        for b, (w, r) in enumerate(zip(batch, rows, strict=True)):
            ids[b, : len(r.ids)] = torch.tensor(r.ids, device=dev)
            positions[b, : len(r.ids)] = w.past + r.local_positions(dev)
        mask = None  # a lone history row is plain causal: transformers picks its fastest kernel
        if b_size > 1 or rows[0].cand_lens:
            mask = self._mask(batch, rows, p_max, q_max)
        past = _stack_past(batch, p_max)
        out = backbone(self.model)(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            **{self.cache_argument: DynamicCache(ddp_cache_data=past) if past else DynamicCache()},
        )
        layers = [(layer.keys, layer.values) for layer in output_cache(out).layers]
        for b, (w, r) in enumerate(zip(batch, rows, strict=True)):
            if r.n_hist:
                w.kv = _keep_history(layers, b, b_size, w.past, p_max, r.n_hist)
                w.past += r.n_hist
            if r.cand_lens:
                w.values += values_from_hidden(self.model, out.last_hidden_state[b, r.ends()]).tolist()
            w.rows.popleft()
        self.stats.forwards += 1
        self.stats.rows += b_size
        self.stats.max_rows = max(self.stats.max_rows, b_size)

    def _mask(self, batch: list[_Work], rows: list[_Row], p_max: int, q_max: int) -> torch.Tensor:
        """Additive (B, 1, q_max, p_max + q_max) mask: 0 where a token may attend, dtype-min elsewhere.
        Additive because eager attention needs it and SDPA runs it faster than a boolean mask on CPU."""
        dev, lowest = self.device, torch.finfo(self.dtype).min
        mask = torch.full((len(batch), 1, q_max, p_max + q_max), lowest, dtype=self.dtype, device=dev)
        for b, (w, r) in enumerate(zip(batch, rows, strict=True)):
            n = len(r.ids)
            mask[b, 0, :n, : w.past] = 0.0
            mask[b, 0, :n, p_max : p_max + n].masked_fill_(r.local_mask(dev), 0.0)
            # padding rows attend to themselves only, so softmax never sees an empty row
            pad = torch.arange(n, q_max, device=dev)
            mask[b, 0, pad, p_max + pad] = 0.0
        return mask


def _plan(new: list[int], candidates: list[list[int]], budget: int) -> list[_Row]:
    """Rows for one request: history chunks, then the candidate groups; no row over `budget` tokens
    unless one candidate is. New history of at most a quarter of the first candidate group's tokens
    (a session's next step: ~170 tokens against K=8 x 150) rides in the candidates' row, which saves
    a forward; longer new history runs on its own, where plain causal attention skips the masked
    half that the candidates' dense block mask computes (measured in BENCHMARKS.md, critic scoring)."""
    groups: list[list[list[int]]] = [[]]
    for cand in candidates:
        if groups[-1] and sum(map(len, groups[-1])) + len(cand) > budget:
            groups.append([])
        groups[-1].append(cand)
    first = sum(map(len, groups[0]))
    tail = len(new) if len(new) + first <= budget and 4 * len(new) <= first else 0
    lead = new[: len(new) - tail]
    rows = [_Row(lead[s : s + budget], len(lead[s : s + budget])) for s in range(0, len(lead), budget)]
    rows.append(_Row(new[len(lead) :] + _flat(groups[0]), tail, [len(c) for c in groups[0]]))
    rows += [_Row(_flat(g), 0, [len(c) for c in g]) for g in groups[1:]]
    return rows


def _stack_past(batch: list[_Work], p_max: int) -> KV | None:
    """The pasts of a batch as one padded KV (the one request's own tensors when alone)."""
    if p_max == 0:
        return None
    if len(batch) == 1:
        return batch[0].kv
    template = next(w.kv for w in batch if w.kv)
    out: KV = []
    for layer, (k0, v0) in enumerate(template):
        keys = k0.new_zeros((len(batch), k0.shape[1], p_max, k0.shape[3]))
        values = v0.new_zeros((len(batch), v0.shape[1], p_max, v0.shape[3]))
        for b, w in enumerate(batch):
            if w.past:
                keys[b, :, : w.past] = w.kv[layer][0][0]
                values[b, :, : w.past] = w.kv[layer][1][0]
        out.append((keys, values))
    return out


def _keep_history(layers: KV, b: int, b_size: int, past: int, p_max: int, n_hist: int) -> KV:
    """Row b's past plus its new history tokens, out of a forward's (padded) KV."""
    if b_size == 1:  # a view: no copy (it keeps the candidates' few KV tokens alive until replaced)
        return [(k[:, :, : p_max + n_hist], v[:, :, : p_max + n_hist]) for k, v in layers]
    new = slice(p_max, p_max + n_hist)
    return [
        (
            torch.cat([k[b : b + 1, :, :past], k[b : b + 1, :, new]], dim=2),
            torch.cat([v[b : b + 1, :, :past], v[b : b + 1, :, new]], dim=2),
        )
        for k, v in layers
    ]


def windows_values(model: PreTrainedModel, windows: list[Encoded], device: torch.device) -> list[float]:
    """Per-turn values of a trajectory from its windows, ordered by turn."""
    by_turn: dict[int, float] = {}
    for win in windows:
        ids = torch.tensor([win.ids], device=device)
        hidden = backbone(model)(input_ids=ids, use_cache=False).last_hidden_state[0]
        for turn, v in zip(win.turns, values_from_hidden(model, hidden[win.markers]).tolist(), strict=True):
            by_turn[turn] = v
    return [by_turn[t] for t in sorted(by_turn)]


def _flat(groups: list[list[int]]) -> list[int]:
    return [t for g in groups for t in g]


def _storage_bytes(kv: KV) -> int:
    """Bytes of the storages behind a KV (a view keeps its whole storage alive), each counted once."""
    seen: dict[int, int] = {}
    for k, v in kv:
        for t in (k, v):
            s = t.untyped_storage()
            seen[s.data_ptr()] = s.nbytes()
    return sum(seen.values())


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
