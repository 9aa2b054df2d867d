"""The critic over HTTP (FastAPI + uvicorn).

    POST   /v1/score     {messages, candidates, session?} -> {values, prefix_tokens, cached_tokens,
                                                              candidate_tokens}
    POST   /v1/sessions  {session?}                       -> {session}   (open; idempotent)
    DELETE /v1/sessions/{id}                              -> {dropped}   (free its KV cache)
    GET    /health                                        -> model, device, limits, cache use, RSS

A session must be opened before `/v1/score` uses it (an id never opened, or deleted, is a 404);
HTTPCritic does this for you. An opened session whose KV cache was evicted by the LRU is simply
recomputed. The server remembers at most `max_open_sessions` ids (least recently used first out);
a forgotten one answers 404 like a deleted one, and HTTPCritic opens it again. Errors: malformed
body 422, context too long or body too large 413 (streamed bodies are counted too), unknown session
404. One failing request never takes the server down.

All requests go through one worker thread that owns the model: it takes every request waiting
(plus those arriving within `batch_wait_ms`) and scores them together: their rows are packed into
shared padded forwards, each request's new history tokens and its K candidates in one row on top of
its session's cache (critic.serve.scoring). /health reports how many rows shared a forward.

Memory: /health gives `cache_bytes` (the KV caches held, at most `cache_limit_bytes`) beside
`rss_bytes` (the whole process). The worker hands the memory of evicted and deleted sessions back to
the OS (critic.serve.memory), so RSS falls back once sessions go; critic/README.md says how much a
server needs for a given cache limit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

import torch
from fastapi import FastAPI, HTTPException
from fastapi import Request as HTTPRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field

from critic.config import ServeConfig
from critic.errors import CriticSetupError
from critic.serialize import ContextTooLong, SerializeError, check_text
from critic.serve.memory import limit_arenas, return_free_memory, rss_bytes
from critic.serve.scoring import Request, Scorer, ScoreResult

log = logging.getLogger(__name__)

Text = Annotated[str, AfterValidator(lambda s: check_text(s, "the text"))]
"""A string that a tokenizer (and a JSON answer) can take: lone surrogates are a 422."""


class MessageIn(BaseModel):
    role: Literal["system", "user", "assistant", "tool"] = Field(description="Who wrote the message.")
    content: Text = Field(description="The message text.")


class ScoreRequest(BaseModel):
    messages: list[MessageIn] = Field(min_length=1, description="The history s: system, issue, turns so far.")
    candidates: list[Text] = Field(min_length=1, description="Candidate actions a_k (assistant turn texts).")
    session: Text | None = Field(None, min_length=1, max_length=200, description="An opened session id.")


class ScoreResponse(BaseModel):
    values: list[float] = Field(description="Q(s, a_k) in [0, 1], one per candidate.")
    prefix_tokens: int = Field(description="Tokens of the (truncated) history.")
    cached_tokens: int = Field(description="History tokens reused from the session's KV cache.")
    candidate_tokens: int = Field(0, description="Tokens of the candidates, each scored after the history.")


class SessionRequest(BaseModel):
    session: Text | None = Field(
        None, min_length=1, max_length=200, description="The id to open; omitted: a new one."
    )


def _printable(value: object, limit: int = 200) -> str | int:
    """A piece of a validation error that JSON can carry: ints as they are, anything else as text
    with lone surrogates escaped (NaN, Infinity and surrogates echoed back broke the 422 itself)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "..."


async def invalid_request(request: HTTPRequest, exc: RequestValidationError) -> JSONResponse:
    """422 for a malformed body: `detail` says in one line what is wrong where, `errors` lists it.
    The offending input is never echoed (it may be huge, NaN or not encodable)."""
    errors = []
    for err in exc.errors()[:20]:
        msg = _printable(err.get("msg", "invalid"))
        reason = (err.get("ctx") or {}).get("error")
        if err.get("type") == "json_invalid" and reason:
            msg = f"{msg} ({_printable(reason)})"
        errors.append(
            {"loc": [_printable(p) for p in err.get("loc", ())], "msg": msg, "type": err.get("type")}
        )
    detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3]) or "invalid request"
    if len(exc.errors()) > 3:
        detail += f" (and {len(exc.errors()) - 3} more)"
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


class UnknownSession(KeyError):
    """A session id that was never opened (or was deleted)."""


@dataclass
class _Job:
    request: ScoreRequest
    future: Future


