"""The value model: any transformers causal-LM backbone with its LM head swapped for a scalar head.

The checkpoint is an ordinary `*ForSequenceClassification` folder with `num_labels=1` (e.g.
`Qwen2ForSequenceClassification`), so other servers can load it. Our own code does not use HF's
sequence-classification pooling (it reads the last non-pad token); it runs the backbone and applies
the `score` head at every `<|value|>` marker.

Output convention: the head emits a logit; the value is `sigmoid(logit)`, in [0, 1], the estimated
probability that the run succeeds. Training minimises the MSE between that value and the TD(lambda)
target. `config.json` records it as `critic_activation: "sigmoid"`, together with
`critic_value_token` and `critic_max_context`.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

from critic.errors import CriticSetupError
from critic.serialize import CHATML_TEMPLATE, VALUE_TOKEN


class CheckpointError(CriticSetupError):
    """A folder that is not a usable critic checkpoint."""


def backbone(model: PreTrainedModel) -> nn.Module:
    """The decoder stack (returns hidden states) inside a `*ForSequenceClassification` model."""
    return getattr(model, model.base_model_prefix)


def cache_argument(module: nn.Module) -> str:
    """The name the backbone's forward takes its KV cache by: `cache` from transformers 5.24 on
    (where `past_key_values` is deprecated, to go in 5.40), `past_key_values` before."""
    return "cache" if "cache" in inspect.signature(module.forward).parameters else "past_key_values"


def output_cache(output: Any) -> Any:
    """The KV cache a forward returned, under either name (see `cache_argument`)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def head(model: PreTrainedModel) -> nn.Module:
    """The scalar head (`score` for Qwen2/Llama/Mistral)."""
    for name in ("score", "classifier"):
        if isinstance(getattr(model, name, None), nn.Module):
            return getattr(model, name)
    raise CheckpointError(f"{type(model).__name__} has no `score` head")


