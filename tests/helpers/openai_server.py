"""A loopback OpenAI-compatible chat-completions server that replays scripted replies.

Use it to drive the real `openai` client (and so OpenAIPolicy) in tests, without a network:

    from tests.helpers.openai_server import OpenAIServer, Reply, Error

    with OpenAIServer([Error(429), "first reply", Reply(["a", "b"])]) as server:
        policy = make_policy("test-model", base_url=server.url, api_key="sk-test", retry_wait=0)
        policy.sample(messages)            # retried after the 429, gets "first reply"
        server.completions[-1].body        # the JSON the client sent; .headers too
                                           # (server.requests holds every request, GETs included)

Each POST /v1/chat/completions consumes the next script item:
  - a str: one choice with that text (repeated for each of the request's `n`);
  - Reply(texts, prompt_tokens=None, completion_tokens=None, delay=0, cached_tokens=None): choices
    from `texts` (cycled to the request's `n`); usage counted once per request as characters / 4
    unless given, with `prompt_tokens_details.cached_tokens` when `cached_tokens` is given (as OpenAI
    and vLLM report the prompt's cached prefix);
  - Error(status, message=..., code=None, type=None, headers=None, delay=0): an error response
    with OpenAI's JSON error body, e.g. Error(401), Error(400, "maximum context length is 8192 tokens",
    code="context_length_exceeded");
  - Logprobs(top): a one-token answer (the likeliest of `top`) whose `logprobs` carry `top`
    ({token: logprob}) as the first token's `top_logprobs`, cut to the request's `top_logprobs`;
    only when the request asks for `logprobs` (else the answer alone, as a plain reply);
  - a callable(body: dict) -> any of the above, decided per request: `judge_rule(...)` is one that
    computes an LLM judge's answer from the prompt by a fixed rule (a marker in the text it judges).
When the script is empty the server answers `default` (if given) or a 400 saying so.
`supports_n=False` makes it reject n > 1 with a 400, like servers without `n`.
GET /v1/models lists `model`, or answers `models_error` (e.g. Error(401)) when given. The server runs on 127.0.0.1 in a daemon thread; port 0 picks a free one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.helpers.loopback import JSONHandler, LoopbackServer


@dataclass
class Reply:
    """A successful chat completion with one choice per text."""

    texts: list[str] | str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    delay: float = 0.0
    cached_tokens: int | None = None


@dataclass
class Error:
    """An error response with OpenAI's error body."""

    status: int
    message: str = ""
    code: str | None = None
    type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Logprobs:
    """A one-token answer with its top log-probabilities ({token: logprob})."""

    top: dict[str, float]
    prompt_tokens: int | None = None
    delay: float = 0.0

    @property
    def token(self) -> str:
        return max(self.top, key=lambda t: self.top[t])


Scripted = str | Reply | Error | Logprobs | Callable[[dict[str, Any]], Any]


def judged_text(body: dict[str, Any]) -> str:
    """What an LLM judge's prompt asks about: the text after the last `<action>` of its last message
    (critic.clients.judge's templates put the candidate, or the final reply and patch, there)."""
    messages = body.get("messages") or [{}]
    text = str(messages[-1].get("content", ""))
    return text.rsplit("<action>", 1)[-1]


def judge_rule(
    markers: dict[str, float], default: float = 0.5, logprobs: bool = True
) -> Callable[[dict[str, Any]], Any]:
    """A fixed rule for a loopback LLM judge: P(YES) = markers[m] for the first marker m found in the
    judged text (`judged_text`), else `default`. The YES mass is split over two variants (`YES` 0.7,
    ` Yes` 0.3) and a third token ` Maybe` takes 0.1 of the whole, so that a judge which sums the
    variants and ignores the rest scores exactly P(YES). A request without `logprobs` gets YES or NO
    sampled with that probability (seeded by the prompt and the request's position), and so does every
    request when `logprobs` is False (a server that returns no log-probabilities)."""
    import math
    import random

    counter = iter(range(10**9))

    def rule(body: dict[str, Any]) -> Any:
        text = judged_text(body)
        p = next((v for m, v in markers.items() if m in text), default)
        if logprobs and body.get("logprobs"):
            top = {"YES": 0.9 * 0.7 * p, " Yes": 0.9 * 0.3 * p, "NO": 0.9 * (1 - p), " Maybe": 0.1}
            return Logprobs({t: math.log(v) for t, v in top.items() if v > 0})
        rng = random.Random(f"{text}:{next(counter)}")
        n = int(body.get("n") or 1)
        return Reply(["YES" if rng.random() < p else "NO" for _ in range(n)])

    return rule