class OpenSessions:
    """The session ids opened and not deleted, bounded: beyond `limit` the least recently used is
    forgotten (its KV cache stays under the scorer's own LRU until evicted or dropped)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, sid: str) -> None:
        with self._lock:
            self._ids[sid] = None
            self._ids.move_to_end(sid)
            while len(self._ids) > self.limit:
                self._ids.popitem(last=False)

    def touch(self, sid: str) -> bool:
        """Whether `sid` is open; marks it recently used."""
        with self._lock:
            if sid not in self._ids:
                return False
            self._ids.move_to_end(sid)
            return True

    def discard(self, sid: str) -> bool:
        """Forget `sid`; whether it was open."""
        with self._lock:
            if sid not in self._ids:
                return False
            del self._ids[sid]
            return True

    def __len__(self) -> int:
        return len(self._ids)


TRIM_IDLE_S = 0.5
"""After sessions are freed, the worker returns their memory once it has been idle this long (it
checks at this interval while idle)."""
TRIM_BUSY_BYTES = 256 << 20
"""...or at once after a group, when this much has been freed since the last return."""
MALLOC_ARENAS = 2
"""glibc malloc arenas of a served process (`swe-search critic serve`): the worker thread allocates
nearly everything; uvicorn's threads get one more arena between them."""


class BatchWorker:
    """One thread owns the model. Requests queue up; the worker takes every request waiting (after
    `wait_ms` for stragglers) and scores them together with `Scorer.score_many`, which packs their
    rows into shared forwards. Each request's future is resolved as soon as its own rows are done."""

    def __init__(
        self, scorer: Scorer, wait_ms: float = 5.0, max_group: int = 64, max_open_sessions: int = 100_000
    ) -> None:
        self.scorer = scorer
        self.wait = wait_ms / 1000.0
        self.max_group = max_group
        self.queue: queue.Queue[_Job | None] = queue.Queue()
        self.opened = OpenSessions(max_open_sessions)
        self.groups = 0
        self.trims = 0
        self._trimmed_upto = 0
        self._thread = threading.Thread(target=self._loop, name="critic-worker", daemon=True)
        self._thread.start()

    def submit(self, request: ScoreRequest) -> Future:
        if request.session is not None and not self.opened.touch(request.session):
            raise UnknownSession(request.session)
        fut: Future = Future()
        self.queue.put(_Job(request, fut))
        return fut

    def stop(self) -> None:
        self.queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            try:  # wake up when idle: sessions deleted meanwhile (other threads) free memory to return
                job = self.queue.get(timeout=TRIM_IDLE_S)
            except queue.Empty:
                if self._freed_since_trim():
                    self.trim()
                continue
            if job is None:
                return
            group, stop = [job], False
            deadline = time.monotonic() + self.wait
            while len(group) < self.max_group:
                try:
                    nxt = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            self.groups += 1
            self._run(group)
            if self._freed_since_trim() >= TRIM_BUSY_BYTES:  # under steady load there is no idle moment
                self.trim()
            if stop:
                return

    def _freed_since_trim(self) -> int:
        return self.scorer.sessions.freed_bytes - self._trimmed_upto

    def trim(self) -> None:
        """Return the memory of evicted and deleted sessions to the OS (critic.serve.memory)."""
        self._trimmed_upto = self.scorer.sessions.freed_bytes
        if return_free_memory():
            self.trims += 1

    def _run(self, group: list[_Job]) -> None:
        jobs = [j for j in group if j.future.set_running_or_notify_cancel()]
        requests = [
            Request([m.model_dump() for m in j.request.messages], j.request.candidates, j.request.session)
            for j in jobs
        ]

        def done(i: int, result: ScoreResult | Exception) -> None:
            if isinstance(result, Exception):
                jobs[i].future.set_exception(result)
            else:
                jobs[i].future.set_result(result)

        try:
            self.scorer.score_many(requests, on_done=done)
        except Exception as e:  # noqa: BLE001 - the worker must survive; report to every unfinished request
            log.exception("scoring a group failed")
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(e)


