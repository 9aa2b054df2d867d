"""Critic clients that satisfy critic.protocol.Critic: HTTPCritic (a served critic), LocalCritic (in-process)."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from agent import deadline
from agent.types import Message, Usage
from critic.errors import CriticUnavailable
from critic.protocol import CriticCall, score_last_turn

log = logging.getLogger(__name__)


class CriticRequestError(ValueError):
    """The critic server refused the request (4xx); the message says why."""


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in (502, 503, 504)


class HTTPCritic:
    """Q(s, a) from one or more `swe-search critic serve` replicas over HTTP.

    With `session` (an id, or True for a fresh random one) the server keeps the KV cache of this
    run's history between steps, so each step costs about its new tokens. Use one session per run
    (`with_session()` gives a copy with a new one); omit it when one client serves many runs.

    Several servers (a list, or URLs joined by commas): a session stays on one of them, chosen by a
    hash of its id, so that its cache is reused; when that server stops answering the session moves
    to the next one (its cache is rebuilt there once). Calls without a session rotate over the
    servers. Every request names its session in an `X-Critic-Session` header too, so that a load
    balancer in front of the replicas can route by it instead.
    """

    def __init__(
        self,
        url: str | Sequence[str],
        timeout: float = 120.0,
        session: str | bool | None = None,
        retries: int = 3,
    ) -> None:
        urls = url.split(",") if isinstance(url, str) else list(url)
        self.urls = [u.strip().rstrip("/") for u in urls if u.strip()]
        if not self.urls:
            raise ValueError("no critic URL given")
        self.timeout = timeout
        self.retries = retries
        self.session = uuid.uuid4().hex if session is True else (session or None)
        self._at = zlib.crc32(self.session.encode()) % len(self.urls) if self.session else 0
        self._opened = False
        self._http = httpx.Client(timeout=timeout)
        self.last: dict[str, Any] = {}
        """The last answer: values, and the server's counts (ours: prefix_tokens, cached_tokens)."""
        self.last_call = CriticCall()
        """What the last score call consumed, from the server's counts (critic.protocol.last_call)."""

    @property
    def url(self) -> str:
        """The server this client talks to now."""
        return self.urls[self._at]

    def with_session(self, session: str | None = None) -> HTTPCritic:
        """A client for the same servers with its own session (one per agent run)."""
        return HTTPCritic(self.urls, self.timeout, session=session or True, retries=self.retries)

    @staticmethod
    def _down(urls: list[str]) -> CriticUnavailable:
        return CriticUnavailable(
            f"critic at {', '.join(urls)} is not answering; start it with "
            "`swe-search critic serve --checkpoint DIR --port PORT` or pass another --critic URL"
        )

    def _call(self, method: str, path: str, json: Any = None, url: str | None = None) -> dict[str, Any]:
        base = url or self.url
        headers = {"X-Critic-Session": self.session} if self.session else None
        end = deadline.current()  # the agent run's deadline, if any: attempts and waits end by it
        backoff = wait_exponential(multiplier=0.2, max=5.0)

        @retry(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.retries),
            wait=lambda rs: (
                backoff(rs) if end is None else max(0.0, min(backoff(rs), end - time.monotonic()))
            ),
            reraise=True,
        )
        def once() -> httpx.Response:
            timeout = deadline.bound(self.timeout, end, f"the critic at {base}")
            r = self._http.request(method, base + path, json=json, headers=headers, timeout=timeout)
            if r.status_code >= 500:
                r.raise_for_status()
            return r

        try:
            r = once()
        except httpx.TransportError as e:
            if deadline.passed(end):
                raise deadline.DeadlineExceeded(
                    f"the run's time ran out waiting for the critic at {base}"
                ) from e
            raise self._down([base]) from e
        except httpx.HTTPStatusError as e:
            raise CriticRequestError(
                f"critic at {base} failed: {e.response.status_code} {_detail(e.response)}"
            ) from e
        if r.status_code >= 400:
            raise CriticRequestError(f"critic at {base} refused {path} ({r.status_code}): {_detail(r)}")
        return r.json() if r.content else {}

    def health(self) -> dict[str, Any]:
        """/health of the server (of each, under `servers`, when there are several); raises
        CriticUnavailable naming those that are down (fail fast)."""
        answers, down = {}, []
        for url in self.urls:
            try:
                answers[url] = self._health_of(url)
            except CriticUnavailable:
                down.append(url)
        if down:
            raise self._down(down)
        return answers[self.url] if len(self.urls) == 1 else {"status": "ok", "servers": answers}

    def _health_of(self, url: str) -> dict[str, Any]:
        return self._call("GET", "/health", url=url)

    def score(self, history: list[Message], candidates: list[str]) -> list[float]:
        body, extra = self._score_body(history, candidates)
        if not self.session:
            self._at = (self._at + 1) % len(self.urls)
        for tried in range(1, len(self.urls) + 1):
            try:
                answer = self._score_here(body)
                break
            except CriticUnavailable:
                if tried == len(self.urls):
                    raise self._down(self.urls) from None
                gone, self._at, self._opened = self.url, (self._at + 1) % len(self.urls), False
                log.warning("critic at %s is not answering; going on with %s", gone, self.url)
        self.last = {**self._read_answer(answer, body), **extra}
        self.last_call = CriticCall(usage=self._usage(self.last))
        return self.last["values"]

    # The three steps a backend can change (critic.clients.vllm does): the request body (plus what to add to
    # `last`), one scoring call on the current server, and reading the values out of its answer.
    def _score_body(self, history: list[Message], candidates: list[str]) -> tuple[dict[str, Any], dict]:
        body: dict[str, Any] = {"messages": history, "candidates": candidates}
        if self.session:
            body["session"] = self.session
        return body, {}

    def _read_answer(self, answer: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return {**answer, "values": [float(v) for v in answer["values"]]}

    def _usage(self, last: dict[str, Any]) -> Usage:
        """What the answer says was consumed (critic.vllm reads vLLM's own usage)."""
        return scoring_usage(last)

    def _score_here(self, body: dict[str, Any]) -> dict[str, Any]:
        """One /v1/score on the current server, opening the session there first if needed."""
        if self.session and not self._opened:
            self._call("POST", "/v1/sessions", {"session": self.session})
            self._opened = True
        try:
            return self._call("POST", "/v1/score", body)
        except CriticRequestError as e:
            if self.session and "unknown session" in str(e):  # the server restarted: open it again
                self._call("POST", "/v1/sessions", {"session": self.session})
                return self._call("POST", "/v1/score", body)
            raise

    def score_final(self, messages: list[Message]) -> float:
        """Q of the last assistant turn after the history before it (critic.protocol.score_last_turn)."""
        return score_last_turn(self, messages)

    def close(self) -> None:
        """Free the server's cache for this session and close the connection."""
        if self.session and self._opened:
            with contextlib.suppress(CriticUnavailable, CriticRequestError):
                self._call("DELETE", f"/v1/sessions/{self.session}")
        self._http.close()

    def __enter__(self) -> HTTPCritic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scoring_usage(counts: dict[str, Any]) -> Usage:
    """Our scorer's counts as a Usage: the history once (its cached part apart) plus every candidate."""
    prompt = int(counts.get("prefix_tokens") or 0) + int(counts.get("candidate_tokens") or 0)
    return Usage(prompt_tokens=prompt, cached_prompt_tokens=int(counts.get("cached_tokens") or 0))


def _detail(r: httpx.Response) -> str:
    """The error message of a refusal: our server's `detail`, vLLM's and OpenAI's `error.message`."""
    try:
        body = r.json()
    except ValueError:
        return r.text
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if body.get("detail"):
            return str(body["detail"])
    return r.text


class LocalCritic:
    """The critic in this process (tests, CPU use): same scoring path as the server, with a session."""

    def __init__(
        self,
        checkpoint: str | Path | tuple[Any, Any],
        device: str = "auto",
        dtype: str = "auto",
        max_context: int = 32768,
        max_batch_tokens: int = 8192,
        cache_bytes: int = 1 << 30,
        session: str | None = "local",
    ) -> None:
        from critic.model import load_critic, resolve_device, resolve_dtype
        from critic.serve.scoring import Scorer

        if isinstance(checkpoint, tuple):
            model, tokenizer = checkpoint
        else:
            dev = resolve_device(device)
            model, tokenizer = load_critic(checkpoint, dev, resolve_dtype(dtype, dev))
        self.scorer = Scorer(model, tokenizer, max_context, max_batch_tokens, cache_bytes)
        self.session = session
        self.last: Any = None
        self.last_call = CriticCall()

    def with_session(self, session: str | None = None) -> LocalCritic:
        """A critic sharing this model with its own session cache entry."""
        other = object.__new__(LocalCritic)
        other.scorer, other.session, other.last = self.scorer, session or uuid.uuid4().hex, None
        other.last_call = CriticCall()
        return other

    def score(self, history: list[Message], candidates: list[str]) -> list[float]:
        self.last = self.scorer.score(history, candidates, session=self.session)
        self.last_call = CriticCall(usage=scoring_usage(vars(self.last)))
        return self.last.values

    def score_final(self, messages: list[Message]) -> float:
        """Q of the last assistant turn after the history before it (critic.protocol.score_last_turn)."""
        return score_last_turn(self, messages)