@dataclass
class Request:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class OpenAIServer(LoopbackServer):
    """Scripted chat-completions server on 127.0.0.1 (a context manager)."""

    def __init__(
        self,
        script: Iterable[Scripted] = (),
        default: Scripted | None = None,
        supports_n: bool = True,
        model: str = "test-model",
        port: int = 0,
        models_error: Error | None = None,
    ) -> None:
        self.script: deque[Scripted] = deque(script)
        self.default = default
        self.supports_n = supports_n
        self.model = model
        self.models_error = models_error
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        super().__init__(port)

    @property
    def url(self) -> str:
        """Base URL for the openai client, e.g. http://127.0.0.1:PORT/v1."""
        return f"{self.origin}/v1"

    @property
    def completions(self) -> list[Request]:
        """The chat-completion requests received, in order."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def push(self, *items: Scripted) -> None:
        """Append items to the script."""
        with self._lock:
            self.script.extend(items)

    # ------------------------------------------------------------ request handling

    def _next(self, body: dict[str, Any]) -> Scripted:
        with self._lock:
            item = self.script.popleft() if self.script else self.default
        if item is None:
            return Error(400, "scripted server: the script has no reply left", type="invalid_request_error")
        while callable(item):
            item = item(body)
        return item

    def _respond(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        n = int(body.get("n") or 1)
        if n > 1 and not self.supports_n:
            return 400, _error_body(Error(400, "only n=1 is supported", type="invalid_request_error")), {}
        item = self._next(body)
        if isinstance(item, str):
            item = Reply([item])
        if isinstance(item, Logprobs):
            return self._logprobs(body, item, n)
        if isinstance(item, Error):
            time.sleep(item.delay)
            return item.status, _error_body(item), item.headers
        time.sleep(item.delay)
        texts = [item.texts] if isinstance(item.texts, str) else list(item.texts)
        texts = [texts[i % len(texts)] for i in range(n)]
        prompt = item.prompt_tokens
        if prompt is None:
            prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        completion = item.completion_tokens
        if completion is None:
            completion = sum(max(1, len(t) // 4) for t in texts)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if item.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": item.cached_tokens}
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": t},
                "finish_reason": "stop",
                "logprobs": None,
            }
            for i, t in enumerate(texts)
        ]
        return 200, self._completion(body, choices, usage), {}

    def _completion(
        self, body: dict[str, Any], choices: list[dict[str, Any]], usage: dict[str, Any]
    ) -> dict[str, Any]:
        """A chat.completion body, as the OpenAI API shapes it."""
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": choices,
            "usage": usage,
        }

    def _logprobs(
        self, body: dict[str, Any], item: Logprobs, n: int
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """A one-token answer; with `logprobs` asked for, the first token's top log-probabilities too."""
        time.sleep(item.delay)
        want = int(body.get("top_logprobs") or 0)
        ranked = sorted(item.top.items(), key=lambda kv: -kv[1])[:want]
        logprobs = None
        if body.get("logprobs"):
            first = {"token": item.token, "logprob": item.top[item.token], "bytes": None}
            first["top_logprobs"] = [{"token": t, "logprob": lp, "bytes": None} for t, lp in ranked]
            logprobs = {"content": [first], "refusal": None}
        prompt = item.prompt_tokens
        if prompt is None:
            prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        choice = {"message": {"role": "assistant", "content": item.token}, "finish_reason": "length"}
        choices = [{"index": i, **choice, "logprobs": logprobs} for i in range(n)]
        usage = {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}
        return 200, self._completion(body, choices, usage), {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(JSONHandler):
            def do_GET(self) -> None:
                server.requests.append(Request(self.path, dict(self.headers), {}))
                if self.path.rstrip("/").endswith("/models") and server.models_error:
                    self._send(server.models_error.status, _error_body(server.models_error))
                elif self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._send(404, _error_body(Error(404, f"no route {self.path}")))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, _error_body(Error(400, "body is not JSON")))
                    return
                with server._lock:
                    server.requests.append(Request(self.path, dict(self.headers), body))
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, _error_body(Error(404, f"no route {self.path}")))
                    return
                status, payload, headers = server._respond(body)
                self._send(status, payload, headers)

        return Handler


def _error_body(error: Error) -> dict[str, Any]:
    default_type = {401: "authentication_error", 429: "rate_limit_error"}.get(error.status, "server_error")
    return {
        "error": {
            "message": error.message or f"scripted error {error.status}",
            "type": error.type or default_type,
            "param": None,
            "code": error.code,
        }
    }
