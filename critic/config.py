"""Critic configs (training and serving). Defaults live in configs/critic.yaml."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.configfile import CONFIG_DIR, FileConfig, read_yaml
from critic.backbones import BACKBONES
from critic.train.lora import LORA_TARGETS

DEFAULT_YAML = CONFIG_DIR / "critic.yaml"


class CompressionConfig(BaseModel):
    """Per-message compression of the critic's input (critic.serialize.Compression)."""

    model_config = ConfigDict(extra="forbid")

    head: int = Field(ge=0, description="Characters kept from the start of every message's content.")
    tail: int = Field(ge=0, description="Characters kept from the end of every message's content.")
    drop: str | None = Field(
        None,
        description="A regular expression (multiline) whose matches are removed from every message "
        "before the cut, e.g. the scaffold's status line. null: nothing is removed.",
    )
    action_head: int | None = Field(
        None, ge=0, description="`head` for the agent's own turns (and candidates). null: `head`."
    )
    action_tail: int | None = Field(
        None,
        ge=0,
        description="`tail` for the agent's own turns. null: `tail`. 0 keeps each action's thought and "
        "the start of its command but not an edit's code, which a small critic learns by heart.",
    )


class LoraSettings(BaseModel):
    """`train.lora`: low-rank adapters (peft) on the backbone's linear layers; the value head trains in full.
    `train.lora: auto` gives these defaults for a backbone that wants LoRA (`model: smollm2`): r 16, alpha 32
    (scale 2), no dropout, every attention and MLP projection of each decoder layer.

    The checkpoint is written with the adapters merged into the weights (critic.train.lora), so it is
    the same plain `*ForSequenceClassification` folder a full fine-tune writes."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, description="Rank of each adapter (A: r x in, B: out x r).")
    alpha: float = Field(
        32.0, gt=0.0, description="Scale: an adapter adds (alpha / r) * B @ A to its weight."
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the adapters' input while training.")
    target_modules: list[str] = Field(
        default_factory=lambda: list(LORA_TARGETS),
        min_length=1,
        description="Names of the linear layers that get adapters (peft's target_modules; Qwen2/Llama names).",
    )


class TrainConfig(BaseModel):
    """`swe-search critic train`: data, TD(lambda) targets, optimisation, evaluation."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        "",
        description="Backbone to start from: an HF folder/name of a causal LM, a critic checkpoint to "
        "continue, or a named backbone of critic.backbones.BACKBONES (`tiny`: a random tiny Qwen2; "
        "`smollm2`: the bundled SmolLM2-135M, pretrained), whose init checkpoint is written once to "
        "out_dir/init.",
    )
    random_init: bool = Field(
        False, description="Build the backbone from its config with random weights (tests, smoke runs)."
    )
    data: list[str] = Field(
        default_factory=list,
        description="Training sources, each format detected (critic.data.sources): run folders (ours, "
        "mini-swe-agent's), .parquet/.jsonl of nebius rows, OpenAI chat logs or Responses-API rollouts.",
    )
    eval_data: list[str] = Field(
        default_factory=list,
        description="Held-out sources; when empty, `eval_fraction` of the instances is held out.",
    )
    eval_fraction: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share of instance ids held out when `eval_data` is empty."
    )
    limit: int | None = Field(None, description="Use at most this many trajectories per source (smoke runs).")
    out_dir: str = Field("runs/critic", description="Where the checkpoint and metrics.json go.")
    prepared_dir: str | None = Field(
        None,
        description="Cache of the serialized trajectories (default out_dir/prepared); point runs on "
        "the same data at one folder to tokenize once. Shared by all nodes, like out_dir.",
    )
    max_context: int = Field(
        32768, gt=0, description="Token limit; longer trajectories are cut by the serialize rule."
    )
    compression: CompressionConfig | None = Field(
        None,
        description="Keep only the first `head` and last `tail` characters of every message (a fixed "
        "cut mark between). Saved in the checkpoint's config.json, so serving applies the same rule. "
        "Lets a small critic see a run's outcome signals (exit codes at the end of observations) "
        "close to the value marker. null: whole messages.",
    )
    gamma: float = Field(1.0, ge=0.0, le=1.0, description="Discount of the TD(lambda) targets.")
    lam: float = Field(0.7, ge=0.0, le=1.0, description="lambda of TD(lambda); 1 gives Monte Carlo returns.")
    epochs: int = Field(
        4, ge=1, description="Passes over the training windows; bootstrap values are recomputed each epoch."
    )
    lr: float = Field(2e-6, gt=0.0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    warmup_ratio: float = Field(
        0.03, ge=0.0, le=1.0, description="Share of optimizer steps spent in linear warmup."
    )
    batch_size: int = Field(128, ge=1, description="Windows per optimizer step, across all ranks.")
    micro_batch_size: int = Field(
        1, ge=1, description="Windows per forward pass on one rank (padded to the longest)."
    )
    max_grad_norm: float = Field(1.0, gt=0.0, description="Gradient clipping norm.")
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description="auto: bf16 mixed precision on GPU, fp32 on CPU. bf16 on CPU takes the same "
        "mixed-precision path (slow without bf16 units; the tests use it to exercise that path).",
    )
    save_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Dtype of the saved weights; auto is bfloat16 after bf16 training, else float32 "
        "(a 70B critic is 140 GB in bf16, 280 GB in fp32).",
    )
    save_state_every: int = Field(
        1,
        ge=0,
        description="Write the full training state (weights, AdamW, schedule) to out_dir/state every "
        "this many epochs; the same command started again continues from it. 0: never. The folder "
        "is removed when training finishes (a 70B state is ~1.1 TB, sharded across the ranks).",
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in backward (long contexts)."
    )
    lora: LoraSettings | Literal["auto"] | None = Field(
        "auto",
        description="Train low-rank adapters instead of every weight (a 7B critic on one 80 GB GPU); the "
        "saved checkpoint has them merged. null: full fine-tuning. auto: LoRA with LoraSettings' "
        "defaults (r 16, alpha 32, no dropout, all attention and MLP projections) for a named backbone "
        "that wants it (`smollm2`), full fine-tuning for anything else (`tiny`, a folder, a checkpoint).",
    )
    device: str = Field(
        "auto", description="auto, cpu, cuda or cuda:N (under torchrun each rank uses its LOCAL_RANK GPU)."
    )
    seed: int = Field(0, description="Seed for the split, shuffling and initialisation.")
    calibration_bins: int = Field(10, ge=2, description="Bins of the calibration table.")
    log_every: int = Field(10, ge=1, description="Print the training loss every this many optimizer steps.")

    @model_validator(mode="after")
    def _resolve_lora(self) -> TrainConfig:
        """`lora: auto` becomes the named backbone's choice (so the config saved with a checkpoint says
        what was done)."""
        if self.lora == "auto":
            wants = self.model in BACKBONES and BACKBONES[self.model].lora
            self.lora = LoraSettings() if wants else None
        return self


