"""Policy backends: an OpenAI-compatible endpoint, a local transformers model, and a scripted replay.

`make_policy("gpt-4o")`, `make_policy("qwen72b")`, `make_policy("smollm2")` resolve aliases from
configs/models.yaml (extended by ~/.config/swe-search/models.yaml and $SWE_SEARCH_MODELS);
`make_policy("my-model", base_url="http://host:8000/v1")` talks to any OpenAI-compatible server.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import openai
from pydantic import BaseModel, ConfigDict, Field
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from agent import deadline
from agent.config import CONFIG_DIR, read_yaml
from agent.redaction import ScrubLogs, register_secret
from agent.types import Completion, Message

log = logging.getLogger(__name__)
log.addFilter(ScrubLogs())  # its messages name the endpoint, which may carry user:password@

MODELS_ENV = "SWE_SEARCH_MODELS"
USER_MODELS = Path("~/.config/swe-search/models.yaml")
_OVERFLOW_HINTS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "prompt is too long",
)


# ---------------------------------------------------------------- errors


class PolicyError(RuntimeError):
    """A policy could not produce a reply. The run ends with exit status `policy_error`."""


class PolicyAuthError(PolicyError):
    """Missing or rejected credentials. Never retried."""


class PolicyRequestError(PolicyError):
    """The endpoint rejected the request (bad request, unknown model, no quota). Never retried."""


class ContextOverflowError(PolicyError):
    """The prompt does not fit the model's context. The run ends with `context_overflow`."""


class PolicyUnavailableError(PolicyError):
    """The endpoint kept failing (429, 5xx, connection errors) after every retry."""


class UnknownModelError(PolicyError, ValueError):
    """A model name that is neither an alias nor usable with the given arguments."""


class ScriptExhaustedError(PolicyError):
    """A ScriptedPolicy was asked for more replies than it holds."""


# ---------------------------------------------------------------- the registry


class Price(BaseModel):
    """Token prices in USD per million tokens."""

    input: float = Field(0.0, ge=0, description="USD per million prompt tokens.")
    output: float = Field(0.0, ge=0, description="USD per million completion tokens.")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