def values_from_hidden(model: PreTrainedModel, hidden: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] for hidden states of shape (..., hidden_size), computed in fp32."""
    h = head(model)
    logits = h(hidden.to(h.weight.dtype)).squeeze(-1)
    return torch.sigmoid(logits.float())


class MarkerValues(nn.Module):
    """Values at marker positions of a padded batch: the module that training (and FSDP) wraps.

    forward(input_ids (B, L), attention_mask (B, L), rows (M,), cols (M,)) -> values (M,) in [0, 1],
    where (rows[i], cols[i]) is the position of the i-th marker.
    """

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor
    ) -> torch.Tensor:
        hidden = backbone(self.model)(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        return values_from_hidden(self.model, hidden.last_hidden_state[rows, cols])


def add_value_token(tokenizer: Any) -> int:
    """Add the marker as a special token (idempotent); give the tokenizer a chat template and pad token."""
    tokenizer.add_special_tokens({"additional_special_tokens": [VALUE_TOKEN]})
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or VALUE_TOKEN
    return tokenizer.convert_tokens_to_ids(VALUE_TOKEN)


def build_critic(
    backbone_config: PretrainedConfig | str | Path,
    tokenizer: Any,
    max_context: int = 32768,
    dtype: torch.dtype | None = None,
    from_pretrained: bool = True,
    gguf_file: str | None = None,
) -> PreTrainedModel:
    """A fresh critic: the backbone (weights from a folder/name when `from_pretrained`, else random)
    with a one-label sequence-classification head and the marker token in the vocabulary.
    `gguf_file`: the weights are that GGUF file in the folder (de-quantised by transformers)."""
    add_value_token(tokenizer)
    gguf = {"gguf_file": gguf_file} if gguf_file else {}
    if isinstance(backbone_config, PretrainedConfig):
        config = backbone_config
        config.num_labels = 1
        model = AutoModelForSequenceClassification.from_config(config, dtype=dtype)
    elif from_pretrained:
        model = AutoModelForSequenceClassification.from_pretrained(
            backbone_config, num_labels=1, dtype=dtype, **gguf
        )
        if gguf_file:  # a GGUF-loaded model keeps its quantizer and refuses to be saved: a plain copy
            config = model.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config
            plain = AutoModelForSequenceClassification.from_config(config, dtype=dtype)
            plain.load_state_dict(model.state_dict())
            model = plain
    else:
        config = AutoConfig.from_pretrained(backbone_config, num_labels=1, **gguf)
        model = AutoModelForSequenceClassification.from_config(config, dtype=dtype)
    if model.get_input_embeddings().num_embeddings < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.critic_value_token = VALUE_TOKEN
    model.config.critic_activation = "sigmoid"
    model.config.critic_max_context = max_context
    return model


def save_critic(
    model: PreTrainedModel,
    tokenizer: Any,
    out_dir: str | Path,
    dtype: torch.dtype | None = None,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write an HF checkpoint folder (weights, head, config, tokenizer with the marker).

    `dtype` casts the floating-point weights as they are written (the model itself is unchanged);
    `state_dict` replaces the model's own weights (a gathered sharded model's)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = state_dict if state_dict is not None else model.state_dict()
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    model.save_pretrained(out, state_dict=state)
    if dtype is not None:
        # save_pretrained announces the in-memory parameters' dtype; loaders with dtype "auto"
        # (vLLM, TGI, from_pretrained) must see the dtype on disk.
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
        config["dtype"] = str(dtype).removeprefix("torch.")
        (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    tokenizer.save_pretrained(out)
    return out


def load_critic(
    path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> tuple[PreTrainedModel, Any]:
    """(model in eval mode, tokenizer) from a folder written by `save_critic`."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise CheckpointError(
            f"{path} is not a critic checkpoint (no config.json); train one with `swe-search critic train`"
        )
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.convert_tokens_to_ids(VALUE_TOKEN) in (None, tokenizer.unk_token_id):
        raise CheckpointError(f"the tokenizer in {path} has no {VALUE_TOKEN} token")
    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=dtype or torch.float32)
    model.to(device).eval()
    return model, tokenizer


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise CriticSetupError(
            f"device {device!r} is not a torch device (use auto, cpu, cuda or cuda:N): {e}"
        ) from None


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """`auto` means bf16 on GPU and fp32 on CPU."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return {
            "float32": torch.float32,
            "fp32": torch.float32,
            "bfloat16": torch.bfloat16,
            "bf16": torch.bfloat16,
            "float16": torch.float16,
            "fp16": torch.float16,
        }[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16") from None


# -- tiny models for tests, demos and the CPU benchmark ---------------------------------------------

TINY_CORPUS_WORDS = [
    "the",
    "a",
    "of",
    "to",
    "in",
    "is",
    "it",
    "fix",
    "bug",
    "test",
    "tests",
    "file",
    "files",
    "line",
    "lines",
    "edit",
    "open",
    "submit",
    "run",
    "python",
    "pytest",
    "error",
    "traceback",
    "def",
    "class",
    "return",
    "import",
    "self",
    "value",
    "assert",
    "true",
    "false",
    "none",
    "ls",
    "cd",
    "cat",
    "grep",
    "find",
    "src",
    "repo",
    "diff",
    "patch",
    "issue",
    "problem",
    "expected",
    "actual",
    "output",
    "current",
    "directory",
    "bash",
]


def make_tiny_tokenizer(
    vocab_size: int = 512, extra_text: list[str] | None = None
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on a small built-in corpus, with ChatML and the marker."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [" ".join(TINY_CORPUS_WORDS[i:] + TINY_CORPUS_WORDS[:i]) for i in range(len(TINY_CORPUS_WORDS))]
    corpus += ["```bash\nls -la\n```", "(Current directory: /testbed, current file: none) bash-$"]
    corpus += extra_text or []
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None
    )
    fast.chat_template = CHATML_TEMPLATE
    add_value_token(fast)
    return fast


def tiny_config(
    vocab_size: int,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int | None = None,
) -> Qwen2Config:
    """A Qwen2-shaped config small enough for CPU tests (MLP width 2 x hidden unless given)."""
    return Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=intermediate or 2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=65536,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        num_labels=1,
    )


def qwen2_7b_config(vocab_size: int = 152064) -> Qwen2Config:
    """The shape of Qwen2-7B (random init only; no download)."""
    return Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        num_labels=1,
    )


def make_tiny_critic(
    out_dir: str | Path,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    vocab_size: int = 512,
    corpus: list[str] | None = None,
) -> Path:
    """Save a random tiny Qwen2 critic with a trained BPE tokenizer to `out_dir` (no downloads).

    `corpus` (e.g. the text of the trajectories it will be trained on) joins the tokenizer's
    built-in corpus, so that the words of those runs become whole tokens: shorter inputs, and the
    signals a critic reads (a traceback, an exit code) are single tokens rather than characters.
    """
    torch.manual_seed(seed)
    tokenizer = make_tiny_tokenizer(vocab_size=vocab_size, extra_text=corpus)
    model = build_critic(tiny_config(len(tokenizer), hidden=hidden, layers=layers), tokenizer)
    return save_critic(model, tokenizer, out_dir)
