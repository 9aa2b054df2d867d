"""OpenAIPolicy against a real loopback chat-completions server, through the real `openai` client."""

from __future__ import annotations

import time

import pytest

from agent.policies import (
    ContextOverflowError,
    OpenAIPolicy,
    PolicyAuthError,
    PolicyRequestError,
    PolicyUnavailableError,
    UnknownModelError,
    load_registry,
    make_policy,
)
from agent.types import Usage
from tests.helpers.openai_server import Error, OpenAIServer, Reply

MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}]


@pytest.fixture
def server():
    with OpenAIServer() as s:
        yield s


def policy_for(server: OpenAIServer, **kw) -> OpenAIPolicy:
    kw.setdefault("retry_wait", 0.0)
    return make_policy("test-model", base_url=server.url, api_key="sk-test-not-a-real-key-123456", **kw)


def test_one_completion_counts_tokens_and_cost(server):
    server.push(Reply("hello", prompt_tokens=1000, completion_tokens=10))
    policy = policy_for(server, price={"input": 2.0, "output": 10.0})
    [c] = policy.sample(MESSAGES, n=1, temperature=0.5)
    assert c.text == "hello" and (c.usage.prompt_tokens, c.usage.completion_tokens) == (1000, 10)
    assert c.usage.cost == pytest.approx((1000 * 2.0 + 10 * 10.0) / 1e6)
    body = server.completions[0].body
    assert body["messages"] == MESSAGES and body["temperature"] == 0.5 and "n" not in body
    assert server.completions[0].headers["Authorization"] == "Bearer sk-test-not-a-real-key-123456"


def test_n_completions_come_from_one_request_when_supported(server):
    server.push(Reply(["a", "b", "c"], prompt_tokens=100, completion_tokens=30))
    texts = [c.text for c in policy_for(server, price={"input": 1.0, "output": 1.0}).sample(MESSAGES, n=3)]
    assert texts == ["a", "b", "c"]
    assert len(server.completions) == 1 and server.completions[0].body["n"] == 3


def test_n_costs_add_up_to_the_request_cost(server):
    server.push(Reply(["a", "b"], prompt_tokens=100, completion_tokens=31))
    out = policy_for(server, price={"input": 1.0, "output": 1.0}).sample(MESSAGES, n=2)
    assert sum(c.usage.completion_tokens for c in out) == 31
    assert sum(c.usage.cost for c in out) == pytest.approx(131 / 1e6)


def test_an_n_request_counts_its_prompt_once_and_its_cached_part_apart(server):
    server.push(
        Reply(["a", "bb", "ccc", "dddd"], prompt_tokens=1100, completion_tokens=40, cached_tokens=1024)
    )
    price = {"input": 2.0, "output": 10.0, "cached_input": 1.0}
    out = policy_for(server, price=price).sample(MESSAGES, n=4)
    total = sum((c.usage for c in out), Usage())
    # billed as one request: the prompt once (76 fresh + 1024 cached tokens), all 40 completion tokens
    assert (total.prompt_tokens, total.cached_prompt_tokens, total.completion_tokens) == (1100, 1024, 40)
    assert total.cost == pytest.approx((76 * 2.0 + 1024 * 1.0 + 40 * 10.0) / 1e6)
    assert [c.usage.prompt_tokens for c in out] == [1100, 0, 0, 0]  # on the request's first sample
    assert [c.usage.completion_tokens for c in out] == [4, 8, 12, 16]  # each sample's own share
    assert [c.prompt_tokens for c in out] == [1100] * 4 and len(server.completions) == 1


def test_n_separate_requests_each_count_their_prompt(server):
    server.push(*[Reply("x", prompt_tokens=100, completion_tokens=5, cached_tokens=60)] * 2)
    out = policy_for(server, supports_n=False).sample(MESSAGES, n=2)
    total = sum((c.usage for c in out), Usage())
    assert (total.prompt_tokens, total.cached_prompt_tokens, total.completion_tokens) == (200, 120, 10)


def test_n_falls_back_to_parallel_requests_when_server_rejects_n():
    with OpenAIServer(default="one", supports_n=False) as server:
        policy = policy_for(server)
        assert [c.text for c in policy.sample(MESSAGES, n=3)] == ["one"] * 3
        n_values = [r.body.get("n") for r in server.completions]
        assert n_values == [3, None, None, None]
        policy.sample(MESSAGES, n=2)  # remembers: no more n>1 requests
        assert [r.body.get("n") for r in server.completions[4:]] == [None, None]