class ModelSpec(BaseModel):
    """One entry of configs/models.yaml: how to reach a model and what it costs."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str = Field("", description="The alias (filled in from the registry key).")
    backend: Literal["openai", "local"] = Field("openai", description="OpenAI-compatible HTTP or in-process.")
    model: str | None = Field(None, description="Model name sent to the endpoint (defaults to the alias).")
    base_url: str | None = Field(None, description="Endpoint URL, e.g. http://localhost:8000/v1.")
    base_url_env: list[str] = Field(
        default_factory=list, description="Env vars that override base_url, first set wins."
    )
    api_key_env: list[str] = Field(
        default_factory=list, description="Env vars holding the API key, first set wins."
    )
    api_key_required: bool = Field(False, description="Fail before any request when no API key is set.")
    supports_n: bool = Field(True, description="Ask for n completions in one request (falls back on a 400).")
    context_tokens: int | None = Field(None, description="The model's context window, in tokens.")
    max_tokens: int | None = Field(None, description="Completion token limit per reply.")
    temperature: float = Field(0.0, ge=0, description="Default sampling temperature.")
    top_p: float | None = Field(None, description="Nucleus sampling; None leaves the server default.")
    price: Price = Field(default_factory=Price, description="Token prices; zero for local models.")
    timeout: float = Field(600.0, gt=0, description="Seconds per HTTP request.")
    max_attempts: int = Field(
        6, ge=1, description="Attempts per request for transient failures (429, 5xx, network)."
    )
    retry_wait: float = Field(1.0, ge=0, description="Scale of the exponential backoff, in seconds.")
    retry_wait_max: float = Field(60.0, ge=0, description="Longest single wait between attempts, in seconds.")
    concurrency: int = Field(8, ge=1, description="Parallel requests when n completions need n requests.")
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Extra JSON fields for each request."
    )
    path: str | None = Field(None, description="Local backend: a HF model folder.")
    package: str | None = Field(
        None, description="Local backend: a Python package whose folder holds the model."
    )
    gguf_file: str | None = Field(None, description="Local backend: GGUF file name inside the folder.")
    device: str | None = Field(None, description="Local backend: torch device; default cuda when available.")
    dtype: str | None = Field(None, description="Local backend: torch dtype name, e.g. float32, bfloat16.")
    truncate: bool = Field(
        False, description="Local backend: drop the oldest tokens instead of raising on overflow."
    )
    seed: int | None = Field(None, description="Local backend: seed for reproducible sampling.")


def registry_files() -> list[Path]:
    """Registry files in override order: built-in, user config, then $SWE_SEARCH_MODELS."""
    files = [CONFIG_DIR / "models.yaml"]
    xdg = os.environ.get("XDG_CONFIG_HOME")
    user = Path(xdg) / "swe-search" / "models.yaml" if xdg else USER_MODELS.expanduser()
    if user.is_file():
        files.append(user)
    files += [Path(p).expanduser() for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p]
    return files


def load_registry(files: Sequence[Path] | None = None) -> dict[str, ModelSpec]:
    """All model aliases; a later file overrides an earlier one field by field."""
    raw: dict[str, dict[str, Any]] = {}
    for file in registry_files() if files is None else files:
        models = read_yaml(file).get("models", {}) or {}
        for name, entry in models.items():
            raw[name] = {**raw.get(name, {}), **(entry or {})}
    return {name: ModelSpec.model_validate({**entry, "name": name}) for name, entry in raw.items()}


def make_policy(model: str, base_url: str | None = None, api_key: str | None = None, **overrides: Any) -> Any:
    """A Policy for an alias, a local model folder, or any model name at `base_url`.

    Fails fast (PolicyAuthError) when a required API key is missing, before any container starts.
    `overrides` set ModelSpec fields, e.g. temperature=0.9, supports_n=False, retry_wait=0.
    """
    registry = load_registry()
    if model in registry:
        spec = registry[model]
    elif base_url:
        spec = ModelSpec(name=model, model=model, api_key_env=["OPENAI_API_KEY"])
    elif Path(model).expanduser().is_dir():
        spec = ModelSpec(name=Path(model).name, backend="local", path=str(Path(model).expanduser()))
    else:
        raise UnknownModelError(
            f"unknown model {model!r}: use one of {', '.join(sorted(registry))}, a local model folder, "
            f"or pass --base-url for an OpenAI-compatible server (aliases: {', '.join(str(f) for f in registry_files())})"
        )
    spec = spec.model_validate(
        {**spec.model_dump(), **overrides, **({"base_url": base_url} if base_url else {})}
    )
    if spec.backend == "local":
        return LocalPolicy.from_spec(spec)
    return OpenAIPolicy(spec, api_key=api_key, base_url_explicit=base_url is not None)


# ---------------------------------------------------------------- OpenAI-compatible endpoints


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return True
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            return _error_code(exc) != "insufficient_quota"
        return exc.status_code in (408, 409, 425) or exc.status_code >= 500
    return False


def _error_code(exc: openai.APIStatusError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body)
    return inner.get("code") if isinstance(inner, dict) else None


class OpenAIPolicy:
    """A chat model behind an OpenAI-compatible endpoint (OpenAI, vLLM, ...), with retries and cost."""

    def __init__(self, spec: ModelSpec, api_key: str | None = None, base_url_explicit: bool = False) -> None:
        self.spec = spec
        self.base_url = self._resolve_base_url(base_url_explicit)
        self._api_key = api_key or next((os.environ[e] for e in spec.api_key_env if os.environ.get(e)), None)
        register_secret(self._api_key)  # scrubbed from every file and message from now on
        register_secret(self.base_url)  # the password of http://user:password@host, if any
        self.check()
        self._n_supported = spec.supports_n
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=self._api_key or "EMPTY", max_retries=0, timeout=spec.timeout
        )

    def _resolve_base_url(self, explicit: bool) -> str:
        if not explicit:
            for var in self.spec.base_url_env:
                if os.environ.get(var):
                    return os.environ[var]
        return self.spec.base_url or "http://localhost:8000/v1"

    def check(self) -> None:
        """Raise PolicyAuthError now when the model needs an API key and none is set."""
        if self.spec.api_key_required and not self._api_key:
            where = " or ".join(self.spec.api_key_env) or "an API key variable"
            raise PolicyAuthError(
                f"model {self.spec.name!r} needs an API key: set {where} (or pass api_key=/--api-key)"
            )

    def probe(self, timeout: float = 5.0) -> None:
        """One cheap request (GET /models, no retry) before any container: raise when the endpoint does
        not answer (PolicyUnavailableError) or rejects the key (PolicyAuthError); other answers pass,
        as servers without /models are fine."""
        client = self._client.with_options(
            timeout=openai.Timeout(2 * timeout, connect=timeout), max_retries=0
        )
        try:
            client.models.list()
        except openai.APIConnectionError as exc:  # refused, unresolvable, timed out
            raise PolicyUnavailableError(
                f"model endpoint {self.base_url} is not reachable ({exc.__cause__ or exc}); start the "
                "server or pass another --base-url"
            ) from exc
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise self._translate(exc) from exc
        except openai.APIError:  # 404, 5xx, an odd body: the server is there
            pass

    def describe(self) -> dict[str, Any]:
        """The config to record in trajectories: no key, only where it came from."""
        return {
            "backend": "openai",
            **self.spec.model_dump(exclude={"path", "package", "gguf_file"}),
            "base_url": self.base_url,
        }

    def sample(
        self, messages: list[Message], n: int = 1, temperature: float | None = None
    ) -> list[Completion]:
        """n replies to `messages`: one request with `n` when the server allows it, else n in parallel."""
        temperature = self.spec.temperature if temperature is None else temperature
        end = deadline.current()  # read here: the pool's threads below do not see this context
        if n > 1 and self._n_supported:
            try:
                return self._request(messages, n, temperature, end)
            except PolicyRequestError as exc:
                log.warning("%s rejected n=%d (%s); sending %d separate requests", self.base_url, n, exc, n)
                self._n_supported = False
        if n == 1:
            return self._request(messages, 1, temperature, end)
        with ThreadPoolExecutor(max_workers=min(n, self.spec.concurrency)) as pool:
            futures = [pool.submit(self._request, messages, 1, temperature, end) for _ in range(n)]
            return [c for f in futures for c in f.result()]

    def _request(
        self, messages: list[Message], n: int, temperature: float, end: float | None = None
    ) -> list[Completion]:
        """One chat completion with retries; every attempt, wait and timeout ends by `end` (monotonic)."""
        kwargs: dict[str, Any] = {
            "model": self.spec.model or self.spec.name,
            "messages": messages,
            "temperature": temperature,
        }
        if n > 1:
            kwargs["n"] = n
        if self.spec.max_tokens:
            kwargs["max_tokens"] = self.spec.max_tokens
        if self.spec.top_p is not None:
            kwargs["top_p"] = self.spec.top_p
        if self.spec.extra_body:
            kwargs["extra_body"] = self.spec.extra_body
        backoff = wait_random_exponential(multiplier=self.spec.retry_wait, max=self.spec.retry_wait_max)
        retrying = Retrying(
            stop=stop_after_attempt(self.spec.max_attempts),
            wait=lambda rs: (
                backoff(rs) if end is None else max(0.0, min(backoff(rs), end - time.monotonic()))
            ),
            retry=retry_if_exception(_is_transient),
            before_sleep=lambda rs: log.warning(
                "%s: attempt %d failed (%s); retrying",
                self.base_url,
                rs.attempt_number,
                rs.outcome.exception(),
            ),
            reraise=True,
        )
        what = f"a reply from {self.spec.name!r} at {self.base_url}"

        def attempt() -> Any:
            timeout = deadline.bound(self.spec.timeout, end, what)
            return self._client.chat.completions.create(**kwargs, timeout=timeout)

        start = time.monotonic()
        try:
            response = retrying(attempt)
        except openai.APIError as exc:
            if deadline.passed(end):
                raise deadline.DeadlineExceeded(f"the run's time ran out waiting for {what}") from exc
            raise self._translate(exc) from exc
        return self._completions(response, n, time.monotonic() - start)

    def _translate(self, exc: openai.APIError) -> PolicyError:
        where = f"{self.spec.name!r} at {self.base_url}"
        if _is_transient(exc):
            return PolicyUnavailableError(
                f"{where} is not answering after {self.spec.max_attempts} attempts: {exc}. "
                "Check that the server is up, or retry later."
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            hint = " or ".join(self.spec.api_key_env) or "the API key"
            return PolicyAuthError(f"{where} rejected the credentials ({exc.status_code}): check {hint}")
        message = str(exc)
        if (
            isinstance(exc, openai.APIStatusError)
            and exc.status_code in (400, 413)
            and any(h in message.lower() for h in _OVERFLOW_HINTS)
        ):
            return ContextOverflowError(f"the prompt does not fit the context of {where}: {message}")
        if isinstance(exc, openai.NotFoundError):
            return PolicyRequestError(f"{where}: not found (is the model name served there?): {message}")
        return PolicyRequestError(f"{where} rejected the request: {message}")

    def _completions(self, response: Any, n: int, latency: float) -> list[Completion]:
        choices = sorted(response.choices, key=lambda c: c.index)
        texts = [c.message.content or "" for c in choices]
        usage = response.usage
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        cost = self.spec.price.cost(prompt, completion) / max(len(texts), 1)
        shares = [completion // len(texts) + (i < completion % len(texts)) for i in range(len(texts))]
        return [
            Completion(text=t, prompt_tokens=prompt, completion_tokens=s, cost=cost, latency=latency)
            for t, s in zip(texts, shares, strict=True)
        ]


# ---------------------------------------------------------------- local transformers models


@lru_cache(maxsize=2)
def _load_pretrained(folder: str, gguf_file: str | None, dtype: str | None) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    if dtype:
        kwargs["dtype"] = getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    return model, tokenizer


def package_folder(package: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UnknownModelError(
            f"package {package!r} is not installed (pip install {package.replace('_', '-')})"
        )
    return Path(next(iter(spec.submodule_search_locations)))


class LocalPolicy:
    """A transformers causal LM run in-process (CPU or GPU): chat template, n samples, token counts, cost 0."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        name: str = "local",
        context_tokens: int | None = None,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        truncate: bool = False,
        seed: int | None = None,
        device: str | None = None,
    ) -> None:
        import torch

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.name = name
        config_ctx = getattr(model.config, "max_position_embeddings", None)
        self.context_tokens = context_tokens or config_ctx or 2048
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.truncate = truncate
        self.seed = seed
        self._calls = 0
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(
        cls, folder: Path | str, gguf_file: str | None = None, dtype: str | None = None, **kw: Any
    ) -> LocalPolicy:
        """Load a HF model folder, or a GGUF file inside it (cached per process)."""
        model, tokenizer = _load_pretrained(str(folder), gguf_file, dtype)
        return cls(model, tokenizer, **kw)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> LocalPolicy:
        folder = package_folder(spec.package) if spec.package else Path(spec.path or "")
        if not folder.is_dir():
            raise UnknownModelError(f"model folder {folder} for {spec.name!r} does not exist")
        if spec.gguf_file and not (folder / spec.gguf_file).is_file():
            raise UnknownModelError(f"{folder / spec.gguf_file} does not exist")
        return cls.from_pretrained(
            folder,
            gguf_file=spec.gguf_file,
            dtype=spec.dtype,
            name=spec.name,
            context_tokens=spec.context_tokens,
            max_new_tokens=spec.max_tokens or 256,
            temperature=spec.temperature,
            truncate=spec.truncate,
            seed=spec.seed,
            device=spec.device,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "local",
            "name": self.name,
            "context_tokens": self.context_tokens,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "device": self.device,
        }

    def _prompt_ids(self, messages: list[Message]) -> Any:
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"
        ids = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        room = self.context_tokens - self.max_new_tokens
        if ids.shape[1] > room:
            if not self.truncate or room <= 0:
                raise ContextOverflowError(
                    f"the prompt has {ids.shape[1]} tokens; {self.name} fits {self.context_tokens} "
                    f"including {self.max_new_tokens} new tokens"
                )
            ids = ids[:, -room:]
        return ids

    def sample(
        self, messages: list[Message], n: int = 1, temperature: float | None = None
    ) -> list[Completion]:
        import torch

        temperature = self.temperature if temperature is None else temperature
        ids = self._prompt_ids(messages).to(self.device)
        sampling = temperature > 0
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": sampling,
            "pad_token_id": pad,
        }
        kwargs.update(
            {"temperature": temperature, "top_k": 0, "num_return_sequences": n}
            if sampling
            else {"num_beams": 1}
        )
        with self._lock, torch.no_grad():
            if self.seed is not None:
                torch.manual_seed(self.seed + self._calls)
            self._calls += 1
            start = time.monotonic()
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)
            latency = time.monotonic() - start
        if not sampling:
            out = out.expand(n, -1)
        completions = []
        for row in out[:, ids.shape[1] :].tolist():
            length = row.index(eos) + 1 if eos is not None and eos in row else len(row)
            text = self.tokenizer.decode(row[:length], skip_special_tokens=True)
            completions.append(Completion(text, ids.shape[1], length, 0.0, latency / n))
        return completions


