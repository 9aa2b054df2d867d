"""LookaheadChooser: batching, dedup, format errors, tie-breaking, accounting."""

from __future__ import annotations

import pytest
from synthetic import ConstantCritic, TableCritic, reply

from agent.loop import GreedyChooser
from agent.types import Completion, Message, Usage
from search.lookahead import CriticError, LookaheadChooser

HISTORY: list[Message] = [{"role": "user", "content": "fix the bug"}]


class FixedPolicy:
    """A real Policy that returns the given texts (the first n) on every call."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.requests: list[tuple[int, float | None]] = []

    def sample(
        self, messages: list[Message], n: int = 1, temperature: float | None = None
    ) -> list[Completion]:
        self.requests.append((n, temperature))
        return [
            Completion(text=t, usage=Usage(prompt_tokens=100, completion_tokens=10 + i, cost=0.01))
            for i, t in enumerate(self.texts[:n])
        ]


def choose(texts: list[str], critic, **kw):
    chooser = LookaheadChooser(critic, k=len(texts), temperature=0.9, **kw)
    return chooser.choose(HISTORY, FixedPolicy(texts))


def test_k_identical_candidates_make_no_critic_call():
    critic = ConstantCritic()
    choice = choose([reply("ls")] * 4, critic)
    assert critic.calls == 0 and choice.critic_calls == 0
    assert len(choice.candidates) == 1 and choice.candidates[0].count == 4
    assert choice.candidates[0].q is None and choice.action.command == "ls"


def test_whitespace_variants_are_merged():
    critic = ConstantCritic()
    texts = [reply("ls -la"), reply("ls -la").replace(" ", "  "), reply("ls -la") + "\n\n", reply("pwd")]
    choice = choose(texts, critic)
    assert [c.count for c in choice.candidates] == [3, 1]
    assert critic.requests == [[texts[0], texts[3]]]


def test_k_distinct_candidates_make_exactly_one_batched_call():
    critic = TableCritic({"a": 0.1, "b": 0.9, "c": 0.5, "d": 0.3})
    texts = [reply(c) for c in "abcd"]
    choice = choose(texts, critic)
    assert critic.requests == [texts]
    assert choice.critic_calls == 1
    assert choice.chosen_index == 1 and choice.action.command == "b"
    assert [c.q for c in choice.candidates] == [0.1, 0.9, 0.5, 0.3]
    assert choice.completion.text == texts[1]


def test_one_policy_call_for_k_samples_at_the_configured_temperature():
    policy = FixedPolicy([reply(c) for c in "abcd"])
    LookaheadChooser(ConstantCritic(), k=4, temperature=0.7).choose(HISTORY, policy)
    assert policy.requests == [(4, 0.7)]


def test_tokens_and_cost_of_all_k_completions_are_counted():
    choice = choose([reply("a"), reply("a"), reply("b"), "no block"], ConstantCritic())
    assert choice.usage.prompt_tokens == 400
    assert choice.usage.completion_tokens == 10 + 11 + 12 + 13
    assert choice.usage.cost == pytest.approx(0.04)
    assert choice.latency >= 0


def test_format_error_candidate_is_never_chosen_over_a_valid_one():
    critic = TableCritic({"ok": 0.0}, default=1.0)  # would love the malformed text if it were asked
    choice = choose(["```\nrm\n```\n```\nls\n```", "nothing here", reply("ok")], critic)
    assert choice.action.command == "ok" and choice.error is None
    assert choice.candidates[0].error and choice.candidates[1].error
    assert choice.candidates[0].q is None
    assert critic.calls == 0  # only one valid candidate: nothing to compare


def test_only_valid_candidates_are_sent_to_the_critic():
    critic = TableCritic({"a": 0.2, "b": 0.4})
    choice = choose(["garbage", reply("a"), reply("b")], critic)
    assert critic.requests == [[reply("a"), reply("b")]]
    assert choice.action.command == "b"


def test_all_invalid_returns_the_first_as_a_format_error():
    critic = ConstantCritic()
    choice = choose(["first bad", "second bad"], critic)
    assert choice.action is None and choice.chosen_index == 0
    assert choice.error and choice.completion.text == "first bad"
    assert critic.calls == 0


def test_ties_go_to_the_first_sampled_by_default():
    texts = [reply("a"), reply("b"), reply("b"), reply("c")]
    for _ in range(3):
        assert choose(texts, ConstantCritic()).action.command == "a"


def test_count_tie_break_prefers_the_most_sampled_then_first():
    texts = [reply("a"), reply("b"), reply("b"), reply("c")]
    assert choose(texts, ConstantCritic(), tie_break="count").action.command == "b"
    texts = [reply("a"), reply("c"), reply("b"), reply("c"), reply("b")]
    assert choose(texts, ConstantCritic(), tie_break="count").action.command == "c"
    assert choose(texts, TableCritic({"a": 1.0}), tie_break="count").action.command == "a"


def test_nan_q_is_never_preferred():
    critic = TableCritic({"a": float("nan"), "b": 0.0})
    assert choose([reply("a"), reply("b")], critic).action.command == "b"


def test_wrong_number_of_values_is_a_critic_error():
    class ShortCritic:
        def score(self, history, candidates):
            return [0.5]

    with pytest.raises(CriticError):
        choose([reply("a"), reply("b")], ShortCritic())


def test_greedy_samples_one_and_never_asks_a_critic():
    policy = FixedPolicy([reply("a"), reply("b")])
    choice = GreedyChooser().choose(HISTORY, policy)
    assert policy.requests == [(1, None)]
    assert choice.action.command == "a" and choice.critic_calls == 0 and len(choice.candidates) == 1


def test_lookahead_without_critic_is_rejected():
    with pytest.raises(ValueError):
        LookaheadChooser(None, k=4)
