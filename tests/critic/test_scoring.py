import inspect

import pytest
import torch

from critic.clients.http import LocalCritic
from critic.data.synthetic import TOY_CANDIDATES, toy_conversation
from critic.model import backbone, cache_argument, load_critic
from critic.serialize import SerializeError
from critic.serve.scoring import Request, Scorer

ATOL = 1e-4
BF16_ATOL = 5e-3  # measured differences stay under 2e-3 (8 mantissa bits)
# Candidates long enough that a session's next turn pair rides in their row (see scoring._plan).
LONG_CANDIDATES = [f"step {i}: edit src/file.py, fix the value, run the tests. " * 6 for i in range(4)]


def test_prefix_shared_scores_equal_naive_full_sequences(model, tokenizer):
    scorer = Scorer(model, tokenizer)
    history = toy_conversation(3)
    shared = scorer.score(history, TOY_CANDIDATES)
    naive = scorer.score_naive(history, TOY_CANDIDATES)
    assert shared.values == pytest.approx(naive, abs=ATOL)
    assert max(naive) - min(naive) > 1e-3  # the check is not vacuous
    assert shared.cached_tokens == 0 and shared.prefix_tokens > 0
    assert shared.candidate_tokens >= len(TOY_CANDIDATES)  # each candidate once, after the shared history


def test_candidate_groups_split_by_max_batch_tokens_give_the_same_values(model, tokenizer):
    history = toy_conversation(2)
    small = Scorer(model, tokenizer, max_batch_tokens=16).score(history, TOY_CANDIDATES).values
    big = Scorer(model, tokenizer).score(history, TOY_CANDIDATES).values
    assert small == pytest.approx(big, abs=ATOL)


def test_session_steps_reuse_the_cache_and_equal_naive(model, tokenizer):
    scorer = Scorer(model, tokenizer, max_batch_tokens=32)
    full = toy_conversation(5)
    prev = 0
    for t in range(6):
        history = full[: 2 + 2 * t]
        res = scorer.score(history, TOY_CANDIDATES, session="run-1")
        assert res.values == pytest.approx(scorer.score_naive(history, TOY_CANDIDATES), abs=ATOL)
        if t > 0:
            assert res.cached_tokens == prev  # only the new turn pair was computed
        prev = res.prefix_tokens


def test_a_short_session_step_rides_in_the_candidates_row_and_equals_naive(model, tokenizer):
    scorer = Scorer(model, tokenizer)
    full = toy_conversation(4)
    scorer.score(full[:2], LONG_CANDIDATES, session="s")
    for t in range(1, 5):
        history = full[: 2 + 2 * t]
        forwards = scorer.stats.forwards
        res = scorer.score(history, LONG_CANDIDATES, session="s")
        assert scorer.stats.forwards == forwards + 1  # new history and candidates in one forward
        assert res.cached_tokens > 0
        assert res.values == pytest.approx(scorer.score_naive(history, LONG_CANDIDATES), abs=ATOL)
    # a fresh, longer history runs on its own first (plain causal attention is cheaper there)
    forwards = scorer.stats.forwards
    scorer.score(toy_conversation(6, words=9), TOY_CANDIDATES)
    assert scorer.stats.forwards == forwards + 2


def test_session_recomputes_when_the_history_diverges(model, tokenizer):
    scorer = Scorer(model, tokenizer)
    a = toy_conversation(3)
    scorer.score(a, ["x"], session="s")
    b = [*a[:3], {"role": "user", "content": "a different observation"}]
    res = scorer.score(b, TOY_CANDIDATES, session="s")
    assert 0 < res.cached_tokens < res.prefix_tokens
    assert res.values == pytest.approx(scorer.score_naive(b, TOY_CANDIDATES), abs=ATOL)


def test_session_cache_is_bounded_by_bytes(model, tokenizer):
    scorer = Scorer(model, tokenizer, cache_bytes=200_000)
    for i in range(10):
        scorer.score(toy_conversation(4, words=i + 3), ["x"], session=f"s{i}")
    assert scorer.sessions.nbytes <= 200_000
    assert 0 < len(scorer.sessions) < 10


def test_turn_values_equal_scoring_each_turn(model, tokenizer):
    scorer = Scorer(model, tokenizer)
    msgs = toy_conversation(3)
    per_turn = scorer.values_by_turn(msgs)
    assert len(per_turn) == sum(m["role"] == "assistant" for m in msgs) == 3  # one value per agent turn
    for t, v in enumerate(per_turn):
        i = 2 + 2 * t
        assert scorer.score(msgs[:i], [msgs[i]["content"]]).values[0] == pytest.approx(v, abs=ATOL)


def test_reloaded_checkpoint_gives_identical_values(checkpoint, model, tokenizer):
    history = toy_conversation(2)
    before = Scorer(model, tokenizer).score(history, TOY_CANDIDATES).values
    m2, tok2 = load_critic(checkpoint)
    assert tok2.convert_tokens_to_ids("<|value|>") == tokenizer.convert_tokens_to_ids("<|value|>")
    after = Scorer(m2, tok2).score(history, TOY_CANDIDATES).values
    assert torch.allclose(torch.tensor(before), torch.tensor(after), atol=1e-6)
    assert m2.config.critic_activation == "sigmoid"


def test_local_critic_satisfies_the_protocol(checkpoint):
    critic = LocalCritic(checkpoint, device="cpu")
    values = critic.score(toy_conversation(1), TOY_CANDIDATES)
    assert len(values) == len(TOY_CANDIDATES) and all(0.0 <= v <= 1.0 for v in values)
    assert 0.0 <= critic.score_final(toy_conversation(2)) <= 1.0