# ---------------------------------------------------------------- scripted replies

Reply = str | Sequence[str] | BaseException


class ScriptedPolicy:
    """A real Policy that replays replies, for tests and end-to-end runs.

    `replies` is a list consumed one item per `sample` call (a string, a list of n strings, or an
    exception to raise), or a callable `f(messages) -> str | list[str]`. One string answers n > 1
    with n copies; a shorter list is cycled. Token counts are estimated (4 characters per token).
    """

    def __init__(
        self,
        replies: Sequence[Reply] | Callable[[list[Message]], str | Sequence[str]],
        cost_per_call: float = 0.0,
        name: str = "scripted",
    ) -> None:
        self.replies = replies if callable(replies) else list(replies)
        self.cost_per_call = cost_per_call
        self.name = name
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted", "name": self.name, "cost_per_call": self.cost_per_call}

    def _next(self, messages: list[Message]) -> Reply:
        if callable(self.replies):
            return self.replies(messages)
        index = len(self.calls) - 1
        if index >= len(self.replies):
            raise ScriptExhaustedError(
                f"scripted policy {self.name!r} ran out after {len(self.replies)} replies"
            )
        return self.replies[index]

    def sample(
        self, messages: list[Message], n: int = 1, temperature: float | None = None
    ) -> list[Completion]:
        with self._lock:
            self.calls.append({"messages": [dict(m) for m in messages], "n": n, "temperature": temperature})
            reply = self._next(messages)
        if isinstance(reply, BaseException):
            raise reply
        texts = [reply] if isinstance(reply, str) else list(reply)
        texts = [texts[i % len(texts)] for i in range(n)]
        prompt = math.ceil(sum(len(m["content"]) for m in messages) / 4)
        return [Completion(t, prompt, math.ceil(len(t) / 4), self.cost_per_call / n, 0.0) for t in texts]
