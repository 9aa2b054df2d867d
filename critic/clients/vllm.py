"""The critic served by vLLM: `--critic vllm+http://host:8000[,http://host2:8000]?tokenizer=CKPT`.

vLLM serves the checkpoint (an HF `*ForSequenceClassification` folder with one label) as a pooling
model; critic/README.md ("Serving on vLLM") has the command and the facts below, with references
into vLLM's source. How our value definition and vLLM's are made to agree:

- Tokens are ours: this client serializes with the checkpoint's tokenizer (critic.serialize: the
  same marker rule, defusing and truncation as our server) and sends token ids. Each candidate is one
  input, history + candidate, ending at the `<|value|>` marker. vLLM's classify pooler reads the
  hidden state of the last token (LAST pooling, its default for decoder models): the marker, the
  position our scorer reads.
- The activation is ours: requests ask for `use_activation: false`, so `probs` holds the raw logit
  of the score head (vLLM computes it in fp32); the client applies the sigmoid, as
  `critic.model.values_from_hidden` does. `health()` checks that the server honours this.
- Prefix caching does the sessions' job: the K inputs of a step share the history tokens, and step
  t+1's history extends step t's (critic.serialize keeps token prefixes stable), so vLLM's automatic
  prefix caching computes a step's new tokens once. A session only keeps its run on one replica
  (picked by a hash of its id, as HTTPCritic does), where its cached blocks are.

Timeouts, retries (transport errors, 502/503/504), moving to the next replica and the typed errors
are HTTPCritic's; only the request, the answer and the health check differ.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from agent.types import Message, Usage
from critic.clients.http import CriticRequestError, HTTPCritic
from critic.errors import CriticSetupError, CriticUnavailable
from critic.serialize import VALUE_TOKEN, SerializeError, Serializer, compression_from_config

log = logging.getLogger(__name__)

SCHEME = "vllm+"
"""The prefix of a `--critic` spec that names vLLM servers."""

SPEC_OPTIONS = {
    "tokenizer": "the critic checkpoint folder (or a copy of its tokenizer files and config.json); required",
    "model": "the served model name, when the server serves several (default: the first it lists)",
    "max_context": "the token budget per input (default: critic_max_context, capped by max_model_len)",
}
"""The query options of a `vllm+http://...?KEY=VALUE&...` spec."""


class CriticProtocolError(CriticRequestError):
    """A server that answers, but not as a one-label critic served by vLLM must."""


def sigmoid(x: float) -> float:
    """The value of a logit (overflow-free for either sign)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def load_serializer(path: str | Path, max_context: int | None = None) -> Serializer:
    """The checkpoint's tokenizer as a Serializer, with its marker, activation and context from
    `config.json` (no weights are read; torch is not needed)."""
    from transformers import AutoTokenizer

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise CriticSetupError(
            f"tokenizer folder {folder} does not exist; pass ?tokenizer= the critic checkpoint folder "
            "(the one `vllm serve` loads, or a copy of its tokenizer files and config.json)"
        )
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    activation = config.get("critic_activation", "sigmoid")
    if activation != "sigmoid":
        raise CriticSetupError(f"{config_file}: critic_activation {activation!r}; this client knows sigmoid")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return Serializer(
            tokenizer,
            max_context or int(config.get("critic_max_context", 32768)),
            config.get("critic_value_token", VALUE_TOKEN),
            compression=compression_from_config(config),
        )
    except (OSError, ValueError) as e:
        raise CriticSetupError(f"{folder} holds no critic tokenizer: {e}") from e


def parse_spec(spec: str) -> tuple[list[str], dict[str, str]]:
    """(server URLs, options) of `vllm+http://a:8000,http://b:8000?tokenizer=DIR&model=NAME`.
    Replicas after the first may omit `vllm+` and `http://`."""
    if not spec.startswith(SCHEME):
        raise ValueError(f"--critic {spec!r}: a vLLM critic is named vllm+http://HOST:PORT?tokenizer=DIR")
    rest, _, query = spec[len(SCHEME) :].partition("?")
    urls = []
    for part in (p.strip() for p in rest.split(",")):
        if not part:
            continue
        part = part.removeprefix(SCHEME)
        urls.append(part if part.startswith(("http://", "https://")) else f"http://{part}")
    raw = parse_qs(query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(raw) - set(SPEC_OPTIONS))
    if unknown:
        known = "; ".join(f"{k}: {v}" for k, v in SPEC_OPTIONS.items())
        raise ValueError(f"--critic {spec!r}: unknown option {', '.join(unknown)} (options: {known})")
    options = {k: v[-1] for k, v in raw.items()}
    if not options.get("tokenizer"):
        raise ValueError(
            f"--critic {spec!r} needs ?tokenizer=DIR, the critic checkpoint folder: the client "
            "serializes with its tokenizer, so that the marker rule stays ours"
        )
    return urls, options


