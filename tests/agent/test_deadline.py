"""A model or critic call never outlives the run's deadline (agent.deadline), retries included."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from agent import deadline
from agent.policies import make_policy
from critic.clients.http import HTTPCritic
from tests.helpers.openai_server import Error, OpenAIServer, Reply

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_model_call_that_never_answers_ends_at_the_deadline():
    with OpenAIServer(["warm"], default=Reply("late", delay=120)) as server:
        policy = make_policy("test-model", base_url=server.url, api_key="sk-test", timeout=600)
        # The first call loads the openai client's lazy modules (seconds on a cold cache, as in CI's
        # first test); the deadline is about the call that hangs, not about imports.
        assert policy.sample(MESSAGES)[0].text == "warm"
        t0 = time.monotonic()
        with pytest.raises(deadline.DeadlineExceeded), deadline.within(t0 + 1.5):
            policy.sample(MESSAGES)
        assert time.monotonic() - t0 < 3


def test_retries_of_a_failing_server_stop_at_the_deadline():
    with OpenAIServer(default=Error(503)) as server:
        policy = make_policy("test-model", base_url=server.url, api_key="sk-test", retry_wait=30)
        t0 = time.monotonic()
        with pytest.raises(deadline.DeadlineExceeded), deadline.within(t0 + 1.5):
            policy.sample(MESSAGES, n=2)  # n > 1 may go through a thread pool: the deadline follows
        assert time.monotonic() - t0 < 3


def test_without_a_deadline_the_policy_answers_as_before():
    with OpenAIServer(["hello"]) as server:
        policy = make_policy("test-model", base_url=server.url, api_key="sk-test")
        assert policy.sample(MESSAGES)[0].text == "hello"


def test_a_critic_call_that_never_answers_ends_at_the_deadline(silent_port):
    critic = HTTPCritic(f"http://127.0.0.1:{silent_port}", timeout=600)
    t0 = time.monotonic()
    with pytest.raises(deadline.DeadlineExceeded), deadline.within(t0 + 1.5):
        critic.score(MESSAGES, ["ls"])
    assert time.monotonic() - t0 < 3
    critic.close()


def test_an_earlier_outer_deadline_wins():
    now = time.monotonic()
    with deadline.within(now + 5), deadline.within(now + 50):
        assert deadline.current() == now + 5
    assert deadline.current() is None