def create_app(scorer: Scorer, config: ServeConfig | None = None) -> FastAPI:
    """The FastAPI app around a Scorer (the worker thread starts here)."""
    cfg = config or ServeConfig()
    worker = BatchWorker(scorer, cfg.batch_wait_ms, max_open_sessions=cfg.max_open_sessions)
    app = FastAPI(title="swe-search critic", version="1")
    # The middleware refuses a declared content-length up front, with the limit in its message; the
    # routes' max_body_size also counts bodies sent without one (chunked) while they are read.
    limit = cfg.max_request_bytes
    app.state.worker = worker
    app.router.add_event_handler("shutdown", worker.stop)
    app.add_exception_handler(RequestValidationError, invalid_request)

    @app.middleware("http")
    async def limit_body(request: HTTPRequest, call_next: Any) -> Any:
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > cfg.max_request_bytes:
            return JSONResponse(
                {"detail": f"request body over {cfg.max_request_bytes} bytes"}, status_code=413
            )
        return await call_next(request)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": type(scorer.model).__name__,
            "device": str(scorer.device),
            "dtype": str(scorer.dtype).removeprefix("torch."),
            "max_context": scorer.max_context,
            "max_candidates": cfg.max_candidates,
            "max_batch_tokens": scorer.max_batch_tokens,
            "max_batch_rows": scorer.max_batch_rows,
            "sessions": len(scorer.sessions),
            "open_sessions": len(worker.opened),
            "cache_bytes": scorer.sessions.nbytes,
            "cache_limit_bytes": scorer.sessions.max_bytes,
            "rss_bytes": rss_bytes(),
            "memory_trims": worker.trims,
            "queued": worker.queue.qsize(),
            "batching": asdict(scorer.stats),
        }

    @app.post("/v1/sessions", max_body_size=limit)
    def open_session(body: SessionRequest | None = None) -> dict[str, str]:
        sid = (body.session if body else None) or uuid.uuid4().hex
        worker.opened.add(sid)
        return {"session": sid}

    @app.delete("/v1/sessions/{sid}")
    def close_session(sid: str) -> dict[str, bool]:
        if not worker.opened.discard(sid):
            raise HTTPException(404, f"unknown session {sid!r}")
        return {"dropped": scorer.drop_session(sid)}

    @app.post("/v1/score", response_model=ScoreResponse, max_body_size=limit)
    async def score(body: ScoreRequest) -> ScoreResponse:
        if len(body.candidates) > cfg.max_candidates:
            raise HTTPException(
                422, f"{len(body.candidates)} candidates; at most {cfg.max_candidates} per request"
            )
        try:
            res: ScoreResult = await asyncio.wrap_future(worker.submit(body))
        except UnknownSession:
            raise HTTPException(
                404, f"unknown session {body.session!r}; open it with POST /v1/sessions"
            ) from None
        except ContextTooLong as e:
            raise HTTPException(413, str(e)) from None
        except SerializeError as e:
            raise HTTPException(422, str(e)) from None
        except Exception as e:  # noqa: BLE001 - report one failed request, keep serving
            log.exception("scoring failed")
            raise HTTPException(500, f"scoring failed: {type(e).__name__}: {e}") from None
        return ScoreResponse(
            values=res.values,
            prefix_tokens=res.prefix_tokens,
            cached_tokens=res.cached_tokens,
            candidate_tokens=res.candidate_tokens,
        )

    return app


def build_scorer(cfg: ServeConfig) -> Scorer:
    """Load the checkpoint onto the configured device and dtype."""
    from critic.model import load_critic, resolve_device, resolve_dtype

    if not cfg.checkpoint:
        raise CriticSetupError(
            "serve.checkpoint is empty: pass --checkpoint DIR (a folder written by `critic train`)"
        )
    device = resolve_device(cfg.device)
    model, tokenizer = load_critic(cfg.checkpoint, device, resolve_dtype(cfg.dtype, device))
    return Scorer(
        model,
        tokenizer,
        cfg.max_context,
        cfg.max_batch_tokens,
        cache_bytes(cfg, device),
        cfg.max_batch_kv,
        cfg.max_batch_rows,
    )


def cache_bytes(cfg: ServeConfig, device: torch.device) -> int:
    """The session cache budget: the configured bytes, or for `auto` half the GPU memory still free
    (call after loading the model) or 4 GiB on CPU."""
    if cfg.cache_bytes != "auto":
        return cfg.cache_bytes
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2
    return 4 << 30


def serve(cfg: ServeConfig) -> None:
    """Load the critic and serve it until interrupted."""
    import uvicorn

    limit_arenas(MALLOC_ARENAS)  # before the model loads: its tensors come from these arenas
    app = create_app(build_scorer(cfg), cfg)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="info")


class ServerThread:
    """uvicorn in a background thread on an ephemeral port (tests, demos): `with ServerThread(app) as url:`."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="critic-server", daemon=True)
        self.url = ""

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the critic server did not start")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