def test_eager_attention_path_equals_naive(tokenizer):
    from critic.model import build_critic, tiny_config

    torch.manual_seed(1)
    model = build_critic(tiny_config(len(tokenizer)), tokenizer).eval()
    model.config._attn_implementation = "eager"
    with torch.no_grad():
        model.score.weight.normal_(0.0, 0.25)
    scorer = Scorer(model, tokenizer)
    history = toy_conversation(2)
    assert scorer.score(history, TOY_CANDIDATES).values == pytest.approx(
        scorer.score_naive(history, TOY_CANDIDATES), abs=ATOL
    )


def _mixed_requests() -> list[Request]:
    """Requests of different lengths: two on warm sessions, one fresh session, one without, one bad."""
    return [
        Request(toy_conversation(3), LONG_CANDIDATES, session="warm-a"),
        Request(toy_conversation(5, words=7), TOY_CANDIDATES[:2], session="warm-b"),
        Request(toy_conversation(2, words=2), TOY_CANDIDATES, session="fresh"),
        Request(toy_conversation(1), TOY_CANDIDATES[1:]),
        Request(toy_conversation(1), []),
    ]


@pytest.mark.parametrize("max_batch_tokens", [24, 80, 8192])
def test_batched_requests_equal_naive_and_a_bad_one_fails_alone(model, tokenizer, max_batch_tokens):
    scorer = Scorer(model, tokenizer, max_batch_tokens=max_batch_tokens, max_batch_rows=8)
    scorer.score(toy_conversation(2), ["x"], session="warm-a")
    scorer.score(toy_conversation(3, words=7), ["x"], session="warm-b")
    requests = _mixed_requests()
    finished: list[int] = []
    results = scorer.score_many(requests, on_done=lambda i, _: finished.append(i))
    assert sorted(finished) == list(range(len(requests)))
    assert isinstance(results[-1], SerializeError)
    for req, res in zip(requests[:-1], results[:-1], strict=True):
        assert res.values == pytest.approx(scorer.score_naive(req.history, req.candidates), abs=ATOL)
    assert results[0].cached_tokens > 0 and results[1].cached_tokens > 0
    assert results[2].cached_tokens == 0 and results[3].cached_tokens == 0
    if max_batch_tokens == 8192:
        assert scorer.stats.max_rows == 4  # all four good requests shared one forward


def test_same_session_twice_in_one_call_runs_in_order(model, tokenizer):
    scorer = Scorer(model, tokenizer)
    first, second = toy_conversation(2), toy_conversation(3)
    results = scorer.score_many([Request(first, ["x"], "s"), Request(second, TOY_CANDIDATES, "s")])
    assert results[1].cached_tokens == results[0].prefix_tokens  # the second reused the first's cache
    assert results[1].values == pytest.approx(scorer.score_naive(second, TOY_CANDIDATES), abs=ATOL)


def test_identical_history_is_served_from_cache_entirely(model, tokenizer):
    scorer = Scorer(model, tokenizer)
    history = toy_conversation(3)
    scorer.score(history, ["x"], session="s")
    again = scorer.score(history, TOY_CANDIDATES, session="s")
    assert again.cached_tokens == again.prefix_tokens
    assert again.values == pytest.approx(scorer.score_naive(history, TOY_CANDIDATES), abs=ATOL)


def test_hf_sequence_classification_loader_reads_the_same_value(checkpoint, tokenizer):
    """Other servers load the folder with AutoModelForSequenceClassification; HF pools the last token,
    which is the marker when a candidate ends the input, so its sigmoid(logit) is our Q."""
    from transformers import AutoModelForSequenceClassification

    hf = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    ours = Scorer(*load_critic(checkpoint))
    history = toy_conversation(2)
    inp = ours.serializer.for_scoring(history, TOY_CANDIDATES)
    values = ours.score(history, TOY_CANDIDATES).values
    for cand, value in zip(inp.candidates, values, strict=True):
        with torch.no_grad():
            logit = hf(input_ids=torch.tensor([inp.history + cand])).logits
        assert float(torch.sigmoid(logit)) == pytest.approx(value, abs=ATOL)


def test_bf16_scoring_tracks_naive_and_fp32(checkpoint, model, tokenizer):
    """The GPU default dtype, run on CPU: prefix sharing and sessions stay exact up to bf16 rounding."""
    critic = LocalCritic(checkpoint, device="cpu", dtype="bfloat16", max_batch_tokens=32)
    scorer = critic.scorer
    assert scorer.dtype == torch.bfloat16
    fp32, run = Scorer(model, tokenizer), critic.with_session("run")
    full = toy_conversation(5)
    for t in range(6):
        history = full[: 2 + 2 * t]
        got = run.score(history, TOY_CANDIDATES)
        assert (run.last.cached_tokens > 0) == (t > 0)
        exact = fp32.score_naive(history, TOY_CANDIDATES)
        assert got == pytest.approx(scorer.score_naive(history, TOY_CANDIDATES), abs=BF16_ATOL)
        assert got == pytest.approx(exact, abs=BF16_ATOL)
        assert max(exact) - min(exact) > 3 * BF16_ATOL  # the tolerance is well below the spread


def test_the_kv_cache_goes_by_the_name_the_backbone_takes(model):
    """transformers 5.24 renamed `past_key_values` to `cache`; both spellings of forward are met."""

    class OldBackbone(torch.nn.Module):
        def forward(self, input_ids=None, past_key_values=None, use_cache=None): ...

    class NewBackbone(torch.nn.Module):
        def forward(self, input_ids=None, cache=None, use_cache=None, **kwargs): ...

    assert cache_argument(OldBackbone()) == "past_key_values"
    assert cache_argument(NewBackbone()) == "cache"
    assert cache_argument(backbone(model)) in inspect.signature(backbone(model).forward).parameters
