"""A loopback server that speaks vLLM's classify protocol, backed by a real transformers critic.

It stands in for `vllm serve CHECKPOINT --runner pooling --convert classify` (vLLM 0.33's
entrypoints, see critic/README.md "Serving on vLLM") in tests that have no GPU:

    with VLLMServer(checkpoint) as server:           # a folder written by critic.model.save_critic
        critic = VLLMCritic(server.url, checkpoint)
        server.fail(503, "drop")                      # the next two requests: a 503, a dropped connection
        server.classify_requests[-1].body             # the JSON the client sent

    GET  /health     -> 200, empty body
    GET  /v1/models  -> {"object": "list", "data": [{"id", "object": "model", "root", "max_model_len", ...}]}
    POST /classify   {input: ids | [ids, ...] | str | [str, ...], use_activation?, add_special_tokens?,
                      model?, ...} -> {"id", "object": "list", "created", "model",
                      "data": [{"index", "label", "probs", "num_classes"}], "usage": {...}}

Each input is scored as vLLM's classify pooler does for a decoder model: the score head applied to
the hidden state of the input's last token (LAST pooling), in fp32; then, unless the request says
`use_activation: false`, sigmoid for one label (softmax for more). `honour_use_activation=False`
mimics a server older than the field (it always applies the activation).

Errors use vLLM's shape, {"error": {"message", "type", "param", "code"}}: a malformed body, a wrong
content type, a token id out of vocabulary, an input over `max_model_len` or an unknown model are
400s, an unknown path a 404. Scripted faults (`fail`) answer a status with that shape, or ("drop")
close the connection without answering.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import torch

from critic.model import backbone, head, load_critic
from tests.helpers.loopback import JSONHandler, LoopbackServer

PHRASES = {
    400: "Bad Request",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class BadRequest(ValueError):
    """A request vLLM answers with a 400; `param` names the field, as vLLM's does."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class VLLMServer(LoopbackServer):
    """A vLLM classify server on 127.0.0.1 (a context manager) around a critic checkpoint."""

    def __init__(
        self,
        checkpoint: str | Path | tuple[Any, Any],
        served_model_name: str = "critic",
        max_model_len: int = 4096,
        honour_use_activation: bool = True,
        port: int = 0,
    ) -> None:
        if isinstance(checkpoint, tuple):
            self.model, self.tokenizer = checkpoint
            self.root = "in-memory"
        else:
            self.model, self.tokenizer = load_critic(checkpoint)
            self.root = str(checkpoint)
        self.name = served_model_name
        self.max_model_len = max_model_len
        self.honour_use_activation = honour_use_activation
        self.requests: list[Request] = []
        self.faults: deque[int | str] = deque()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        super().__init__(port)

    @property
    def url(self) -> str:
        return self.origin

    @property
    def classify_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/classify"]

    def fail(self, *faults: int | str) -> None:
        """Answer the next requests with these faults, one each: an HTTP status, or "drop"."""
        with self._lock:
            self.faults.extend(faults)

    def stop(self) -> None:
        """Stop serving and cut the open keep-alive connections too, as a dead server would."""
        super().stop()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    # ------------------------------------------------------------------------------- the model
    @torch.inference_mode()
    def _pool(self, ids: list[int]) -> list[float]:
        """Logits of the score head at the last token, in fp32 (vLLM's head_dtype for pooling)."""
        with self._model_lock:
            device = next(self.model.parameters()).device
            hidden = backbone(self.model)(input_ids=torch.tensor([ids], device=device), use_cache=False)
            last = hidden.last_hidden_state[0, -1]
            score = head(self.model)
            logits = torch.nn.functional.linear(last.float(), score.weight.float())
            return [float(x) for x in logits]

    @staticmethod
    def _activate(logits: list[float]) -> list[float]:
        x = torch.tensor(logits)
        return (torch.sigmoid(x) if len(logits) < 2 else torch.softmax(x, dim=-1)).tolist()

    def _prompts(self, body: dict[str, Any]) -> list[list[int]]:
        if "normalize" in body:
            raise BadRequest("Parameter `normalize` was removed; use `use_activation` instead.", "normalize")
        if body.get("model") not in (None, self.name):
            raise BadRequest(f"The model `{body['model']}` does not exist.", "model")
        inp = body.get("input")
        if isinstance(inp, str) or (isinstance(inp, list) and inp and all(isinstance(t, int) for t in inp)):
            inp = [inp]
        if not isinstance(inp, list):
            raise BadRequest("1 validation error: input must be a list of token ids or strings", "input")
        if not inp:
            raise BadRequest("You must pass at least one prompt")
        vocab = self.model.get_input_embeddings().num_embeddings
        prompts = []
        for prompt in inp:
            if isinstance(prompt, str):
                add = bool(body.get("add_special_tokens", True))
                prompt = self.tokenizer(prompt, add_special_tokens=add)["input_ids"]
            if not isinstance(prompt, list) or not all(type(t) is int for t in prompt):
                raise BadRequest("1 validation error: each input must be a list of token ids", "input")
            if not prompt:
                raise BadRequest("The prompt cannot be empty", "input")
            bad = [t for t in prompt if not 0 <= t < vocab]
            if bad:
                raise BadRequest(f"Token id {bad[0]} is out of vocabulary", "input")
            if len(prompt) > self.max_model_len:
                raise BadRequest(
                    f"This model's maximum context length is {self.max_model_len} tokens. However, your "
                    f"prompt contains {len(prompt)} input tokens, which exceeds this limit even without "
                    "any output tokens. Please reduce the length of the input prompt.",
                    "input_tokens",
                )
            prompts.append(prompt)
        flag = body.get("use_activation")
        if flag is not None and not isinstance(flag, bool):
            raise BadRequest("1 validation error: use_activation must be a boolean", "use_activation")
        return prompts

    def _classify(self, body: dict[str, Any]) -> dict[str, Any]:
        prompts = self._prompts(body)
        use_activation = body.get("use_activation")
        activate = use_activation is not False or not self.honour_use_activation
        id2label = getattr(self.model.config, "id2label", {}) or {}
        data = []
        for i, ids in enumerate(prompts):
            probs = self._pool(ids)
            if activate:
                probs = self._activate(probs)
            best = max(range(len(probs)), key=probs.__getitem__)
            data.append({"index": i, "label": id2label.get(best), "probs": probs, "num_classes": len(probs)})
        tokens = sum(len(p) for p in prompts)
        return {
            "id": f"classify-{uuid.uuid4().hex}",
            "object": "list",
            "created": int(time.time()),
            "model": self.name,
            "data": data,
            "usage": {
                "prompt_tokens": tokens,
                "total_tokens": tokens,
                "completion_tokens": 0,
                "prompt_tokens_details": None,
            },
        }

    # ------------------------------------------------------------------------------- HTTP
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(JSONHandler):
            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                super().finish()

            def _error(self, status: int, message: str, param: str | None = None) -> None:
                phrase = PHRASES.get(status, "Error")
                self._send(
                    status, {"error": {"message": message, "type": phrase, "param": param, "code": status}}
                )

            def _fault(self) -> bool:
                with server._lock:
                    fault = server.faults.popleft() if server.faults else None
                if fault is None:
                    return False
                if fault == "drop":  # the connection goes away without an answer
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return True
                self._error(int(fault), f"scripted fault {fault}")
                return True

            def do_GET(self) -> None:
                server.requests.append(Request("GET", self.path, dict(self.headers), None))
                if self._fault():
                    return
                if self.path == "/health":
                    self._send(200, None)
                elif self.path == "/v1/models":
                    card = {
                        "id": server.name,
                        "object": "model",
                        "created": int(time.time()),
                        "owned_by": "vllm",
                        "root": server.root,
                        "parent": None,
                        "max_model_len": server.max_model_len,
                        "permission": [],
                    }
                    self._send(200, {"object": "list", "data": [card]})
                else:
                    self._error(404, "Not Found")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with server._lock:
                    server.requests.append(Request("POST", self.path, dict(self.headers), body))
                if self._fault():
                    return
                if self.path != "/classify":
                    self._error(404, "Not Found")
                    return
                media = self.headers.get("content-type", "").split(";")[0].strip().lower()
                if media != "application/json":
                    self._error(
                        400,
                        "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed",
                    )
                    return
                if not isinstance(body, dict):
                    self._error(
                        400, "1 validation error:\n  {'type': 'json_invalid', 'msg': 'JSON decode error'}"
                    )
                    return
                try:
                    self._send(200, server._classify(body))
                except BadRequest as e:
                    self._error(400, str(e), e.param)

        return Handler
