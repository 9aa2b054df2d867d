"""The vLLM mode of the critic client against a loopback server that speaks vLLM's classify
protocol and runs the real tiny critic (tests/helpers/vllm_server.py)."""

import contextlib

import httpx
import pytest

from critic.clients.http import CriticRequestError, CriticUnavailable, LocalCritic
from critic.clients.vllm import CriticProtocolError, VLLMCritic, parse_spec, sigmoid
from critic.data.synthetic import TOY_CANDIDATES, toy_conversation
from critic.errors import CriticSetupError
from critic.factory import make_critic
from tests.helpers.vllm_server import VLLMServer


@pytest.fixture(scope="module")
def vllm(checkpoint):
    with VLLMServer(checkpoint, max_model_len=4096) as server:
        yield server


@pytest.fixture(scope="module")
def local(checkpoint):
    return LocalCritic(checkpoint, device="cpu", max_context=4096, session=None)


def test_values_equal_local_critic(vllm, local, checkpoint):
    critic = VLLMCritic.from_spec(f"vllm+{vllm.url}?tokenizer={checkpoint}")
    health = critic.health()
    assert health["backend"] == "vllm" and health["model"] == "critic" and health["max_context"] == 4096
    for t in range(4):
        history = toy_conversation(t, words=3 + t)
        values = critic.score(history, TOY_CANDIDATES)
        assert values == pytest.approx(local.score(history, TOY_CANDIDATES), abs=1e-4)
        assert critic.last["values"] == [sigmoid(x) for x in critic.last["logits"]]
        assert critic.last_call.usage.prompt_tokens == critic.last["prompt_tokens"] > 0  # vLLM's own count
        assert len(set(values)) > 1  # distinct candidates get distinct values
    messages = [*toy_conversation(2), {"role": "assistant", "content": "```bash\nsubmit\n```"}]
    assert critic.score_final(messages) == pytest.approx(local.score_final(messages), abs=1e-4)


def test_each_candidate_is_one_input_ending_at_the_marker_over_a_shared_history(vllm, checkpoint):
    run = VLLMCritic(vllm.url, checkpoint).with_session("run-1")
    marker = run.serializer.marker_id
    before = len(vllm.classify_requests)
    histories = []
    for t in range(3):
        run.score(toy_conversation(t), TOY_CANDIDATES)
        body = vllm.classify_requests[-1].body
        assert body["use_activation"] is False and body["add_special_tokens"] is False
        inputs, n = body["input"], run.last["prefix_tokens"]
        assert len(inputs) == len(TOY_CANDIDATES)
        assert all(ids[-1] == marker for ids in inputs)  # vLLM's LAST pooling reads our marker
        assert all(ids[:n] == inputs[0][:n] for ids in inputs)  # one shared history per step
        histories.append(inputs[0][:n])
    assert len(vllm.classify_requests) == before + 3
    for shorter, longer in zip(histories, histories[1:], strict=False):
        assert longer[: len(shorter)] == shorter  # the next step extends it: its prefix cache hits


def test_refusals_are_typed_errors_at_once(vllm, checkpoint):
    critic = VLLMCritic(vllm.url, checkpoint, retries=3)
    seen = len(vllm.requests)
    vllm.fail(400)
    with pytest.raises(CriticRequestError, match=r"refused /classify \(400\): scripted fault 400"):
        critic.score(toy_conversation(1), TOY_CANDIDATES)
    assert len(vllm.requests) == seen + 1  # not retried
    # a real refusal: the client was told a larger context than the server's max_model_len
    with VLLMServer(checkpoint, max_model_len=120) as small:
        big = VLLMCritic(small.url, checkpoint, max_context=4096)
        with pytest.raises(CriticRequestError, match="maximum context length is 120 tokens"):
            big.score(toy_conversation(3), TOY_CANDIDATES)
        assert big.health()["max_context"] == 120  # health() caps the context at max_model_len ...
        assert big.score(toy_conversation(3), TOY_CANDIDATES)  # ... so inputs are truncated to fit
        assert (
            big.last["dropped_turns"] > 0 and max(map(len, small.classify_requests[-1].body["input"])) <= 120
        )
    with pytest.raises(CriticRequestError, match="not valid Unicode"):  # refused before sending
        critic.score(toy_conversation(1), ["\ud800"])