class VLLMCritic(HTTPCritic):
    """Q(s, a) from one or more vLLM servers that serve a critic checkpoint (`POST /classify`).

    `tokenizer` is the checkpoint folder (or a Serializer already made from it). With `session`, a
    run stays on one replica so that vLLM's prefix cache holds its history; there is nothing to open
    or close on the server. `last` holds the values, the raw logits and the token counts.
    """

    def __init__(
        self,
        url: str | list[str],
        tokenizer: str | Path | Serializer,
        timeout: float = 120.0,
        session: str | bool | None = None,
        retries: int = 3,
        model: str | None = None,
        max_context: int | None = None,
    ) -> None:
        super().__init__(url, timeout, session=session, retries=retries)
        if isinstance(tokenizer, Serializer):
            self.serializer = tokenizer
        else:
            self.serializer = load_serializer(tokenizer, max_context)
        self.model = model

    @classmethod
    def from_spec(cls, spec: str, timeout: float = 120.0, retries: int = 3) -> VLLMCritic:
        """The client for a `--critic vllm+http://...?tokenizer=DIR` spec (see SPEC_OPTIONS)."""
        urls, options = parse_spec(spec)
        max_context = options.get("max_context")
        if max_context is not None and not max_context.isdigit():
            raise ValueError(f"--critic {spec!r}: max_context must be a number of tokens")
        return cls(
            urls,
            options["tokenizer"],
            timeout,
            retries=retries,
            model=options.get("model") or None,
            max_context=int(max_context) if max_context else None,
        )

    def with_session(self, session: str | None = None) -> VLLMCritic:
        """A client for the same servers (and the same tokenizer) pinned to a replica by `session`."""
        return VLLMCritic(self.urls, self.serializer, self.timeout, session or True, self.retries, self.model)

    def _down(self, urls: list[str]) -> CriticUnavailable:  # type: ignore[override]
        return CriticUnavailable(
            f"vLLM critic at {', '.join(urls)} is not answering; start it with "
            "`vllm serve CHECKPOINT --runner pooling --convert classify ...` (critic/README.md) "
            "or pass another --critic"
        )

    # -- the three steps HTTPCritic.score leaves to a backend -------------------------------------
    def _score_body(self, history: list[Message], candidates: list[str]) -> tuple[dict[str, Any], dict]:
        try:
            inp = self.serializer.for_scoring(history, candidates)
        except SerializeError as e:
            raise CriticRequestError(f"cannot score for the vLLM critic at {self.url}: {e}") from e
        inputs = [inp.history + cand for cand in inp.candidates]
        return self._classify_body(inputs), {"prefix_tokens": len(inp.history), "dropped_turns": inp.dropped}

    def _score_here(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/classify", body)

    def _read_answer(self, answer: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        logits = self._logits(answer, len(body["input"]), self.url)
        usage = answer.get("usage") or {}
        return {
            "values": [sigmoid(x) for x in logits],
            "logits": logits,
            "prompt_tokens": usage.get("prompt_tokens"),
        }

    def _usage(self, last: dict[str, Any]) -> Usage:
        """vLLM's own count of the classify request's tokens (every input, history included)."""
        return Usage(prompt_tokens=int(last.get("prompt_tokens") or 0))

    # -- vLLM's protocol --------------------------------------------------------------------------
    def _classify_body(self, inputs: list[list[int]], use_activation: bool = False) -> dict[str, Any]:
        # add_special_tokens: our serializer already placed every token (token ids are not
        # re-tokenized by vLLM, so this only guards a server that would add a BOS)
        body: dict[str, Any] = {
            "input": inputs,
            "use_activation": use_activation,
            "add_special_tokens": False,
        }
        if self.model:
            body["model"] = self.model
        return body

    @staticmethod
    def _logits(answer: dict[str, Any], n: int, url: str) -> list[float]:
        """One logit per input from a /classify answer, in input order; CriticProtocolError if the
        answer is not that of a one-label model."""
        data = answer.get("data")
        if not isinstance(data, list) or len(data) != n:
            raise CriticProtocolError(f"vLLM at {url} answered {n} inputs with {answer!r:.300}")
        out: list[float] = [math.nan] * n
        for item in data:
            probs = item.get("probs") if isinstance(item, dict) else None
            index = item.get("index") if isinstance(item, dict) else None
            if not isinstance(index, int) or not 0 <= index < n or not isinstance(probs, list):
                raise CriticProtocolError(
                    f"vLLM at {url} answered an item without index/probs: {item!r:.300}"
                )
            if len(probs) != 1:
                raise CriticProtocolError(
                    f"vLLM at {url} serves a model with {len(probs)} labels; a critic has one "
                    "(serve a checkpoint written by `swe-search critic train`)"
                )
            out[index] = float(probs[0])
        if not all(math.isfinite(x) for x in out):
            raise CriticProtocolError(f"vLLM at {url} answered non-finite or missing logits: {out}")
        return out

    def _health_of(self, url: str) -> dict[str, Any]:
        """GET /health, the served model from /v1/models (its max_model_len caps our context), and a
        one-token probe that the server returns raw logits when asked (vLLM >= 0.16 does)."""
        self._call("GET", "/health", url=url)
        cards = self._call("GET", "/v1/models", url=url).get("data") or []
        names = [c.get("id") for c in cards if isinstance(c, dict)]
        name = self.model or (names[0] if names else None)
        if self.model and self.model not in names:
            raise CriticProtocolError(f"vLLM at {url} serves {names}, not the model {self.model!r}")
        card = next((c for c in cards if c.get("id") == name), {})
        limit = card.get("max_model_len")
        if isinstance(limit, int) and 0 < limit < self.serializer.max_tokens:
            log.info("vLLM at %s has max_model_len %d: inputs are truncated to it", url, limit)
            self.serializer.max_tokens = limit
        probe = [[self.serializer.marker_id]]
        raw = self._logits(self._call("POST", "/classify", self._classify_body(probe), url=url), 1, url)[0]
        body = self._classify_body(probe, use_activation=True)
        activated = self._logits(self._call("POST", "/classify", body, url=url), 1, url)[0]
        if abs(sigmoid(raw) - activated) > 1e-3:
            raise CriticProtocolError(
                f"vLLM at {url} does not answer raw logits with use_activation=false (got {raw:.6g}, "
                f"and {activated:.6g} with it true; expected sigmoid of the first): use vLLM 0.16 or "
                "newer, and a checkpoint whose config.json sets no problem_type or sentence-transformers "
                "activation"
            )
        return {
            "status": "ok",
            "backend": "vllm",
            "model": name,
            "max_model_len": limit,
            "max_context": self.serializer.max_tokens,
        }