class ServeConfig(BaseModel):
    """`swe-search critic serve`: the model, the device, the limits."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field(
        "", description="Critic checkpoint folder (written by `critic train` or make_tiny_critic)."
    )
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8008, ge=0, le=65535, description="Port to bind (0 picks a free one).")
    device: str = Field("auto", description="auto (cuda when available), cpu, cuda or cuda:N.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights and activations; auto is bf16 on GPU, fp32 on CPU."
    )
    max_context: int = Field(
        32768, gt=0, description="Token limit of history plus candidate (the serialize rule cuts the rest)."
    )
    max_batch_tokens: int = Field(
        8192, gt=0, description="Most tokens per forward pass (history chunks, candidate groups)."
    )
    max_candidates: int = Field(64, ge=1, description="Most candidates in one request.")
    max_request_bytes: int = Field(16 << 20, gt=0, description="Requests with a larger body get 413.")
    max_open_sessions: int = Field(
        100_000,
        gt=0,
        description="Session ids remembered as open; beyond this the least recently used is forgotten "
        "(its next request gets 404 and HTTPCritic reopens it).",
    )
    max_batch_rows: int | None = Field(
        None,
        gt=0,
        description="Most requests' rows in one batched forward; default 64 on GPU and 1 on CPU, where one "
        "row already keeps the cores busy and padding several only adds work.",
    )
    max_batch_kv: int | None = Field(
        None,
        gt=0,
        description="Most key/value tokens (rows x padded past) in one batched forward, which bounds the "
        "memory of stacking several sessions' caches; default 4 x max_context.",
    )
    cache_bytes: int | Literal["auto"] = Field(
        "auto",
        description="Bytes of KV cache kept for sessions (LRU); auto: half the GPU memory left after "
        "loading the model, or 4 GiB on CPU.",
    )
    batch_wait_ms: float = Field(
        5.0, ge=0.0, description="How long the worker waits to group requests that arrive together."
    )


class CriticConfig(FileConfig):
    """configs/critic.yaml: a `train` and a `serve` section. `CriticConfig.load(path, flags, overrides)`
    reads it (the one loader: agent.configfile), e.g. with overrides like `train.lr=1e-5`."""

    model_config = ConfigDict(extra="forbid")
    DEFAULTS = DEFAULT_YAML
    WHAT = "critic config"

    train: TrainConfig = Field(default_factory=TrainConfig, description="Training settings.")
    serve: ServeConfig = Field(default_factory=ServeConfig, description="Serving settings.")


JUDGE_YAML = CONFIG_DIR / "judge.yaml"


def _judge_template(name: str) -> Any:
    """The default of one template: configs/judge.yaml's (so a file may override only some)."""
    return lambda: read_yaml(JUDGE_YAML).get("templates", {})[name]