def test_server_errors_and_dropped_connections_are_retried(vllm, local, checkpoint):
    critic = VLLMCritic(vllm.url, checkpoint, retries=3)
    history = toy_conversation(2)
    seen = len(vllm.requests)
    vllm.fail(503, "drop")
    assert critic.score(history, TOY_CANDIDATES) == pytest.approx(
        local.score(history, TOY_CANDIDATES), abs=1e-4
    )
    assert len(vllm.requests) == seen + 3
    vllm.fail(503, 502, 504)
    with pytest.raises(CriticRequestError, match="failed: 504 scripted fault 504"):
        critic.score(history, TOY_CANDIDATES)  # gave up after its 3 tries, naming the last answer
    assert not vllm.faults


def test_a_run_moves_to_the_next_replica_when_its_server_dies(checkpoint, local):
    servers = [VLLMServer(checkpoint).start() for _ in range(2)]
    try:
        spec = f"vllm+{servers[0].url},{servers[1].url.removeprefix('http://')}?tokenizer={checkpoint}"
        base = VLLMCritic.from_spec(spec, timeout=5, retries=1)
        assert set(base.health()["servers"]) == {s.url for s in servers}
        run = base.with_session("moving")
        first = run.url
        run.score(toy_conversation(1), TOY_CANDIDATES)
        servers[[s.url for s in servers].index(first)].stop()
        history = toy_conversation(2)
        assert run.score(history, TOY_CANDIDATES) == pytest.approx(
            local.score(history, TOY_CANDIDATES), abs=1e-4
        )
        assert run.url != first
        with pytest.raises(CriticUnavailable, match=f"vLLM critic at {first} is not answering.*vllm serve"):
            run.health()
    finally:
        for s in servers:
            with contextlib.suppress(OSError):  # the one stopped in the test
                s.stop()
    with pytest.raises(CriticUnavailable, match="not answering"):
        run.score(toy_conversation(3), TOY_CANDIDATES)


def test_health_refuses_a_server_that_ignores_use_activation(checkpoint):
    old = VLLMServer(checkpoint, honour_use_activation=False)
    with old, pytest.raises(CriticProtocolError, match="does not answer raw logits.*0.16"):
        VLLMCritic(old.url, checkpoint).health()
    server = VLLMServer(checkpoint)
    with server, pytest.raises(CriticProtocolError, match=r"serves \['critic'\], not the model 'other'"):
        VLLMCritic(server.url, checkpoint, model="other").health()


def test_specs_and_make_critic(vllm, checkpoint, tmp_path):
    urls, options = parse_spec("vllm+http://a:8000, b:8001 ,vllm+https://c?tokenizer=/ck&model=m")
    assert urls == ["http://a:8000", "http://b:8001", "https://c"] and options == {
        "tokenizer": "/ck",
        "model": "m",
    }
    with pytest.raises(ValueError, match="needs \\?tokenizer=DIR"):
        parse_spec("vllm+http://a:8000")
    with pytest.raises(ValueError, match="unknown option tokenzier"):
        parse_spec("vllm+http://a:8000?tokenzier=/x")
    with pytest.raises(CriticSetupError, match="does not exist"):
        VLLMCritic.from_spec(f"vllm+http://a:8000?tokenizer={tmp_path / 'nope'}")
    critic = make_critic(f"vllm+{vllm.url}?tokenizer={checkpoint}", tmp_path)
    assert isinstance(critic, VLLMCritic) and critic.score(toy_conversation(1), ["a"])
    with pytest.raises(CriticUnavailable, match="not answering"):
        make_critic(f"vllm+http://127.0.0.1:9?tokenizer={checkpoint}", tmp_path)


def test_the_stand_in_speaks_vllms_error_shape(vllm):
    r = httpx.post(f"{vllm.url}/classify", json={"input": [[10**9]]})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": f"Token id {10**9} is out of vocabulary",
        "type": "Bad Request",
        "param": "input",
        "code": 400,
    }
    assert (
        httpx.post(
            f"{vllm.url}/classify", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert httpx.post(f"{vllm.url}/nope", json={}).json()["error"]["code"] == 404
    answer = httpx.post(f"{vllm.url}/classify", json={"input": "fix the bug"}).json()
    assert answer["data"][0]["num_classes"] == 1 and 0 < answer["data"][0]["probs"][0] < 1
