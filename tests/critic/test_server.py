import json
import threading

import httpx
import pytest

from critic.clients.http import CriticRequestError, CriticUnavailable, HTTPCritic
from critic.config import ServeConfig
from critic.data.synthetic import TOY_CANDIDATES, toy_conversation
from critic.serve.scoring import Scorer
from critic.serve.server import ServerThread, create_app


@pytest.fixture(scope="module")
def server(model, tokenizer):
    scorer = Scorer(model, tokenizer, max_context=400)
    app = create_app(scorer, ServeConfig(max_candidates=8, max_request_bytes=50_000, batch_wait_ms=5))
    thread = ServerThread(app)
    yield thread.start(), scorer
    thread.stop()


def test_health_and_score_over_http(server):
    url, scorer = server
    critic = HTTPCritic(url)
    assert critic.health()["status"] == "ok"
    history = toy_conversation(2)
    assert critic.score(history, TOY_CANDIDATES) == pytest.approx(
        scorer.score_naive(history, TOY_CANDIDATES), abs=1e-4
    )


def test_concurrent_clients_with_sessions(server):
    url, scorer = server
    errors, results = [], {}

    def run(i: int) -> None:
        try:
            with HTTPCritic(url, session=f"run-{i}") as critic:
                for t in range(3):
                    history = toy_conversation(t, words=3 + i)
                    results[(i, t)] = (critic.score(history, TOY_CANDIDATES), critic.last["cached_tokens"])
                    usage, last = critic.last_call.usage, critic.last  # what the step records as critic usage
                    assert (
                        usage.cached_prompt_tokens == last["cached_tokens"] and last["candidate_tokens"] > 0
                    )
                    assert usage.prompt_tokens == last["prefix_tokens"] + last["candidate_tokens"]
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for (i, t), (values, cached) in results.items():
        history = toy_conversation(t, words=3 + i)
        assert values == pytest.approx(scorer.score_naive(history, TOY_CANDIDATES), abs=1e-4)
        assert (cached > 0) == (t > 0)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 422),
        (b'{"messages": [{"role": "user", "content": "x"}], "candidates": []}', 422),
        (b'{"messages": [], "candidates": ["a"]}', 422),
        (b'{"messages": [{"role": "alien", "content": "x"}], "candidates": ["a"]}', 422),
        (
            b'{"messages": [{"role": "user", "content": "x"}], "candidates": ["a","a","a","a","a","a","a","a","a"]}',
            422,
        ),
        (
            b'{"messages": [{"role": "user", "content": "x"}], "candidates": ["a"], "session": "never-opened"}',
            404,
        ),
    ],
)
def test_bad_requests_get_4xx(server, body, status):
    url, _ = server
    r = httpx.post(f"{url}/v1/score", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_oversized_requests_get_413(server):
    url, _ = server
    too_long = [{"role": "user", "content": "error line value " * 300}]
    r = httpx.post(f"{url}/v1/score", json={"messages": too_long, "candidates": ["a"]})
    assert r.status_code == 413 and "context" in r.json()["detail"]
    huge = [{"role": "user", "content": "x" * 60_000}]
    r = httpx.post(f"{url}/v1/score", json={"messages": huge, "candidates": ["a"]})
    assert r.status_code == 413 and "50000 bytes" in r.json()["detail"]

    def chunks():  # no content-length: the size is known only while reading; valid but for its size
        yield b'{"messages": [{"role": "user", "content": "x"}], "candidates": ["a"], "padding": "'
        for _ in range(70):
            yield b"x" * 1000
        yield b'"}'

    r = httpx.post(f"{url}/v1/score", content=chunks(), headers={"content-type": "application/json"})
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 413
    assert httpx.get(f"{url}/health").status_code == 200  # still serving


def test_open_sessions_are_bounded_and_the_client_reopens_a_forgotten_one(model, tokenizer):
    scorer = Scorer(model, tokenizer, max_context=400)
    with ServerThread(create_app(scorer, ServeConfig(max_open_sessions=2))) as url:
        first = HTTPCritic(url, session="first")
        history = toy_conversation(1)
        expected = scorer.score_naive(history, TOY_CANDIDATES)
        assert first.score(history, TOY_CANDIDATES) == pytest.approx(expected, abs=1e-4)
        for sid in ("second", "third"):
            assert httpx.post(f"{url}/v1/sessions", json={"session": sid}).status_code == 200
        assert httpx.get(f"{url}/health").json()["open_sessions"] == 2
        body = {"messages": history, "candidates": TOY_CANDIDATES, "session": "first"}
        assert httpx.post(f"{url}/v1/score", json=body).status_code == 404  # forgotten
        # the client opens it again and carries on
        assert first.score(toy_conversation(2), TOY_CANDIDATES) == pytest.approx(
            scorer.score_naive(toy_conversation(2), TOY_CANDIDATES), abs=1e-4
        )
        assert httpx.delete(f"{url}/v1/sessions/second").status_code == 404  # pushed out by "first"
        assert httpx.delete(f"{url}/v1/sessions/third").json() == {"dropped": False}


def test_client_reports_refusals_and_unknown_session_deletes(server):
    url, _ = server
    with pytest.raises(CriticRequestError, match="413"):
        HTTPCritic(url).score([{"role": "user", "content": "value " * 2000}], ["a"])
    assert httpx.delete(f"{url}/v1/sessions/nope").status_code == 404


def test_client_error_when_server_is_down():
    critic = HTTPCritic("http://127.0.0.1:9", timeout=2, retries=2)
    with pytest.raises(CriticUnavailable, match="not answering.*critic serve"):
        critic.health()
    with pytest.raises(CriticUnavailable):
        critic.score(toy_conversation(1), ["a"])


def test_concurrent_requests_share_forwards(model, tokenizer):
    """Requests that arrive together are batched into the same forward passes."""
    scorer = Scorer(model, tokenizer, max_batch_rows=8)
    app = create_app(scorer, ServeConfig(batch_wait_ms=300))
    n = 6
    start = threading.Barrier(n)
    results: dict[int, list[float]] = {}
    errors: list[Exception] = []

    def run(i: int) -> None:
        try:
            with HTTPCritic(url, session=f"b-{i}") as critic:
                critic.health()
                start.wait()
                results[i] = critic.score(toy_conversation(1 + i % 3, words=3 + i), TOY_CANDIDATES)
        except Exception as e:
            errors.append(e)

    with ServerThread(app) as url:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        batching = httpx.get(f"{url}/health").json()["batching"]
    assert not errors and len(results) == n
    assert batching["requests"] == n and batching["max_rows"] >= 2
    for i, values in results.items():
        history = toy_conversation(1 + i % 3, words=3 + i)
        assert values == pytest.approx(scorer.score_naive(history, TOY_CANDIDATES), abs=1e-4)


class FlakyProxy:
    """A loopback reverse proxy that answers 503 to the first `failures` requests, then forwards to
    the real critic server (a load balancer in front of a restarting server behaves like this)."""

    def __init__(self, upstream: str, failures: int) -> None:
        import http.server

        proxy = self
        self.failures, self.seen = failures, 0
        self.sessions: list[str | None] = []  # the X-Critic-Session header of each request

        class Handler(http.server.BaseHTTPRequestHandler):
            def _relay(self) -> None:
                proxy.seen += 1
                proxy.sessions.append(self.headers.get("x-critic-session"))
                if proxy.seen <= proxy.failures:
                    self.send_response(503)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                r = httpx.request(
                    self.command,
                    upstream + self.path,
                    content=body,
                    headers={"content-type": "application/json"},
                )
                self.send_response(r.status_code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_DELETE = _relay

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def test_client_retries_transient_503_then_succeeds(server):
    url, scorer = server
    proxy = FlakyProxy(url, failures=2)
    try:
        values = HTTPCritic(proxy.url, retries=3).score(toy_conversation(1), TOY_CANDIDATES)
        assert proxy.seen == 3
        assert values == pytest.approx(scorer.score_naive(toy_conversation(1), TOY_CANDIDATES), abs=1e-4)
        proxy.failures, proxy.seen = 5, 0
        with pytest.raises(CriticRequestError, match="503"):
            HTTPCritic(proxy.url, retries=2).score(toy_conversation(1), TOY_CANDIDATES)
        assert proxy.seen == 2  # gave up after its retries, did not hammer the server
        proxy.failures, proxy.sessions = 0, []
        HTTPCritic(proxy.url, session="run-7").score(toy_conversation(1), TOY_CANDIDATES)
        assert proxy.sessions == ["run-7", "run-7"]  # open, score: a balancer can route by it
    finally:
        proxy.close()


@pytest.fixture
def replicas(model, tokenizer):
    """Two critic servers over the same model, as two GPUs would serve one checkpoint."""
    scorers = [Scorer(model, tokenizer, max_context=400) for _ in range(2)]
    threads = [ServerThread(create_app(scorer, ServeConfig())) for scorer in scorers]
    urls = [thread.start() for thread in threads]
    yield urls, threads, scorers
    for thread in threads:
        thread.stop()


def test_sessions_spread_over_replicas_and_stay_on_theirs(replicas):
    urls, _, scorers = replicas
    base = HTTPCritic(",".join(urls))
    assert set(base.health()["servers"]) == set(urls)
    runs = [base.with_session(f"run-{i}") for i in range(8)]
    assert {run.url for run in runs} == set(urls)
    for t in range(3):
        history = toy_conversation(t)
        expected = scorers[0].score_naive(history, TOY_CANDIDATES)
        for run in runs:
            assert run.score(history, TOY_CANDIDATES) == pytest.approx(expected, abs=1e-4)
            assert (run.last["cached_tokens"] > 0) == (t > 0)  # the same server at every step
    for url, scorer in zip(urls, scorers, strict=True):
        mine = sum(run.url == url for run in runs)
        assert httpx.get(f"{url}/health").json()["open_sessions"] == mine
        assert scorer.stats.requests == 3 * mine
    before = [scorer.stats.requests for scorer in scorers]
    for _ in range(4):  # no session: the calls take turns
        base.score(toy_conversation(1), TOY_CANDIDATES)
    assert [scorer.stats.requests - b for scorer, b in zip(scorers, before, strict=True)] == [2, 2]


def test_a_session_moves_to_another_replica_when_its_server_stops(replicas):
    urls, threads, scorers = replicas
    run = HTTPCritic(urls, session="moving", timeout=5, retries=1)
    first = run.url
    run.score(toy_conversation(1), TOY_CANDIDATES)
    threads[urls.index(first)].stop()
    history = toy_conversation(2)
    values = run.score(history, TOY_CANDIDATES)
    assert values == pytest.approx(scorers[0].score_naive(history, TOY_CANDIDATES), abs=1e-4)
    assert run.url != first and run.last["cached_tokens"] == 0  # its cache is rebuilt there, once
    run.score(toy_conversation(3), TOY_CANDIDATES)
    assert run.last["cached_tokens"] > 0
    with pytest.raises(CriticUnavailable, match=f"{first} is not answering"):
        run.health()


def test_all_replicas_down_is_one_clear_error():
    critic = HTTPCritic("http://127.0.0.1:9, http://127.0.0.1:1", timeout=2, retries=1, session="s")
    with pytest.raises(CriticUnavailable, match=r"127.0.0.1:9, http://127.0.0.1:1 is not answering"):
        critic.score(toy_conversation(1), ["a"])
    with pytest.raises(ValueError, match="no critic URL"):
        HTTPCritic(" , ")


# -- a generated corpus of bad input: every answer is a 4xx (or a 200), never a 500 -------------------

_LITERALS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 400, "-0", "1e-400", "true", "null"]
_STRINGS = [
    "\\ud800",
    "\\udfff",
    "a\\ud83d",
    "\\u0000",
    "\\u001f\\u007f",
    "\\ufffe",
    "<|value|>",
    "<|im_end|>",
    "",
]


def _json_text(rng, depth: int = 0) -> str:
    """Random JSON-ish text (valid JSON for Python's parser, which also takes NaN and Infinity)."""
    kind = rng.randrange(8 if depth < 4 else 4)
    if kind == 0:
        return rng.choice(_LITERALS)
    if kind == 1:
        return str(rng.randint(-(10**30), 10**30))
    if kind == 2:
        return json.dumps(rng.random() * 10 ** rng.randint(-5, 300))
    if kind == 3:
        return (
            '"'
            + "".join(rng.choice(_STRINGS + ["x", " ", "\\n", "\\\\"]) for _ in range(rng.randint(0, 6)))
            + '"'
        )
    if kind in (4, 5):
        return "[" + ",".join(_json_text(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    keys = ["messages", "candidates", "session", "role", "content", "\\ud800", ""]
    items = [f'"{rng.choice(keys)}":{_json_text(rng, depth + 1)}' for _ in range(rng.randint(0, 3))]
    return "{" + ",".join(items) + "}"


def _bad_message(rng) -> str:
    role = rng.choice(['"user"', '"assistant"', '"system"', '"tool"', '"alien"', "1", "null", '"\\ud800"'])
    content = rng.choice(['"x"', '"fix the bug"', *(f'"{s}"' for s in _STRINGS), _json_text(rng, 3)])
    return f'{{"role":{role},"content":{content}}}'


def _bad_bodies(rng) -> list[tuple[str, bytes]]:
    """(path, body) pairs: shapes close to valid ones, with one or more parts broken."""
    cases: list[tuple[str, bytes]] = []
    for _ in range(240):
        messages = "[" + ",".join(_bad_message(rng) for _ in range(rng.randint(0, 3))) + "]"
        if rng.random() < 0.3:
            messages = _json_text(rng, 2)
        cands = rng.choice(
            [
                '["a"]',
                "[]",
                '["a", 1]',
                '["\\ud800"]',
                '["\\u0000"]',
                '[["a"]]',
                '"a"',
                "[NaN]",
                _json_text(rng, 2),
            ]
        )
        fields = [f'"messages":{messages}', f'"candidates":{cands}']
        if rng.random() < 0.5:
            fields.append(
                f'"session":{rng.choice([*_LITERALS, _json_text(rng, 3), chr(34) + "s" + chr(34)])}'
            )
        rng.shuffle(fields)
        body = "{" + ",".join(fields[: rng.randint(1, len(fields))]) + "}"
        cases.append((rng.choice(["/v1/score", "/v1/score", "/v1/sessions"]), body.encode()))
    for _ in range(40):
        cases.append((rng.choice(["/v1/score", "/v1/sessions"]), _json_text(rng).encode()))
    for depth in (100, 1000, 20_000):  # deep nesting
        cases.append(("/v1/score", b'{"messages":' + b"[" * depth + b"]" * depth + b',"candidates":["a"]}'))
        cases.append(("/v1/sessions", b'{"session":' + b"{" * depth + b"}" * depth + b"}"))
    cases += [
        ("/v1/score", b""),
        ("/v1/score", b"\xff\xfe not utf-8"),
        ("/v1/score", b'{"messages":[{"role":"user","content":"raw \x01 control"}],"candidates":["a"]}'),
        (
            "/v1/score",
            b'{"messages":[{"role":"user","content":"x"}],"candidates":["a"]' + b" " * 60_000 + b"}",
        ),
        (
            "/v1/score",
            b'{"messages":[{"role":"user","content":"' + b"x" * 60_000 + b'"}],"candidates":["a"]}',
        ),
        ("/v1/sessions", b'{"session":"' + b"s" * 60_000 + b'"}'),
        ("/v1/score", b"[" + b"1," * 30_000 + b"1]"),
    ]
    return cases


def test_generated_bad_input_always_gets_a_4xx_with_a_json_message(server):
    import random

    url, _ = server
    rng = random.Random(20261201)
    statuses: dict[int, int] = {}
    with httpx.Client(timeout=30) as http:
        for path, body in _bad_bodies(rng):
            r = http.post(url + path, content=body, headers={"content-type": "application/json"})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code == 200 or 400 <= r.status_code < 500, (
                path,
                body[:300],
                r.status_code,
                r.text,
            )
            if r.status_code != 200:
                detail = r.json()["detail"]
                assert detail and isinstance(detail, str), r.text
        for sid in ["%ED%A0%80", "%00", "x" * 300, "..", "%FF"]:  # odd ids in the path
            r = http.delete(f"{url}/v1/sessions/{sid}")
            assert r.status_code in (404, 200), (sid, r.text)
        assert http.get(f"{url}/health").status_code == 200  # still serving
    assert statuses.get(422, 0) > 100 and len(statuses) >= 3  # the corpus reached the validators


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"messages":[{"role":"user","content":"\\ud800"}],"candidates":["a"]}', "messages.0.content"),
        (b'{"messages":[{"role":"user","content":"x"}],"candidates":["ok","\\udfff"]}', "candidates.1"),
        (b'{"messages":[{"role":"user","content":"x"}],"candidates":[NaN]}', "candidates.0"),
        (b'{"messages":[{"role":"user","content":"x"}],"candidates":["a"],"session":Infinity}', "session"),
        (b'{"messages":[{"role":"user","content":NaN}],"candidates":["a"]}', "messages.0.content"),
    ],
)
def test_surrogates_and_nan_are_422_with_a_message(server, body, where):
    url, _ = server
    r = httpx.post(f"{url}/v1/score", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert where in r.json()["detail"]


def test_health_reports_rss_and_it_falls_back_once_sessions_are_deleted(tokenizer):
    """KV caches of deleted sessions go back to the OS, not only out of cache_bytes (issue 26.6).

    Before, glibc kept the freed arena memory: RSS stayed at its peak with cache_bytes at 0.
    """
    import time

    import torch

    from critic.model import build_critic, tiny_config

    torch.manual_seed(0)
    wide = build_critic(tiny_config(len(tokenizer), hidden=128, heads=4, kv_heads=4), tokenizer).eval()
    scorer = Scorer(wide, tokenizer, max_context=8192)
    words = " ".join(f"w{i}" for i in range(300))
    with (
        ServerThread(create_app(scorer, ServeConfig())) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        before = http.get("/health").json()
        assert before["rss_bytes"] > before["cache_bytes"] == 0
        sessions = [http.post("/v1/sessions", json={}).json()["session"] for _ in range(30)]
        for i, sid in enumerate(sessions):
            history = [{"role": "system", "content": "s"}, {"role": "user", "content": f"{i} {words}"}]
            body = {"messages": history, "candidates": ["ls"], "session": sid}
            assert http.post("/v1/score", json=body).status_code == 200
        full = http.get("/health").json()
        grown = full["rss_bytes"] - before["rss_bytes"]
        assert full["cache_bytes"] > 50 << 20 and grown > full["cache_bytes"] // 2, (full, before)
        for sid in sessions:
            assert http.delete(f"/v1/sessions/{sid}").json() == {"dropped": True}
        deadline = time.monotonic() + 10
        while (after := http.get("/health").json())["memory_trims"] == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert after["cache_bytes"] == 0
        # most of what the sessions took is back with the OS (allocator slack and Python objects remain)
        assert after["rss_bytes"] - before["rss_bytes"] < grown // 3, (before, full, after)