class JudgeTemplates(BaseModel):
    """The LLM judge's prompts (Jinja2). Each ends with the part that differs between the K requests of
    a step (the candidate), so that the requests share one prefix for the server's prompt cache."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(
        default_factory=_judge_template("system"),
        description="System message of every judge request: who the judge is, how to answer.",
    )
    lookahead: str = Field(
        default_factory=_judge_template("lookahead"),
        description="User message that scores one candidate action. Gets `issue`, `turns` (the kept history "
        "after the issue: a list of {role, content}), `dropped` (turn groups cut out) and `candidate`.",
    )
    selection: str = Field(
        default_factory=_judge_template("selection"),
        description="User message that scores a finished run. Gets `issue`, `turns`, `dropped`, `final` "
        "(the run's last reply) and `patch` (its diff).",
    )


class JudgeConfig(FileConfig):
    """`--critic judge:MODEL`: the LLM judge's prompts, scoring and context budget (critic.clients.judge).

    Defaults live in configs/judge.yaml; a run config's `judge:` section (a mapping or a YAML file)
    and `judge.KEY=VALUE` overrides change them, as `agent:` does the agent's.
    """

    model_config = ConfigDict(extra="forbid")
    DEFAULTS = JUDGE_YAML
    WHAT = "judge config"

    top_logprobs: int = Field(
        20, ge=1, le=20, description="Top log-probabilities asked for the answer token (OpenAI allows 20)."
    )
    fallback_samples: int = Field(
        5,
        ge=1,
        description="A server that returns no log-probabilities: answers sampled per candidate at "
        "`fallback_temperature`; the score is the YES fraction.",
    )
    fallback_temperature: float = Field(1.0, ge=0, description="Temperature of the fallback's samples.")
    max_tokens: int | None = Field(
        None,
        ge=64,
        description="The judge's prompt budget in tokens, used where its tokenizer is known (judge:smollm2, "
        "or `tokenizer`). null: the model alias's context_tokens less 16, else 8192.",
    )
    max_chars: int | None = Field(
        None,
        ge=256,
        description="The prompt budget in characters where no tokenizer is known. null: 3 characters per "
        "token of the alias's context_tokens (gpt-4o: 384000), else 96000.",
    )
    tokenizer: str | None = Field(
        None,
        description="A local Hugging Face tokenizer folder to count a served judge's tokens with "
        "(e.g. the folder vLLM serves); null: count characters.",
    )
    concurrency: int | None = Field(
        None,
        ge=1,
        description="Requests in flight per step (one per candidate). null: the alias's concurrency.",
    )
    templates: JudgeTemplates = Field(
        default_factory=JudgeTemplates, description="The prompts (each defaults to configs/judge.yaml's)."
    )
