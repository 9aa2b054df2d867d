"""OpenAIPolicy: a chat model behind an OpenAI-compatible endpoint (OpenAI, vLLM, ...), with retries,
typed errors and cost. The `openai` backend of agent.policies.BACKENDS."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from agent import deadline
from agent.policies import (
    ContextOverflowError,
    ModelSpec,
    PolicyAuthError,
    PolicyError,
    PolicyRequestError,
    PolicyUnavailableError,
)
from agent.redaction import ScrubLogs, register_secret
from agent.types import Completion, Message, Usage, request_completions

log = logging.getLogger(__name__)
log.addFilter(ScrubLogs())  # its messages name the endpoint, which may carry user:password@

_OVERFLOW_HINTS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "prompt is too long",
)


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
        self._api_key = spec.api_key(api_key)
        register_secret(self._api_key)  # scrubbed from every file and message from now on
        register_secret(self.base_url)  # the password of http://user:password@host, if any
        self.check()
        self._n_supported = spec.supports_n
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=self._api_key or "EMPTY", max_retries=0, timeout=spec.timeout
        )

    @classmethod
    def from_spec(
        cls, spec: ModelSpec, api_key: str | None = None, base_url_explicit: bool = False
    ) -> OpenAIPolicy:
        """The BACKENDS constructor (agent.policies.make_policy)."""
        return cls(spec, api_key=api_key, base_url_explicit=base_url_explicit)

    def _resolve_base_url(self, explicit: bool) -> str:
        if not explicit:
            for var in self.spec.base_url_env:
                if os.environ.get(var):
                    return os.environ[var]
        return self.spec.base_url or "http://localhost:8000/v1"

    def check(self) -> None:
        """Raise PolicyAuthError now when the model needs an API key and none is set."""
        self.spec.check_key(self._api_key)

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
        start = time.monotonic()
        response = self.create(messages, n, temperature, end)
        return self._completions(response, n, time.monotonic() - start)

    def create(
        self,
        messages: list[Message],
        n: int = 1,
        temperature: float | None = None,
        end: float | None = None,
        **params: Any,
    ) -> Any:
        """The raw chat-completion response to `messages`, with this policy's retries, deadline and typed
        errors; `params` (e.g. max_tokens=1, logprobs=True) are sent as they are (critic.clients.judge uses it)."""
        kwargs: dict[str, Any] = {
            "model": self.spec.model or self.spec.name,
            "messages": messages,
            "temperature": self.spec.temperature if temperature is None else temperature,
        }
        if n > 1:
            kwargs["n"] = n
        if self.spec.max_tokens:
            kwargs["max_tokens"] = self.spec.max_tokens
        if self.spec.top_p is not None:
            kwargs["top_p"] = self.spec.top_p
        if self.spec.extra_body:
            kwargs["extra_body"] = self.spec.extra_body
        kwargs.update(params)
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

        try:
            return retrying(attempt)
        except openai.APIError as exc:
            if deadline.passed(end):
                raise deadline.DeadlineExceeded(f"the run's time ran out waiting for {what}") from exc
            raise self._translate(exc) from exc

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
        """The request's replies, with its usage counted once: the prompt once (and its cached part,
        `prompt_tokens_details.cached_tokens`, apart), the completion tokens of all n as reported."""
        choices = sorted(response.choices, key=lambda c: c.index)
        texts = [c.message.content or "" for c in choices]
        usage = response.usage
        prompt = (usage.prompt_tokens or 0) if usage else 0
        completion = (usage.completion_tokens or 0) if usage else 0
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        cached = (getattr(details, "cached_tokens", None) or 0) if details else 0
        price = self.spec.price
        request = Usage(prompt, completion, price.cost(prompt, completion, cached), cached)
        return request_completions(texts, request, prompt_cost=price.cost(prompt, 0, cached), latency=latency)