def test_without_supports_n_sends_concurrent_single_requests(server):
    server.push(Reply("x", delay=0.3), Reply("x", delay=0.3), Reply("x", delay=0.3))
    start = time.monotonic()
    out = policy_for(server, supports_n=False).sample(MESSAGES, n=3)
    assert len(out) == 3 and len(server.completions) == 3
    assert all("n" not in r.body for r in server.completions)
    assert time.monotonic() - start < 0.85  # concurrent, not 3 x 0.3 s in a row


def test_429_is_retried_then_succeeds(server):
    server.push(Error(429, "slow down"), Error(503), "finally")
    [c] = policy_for(server).sample(MESSAGES)
    assert c.text == "finally" and len(server.completions) == 3


def test_401_is_not_retried_and_says_what_to_check(server):
    server.push(Error(401, "Incorrect API key provided"), "never reached")
    with pytest.raises(PolicyAuthError, match="rejected the credentials.*OPENAI_API_KEY"):
        policy_for(server).sample(MESSAGES)
    assert len(server.completions) == 1


def test_500_storm_gives_up_after_the_attempt_bound(server):
    server.push(*[Error(500, "boom")] * 10)
    with pytest.raises(PolicyUnavailableError, match="after 4 attempts"):
        policy_for(server, max_attempts=4).sample(MESSAGES)
    assert len(server.completions) == 4


def test_backoff_waits_scale_with_retry_wait(server):
    server.push(Error(500), Error(500), "ok")
    start = time.monotonic()
    policy_for(server, retry_wait=0.05, retry_wait_max=0.05).sample(MESSAGES)
    assert 0.0 < time.monotonic() - start < 2.0


def test_context_length_error_is_typed_and_not_retried(server):
    message = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."
    server.push(Error(400, message, code="context_length_exceeded"), "never")
    with pytest.raises(ContextOverflowError, match="maximum context length"):
        policy_for(server).sample(MESSAGES)
    assert len(server.completions) == 1


def test_other_bad_request_is_a_request_error(server):
    server.push(Error(400, "unknown field 'foo'"))
    with pytest.raises(PolicyRequestError, match="unknown field"):
        policy_for(server).sample(MESSAGES)


def test_quota_429_is_not_retried(server):
    server.push(Error(429, "You exceeded your current quota", code="insufficient_quota"), "never")
    with pytest.raises(PolicyRequestError, match="quota"):
        policy_for(server).sample(MESSAGES)
    assert len(server.completions) == 1


def test_connection_refused_is_unavailable_after_retries():
    with OpenAIServer() as server:
        url = server.url
    policy = make_policy("m", base_url=url, api_key="k", retry_wait=0.0, max_attempts=2)
    with pytest.raises(PolicyUnavailableError, match="not answering"):
        policy.sample(MESSAGES)


def test_missing_api_key_fails_at_construction(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(PolicyAuthError, match="OPENAI_API_KEY"):
        make_policy("gpt-4o")


def test_gpt4o_alias_reads_key_from_env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0123456789")
    policy = make_policy("gpt-4o")
    assert policy.base_url.startswith("https://api.openai.com")
    assert policy.spec.price.input > 0
    assert "sk-from-env" not in str(policy.describe())


def test_qwen72b_base_url_from_env_or_default(monkeypatch):
    monkeypatch.delenv("SWE_SEARCH_QWEN72B_BASE_URL", raising=False)
    monkeypatch.delenv("VLLM_BASE_URL", raising=False)
    assert make_policy("qwen72b").base_url == "http://localhost:8000/v1"
    monkeypatch.setenv("VLLM_BASE_URL", "http://gpu-box:9000/v1")
    assert make_policy("qwen72b").base_url == "http://gpu-box:9000/v1"
    monkeypatch.setenv("SWE_SEARCH_QWEN72B_BASE_URL", "http://other:8000/v1")
    assert make_policy("qwen72b").base_url == "http://other:8000/v1"
    assert make_policy("qwen72b", base_url="http://cli:1/v1").base_url == "http://cli:1/v1"


def test_user_registry_file_adds_and_overrides_aliases(tmp_path, monkeypatch):
    user = tmp_path / "models.yaml"
    user.write_text(
        "models:\n  mine:\n    model: org/mine\n    base_url: http://mine:1/v1\n  qwen72b:\n    max_tokens: 77\n"
    )
    monkeypatch.setenv("SWE_SEARCH_MODELS", str(user))
    registry = load_registry()
    assert registry["mine"].model == "org/mine"
    assert registry["qwen72b"].max_tokens == 77 and registry["qwen72b"].model == "Qwen/Qwen2.5-72B-Instruct"


def test_unknown_model_without_base_url_is_a_clear_error():
    with pytest.raises(UnknownModelError, match="gpt-4o.*--base-url"):
        make_policy("no-such-model")
