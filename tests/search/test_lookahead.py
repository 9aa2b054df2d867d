"""LookaheadChooser: batching, dedup, format errors, tie-breaking, accounting."""

from __future__ import annotations

import json

import pytest
from synthetic import BilledCritic, ConstantCritic, TableCritic, reply

from agent.loop import GreedyChooser
from agent.types import Completion, Message, Usage, request_completions
from search.lookahead import CriticError, LookaheadChooser

HISTORY: list[Message] = [{"role": "user", "content": "fix the bug"}]


class FixedPolicy:
    """A real Policy that returns the given texts (the first n) on every call, as one request: a
    prompt of 100 tokens, 10 + i completion tokens for the i-th sample, 0.01 USD per sample."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.requests: list[tuple[int, float | None]] = []

    def sample(
        self, messages: list[Message], n: int = 1, temperature: float | None = None
    ) -> list[Completion]:
        self.requests.append((n, temperature))
        texts = self.texts[:n]
        own = [10 + i for i in range(len(texts))]
        return request_completions(texts, Usage(100, sum(own), 0.01 * len(texts)), own)


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


def test_the_prompt_counts_once_and_every_completion_of_the_k_is_counted():
    choice = choose([reply("a"), reply("a"), reply("b"), "no block"], ConstantCritic())
    assert choice.usage.prompt_tokens == 100  # one request of n=4: its prompt once, not 4 times
    assert choice.usage.completion_tokens == 10 + 11 + 12 + 13
    assert choice.usage.cost == pytest.approx(0.04)
    assert choice.latency >= 0


def test_the_critics_reported_usage_is_the_steps_critic_usage():
    choice = choose([reply("a"), reply("b")], BilledCritic({"b": 1.0}))
    assert choice.critic_calls == 1 and choice.critic_usage == Usage(100, 2, 0.002)
    assert choice.usage.prompt_tokens == 100 and choice.action.command == "b"  # the policy's, apart
    alone = choose([reply("a"), reply("a")], BilledCritic({}))  # one unique candidate: no critic call
    assert alone.critic_calls == 0 and alone.critic_usage == Usage()


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


@pytest.mark.slow
def test_a_lookahead_step_over_openai_records_the_request_prompt_once(tmp_path):
    """K=4 from one n=4 request to a loopback server that reports usage with cached prompt tokens:
    the agent's step (in memory and in its file) holds the prompt once, the cached part apart, the
    completion tokens of all four, and the request's cost."""
    from agent.config import AgentConfig
    from agent.loop import Agent
    from agent.policies import make_policy
    from agent.trajectory import Trajectory
    from envs.docker import DockerEnv
    from tests.agent.support import base_task
    from tests.helpers.openai_server import OpenAIServer, Reply

    texts = [reply(f"echo {word}") for word in ("one", "two", "three", "four")]
    price = {"input": 2.0, "output": 10.0, "cached_input": 0.5}
    with OpenAIServer(
        [Reply(texts, prompt_tokens=1100, completion_tokens=120, cached_tokens=1024)]
    ) as server:
        policy = make_policy("test-model", base_url=server.url, api_key="sk-test", retry_wait=0, price=price)
        chooser = LookaheadChooser(ConstantCritic(), k=4, temperature=0.9)
        with DockerEnv(base_task("search-usage"), run_id="test-search-usage") as env:
            traj = Agent(env, policy, chooser, AgentConfig(step_limit=1, install_tools=False)).run(
                tmp_path / "t.json"
            )
        assert [r.body.get("n") for r in server.completions] == [4]
    step = Trajectory.load(tmp_path / "t.json").steps[0]
    assert len(step.candidates) == 4 and step.usage == traj.steps[0].usage
    assert (step.usage.prompt_tokens, step.usage.cached_prompt_tokens, step.usage.completion_tokens) == (
        1100,
        1024,
        120,
    )
    assert step.usage.cost == pytest.approx((76 * 2.0 + 1024 * 0.5 + 120 * 10.0) / 1e6)
    saved = json.loads((tmp_path / "t.json").read_text())["steps"][0]
    assert (saved["prompt_tokens"], saved["cached_prompt_tokens"], saved["completion_tokens"]) == (
        1100,
        1024,
        120,
    )
