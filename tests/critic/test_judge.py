"""The LLM judge (critic.clients.judge) through the real `openai` client against a loopback server whose
answers (log-probabilities, or sampled YES/NO) follow a fixed rule on the judged text."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.policies import ScriptedPolicy
from agent.trajectory import ExitStatus, Trajectory
from critic.clients.judge import yes_share
from critic.config import JudgeConfig
from critic.errors import CriticUnavailable
from critic.factory import make_critic
from critic.protocol import last_call
from eval.batch.records import InstanceRecord, run_record
from eval.report.run_report import build_report, render_markdown
from search.budget import Budget
from search.config import BudgetConfig, SearchConfig
from search.solve import solve
from tests.helpers.openai_server import Error, Logprobs, OpenAIServer, judge_rule, judged_text
from tests.search.synthetic import Arm, SyntheticEnv, SyntheticTask, reply

TASK = SyntheticTask(arms=(Arm("alpha", 0.4, 1.0), Arm("beta", 0.3, 1.0), Arm("gamma", 0.3, 1.0)), depth=1)
AGENT = AgentConfig(install_tools=False, cost_limit=None, step_limit=6)
RULE = {"beta": 0.9, "alpha": 0.3, "gamma": 0.6, "submit": 0.7}


def judge(server: OpenAIServer, tmp_path: Path, config: JudgeConfig | None = None):
    return make_critic(f"judge:test-model@{server.url}", tmp_path, config)


def run(tmp_path, critic, policy, strategy="lookahead", agent=AGENT, budget=None, **search):
    config = SearchConfig(strategy=strategy, k=3, n=3, concurrency=1, **search)
    make_env = lambda task, i: SyntheticEnv(TASK, f"judge:{i}")  # noqa: E731
    task = SyntheticEnv(TASK).task
    return solve(task, config, make_env, policy, critic, agent, tmp_path, budget=budget)


def test_yes_share_sums_the_variants_of_each_answer():
    top = [("YES", math.log(0.3)), (" Yes", math.log(0.1)), ("no.", math.log(0.2)), ("Maybe", math.log(0.4))]
    assert yes_share(top) == pytest.approx(0.4 / 0.6, abs=1e-12)
    assert yes_share([("Maybe", -0.1)]) is None


def test_lookahead_picks_the_judges_favourite_with_the_formulas_scores(tmp_path):
    policy = ScriptedPolicy([[reply("alpha"), reply("beta"), reply("gamma")], reply("submit")])
    with OpenAIServer(default=judge_rule(RULE)) as server:
        result = run(tmp_path, judge(server, tmp_path), policy)
        requests = [r.body for r in server.completions]
    traj = Trajectory.load(tmp_path / "trajectory.json")
    first = traj.steps[0]
    assert first.action == "beta" and traj.exit_status == ExitStatus.submitted
    # Q = P(YES) / (P(YES) + P(NO)) over the variants the server returned, within 1e-6
    assert [c.q for c in first.candidates] == pytest.approx([0.3, 0.9, 0.6], abs=1e-6)
    # one token at temperature 0 with top log-probabilities, K requests sharing the history, candidate last
    assert len(requests) == 3 + 1  # the three candidates, then the final turn's selection prompt
    looked = requests[:3]
    assert all(b["max_tokens"] == 1 and b["temperature"] == 0 and b["logprobs"] for b in looked)
    users = [b["messages"][-1]["content"] for b in looked]
    prefix = users[0].rsplit("<action>", 1)[0]
    assert all(u.startswith(prefix) for u in users)  # the K requests (in any order) differ only at the end
    named = sorted(next(a for a in ("alpha", "beta", "gamma") if a in judged_text(b)) for b in looked)
    assert named == ["alpha", "beta", "gamma"]
    # each score is recorded with its prompt's tokens, and the judge's spending apart from the policy's
    assert all(c.critic_tokens and c.critic_tokens > 50 for c in first.candidates)
    assert first.critic_usage.prompt_tokens == sum(c.critic_tokens for c in first.candidates)
    assert first.critic_usage.completion_tokens == 3  # one answer token per request, the policy's apart
    assert first.usage.completion_tokens == sum(math.ceil(len(c.text) / 4) for c in first.candidates)
    critic = traj.config["strategy"]["critic"]
    assert critic["kind"] == "judge" and critic["scoring"].startswith("logprobs")
    # a single submit candidate is not scored by lookahead; the run's final Q comes from the selection prompt
    assert result.runs[0].final_q == pytest.approx(0.9, abs=1e-6)  # its patch names beta
    assert traj.final_q_tokens and traj.stats.critic_usage.prompt_tokens > first.critic_usage.prompt_tokens


def test_select_picks_the_run_with_the_highest_final_score(tmp_path):
    script = [
        reply("alpha"),
        reply("submit"),
        reply("beta"),
        reply("submit"),
        reply("gamma"),
        reply("submit"),
    ]
    with OpenAIServer(default=judge_rule(RULE)) as server:
        result = run(tmp_path, judge(server, tmp_path), ScriptedPolicy(script), strategy="select")
        finals = [r.body for r in server.completions]
    assert [r.final_q for r in result.runs] == pytest.approx([0.3, 0.9, 0.6], abs=1e-6)
    assert result.chosen == 1 and "+beta" in result.patch
    # the selection prompt shows the patch, after the history
    assert all("<patch>" in b["messages"][-1]["content"] for b in finals) and len(finals) == 3
    traj = Trajectory.load(tmp_path / "run-1" / "trajectory.json")
    assert traj.final_q == pytest.approx(0.9, abs=1e-6) and traj.final_q_tokens > 0


def test_without_logprobs_the_judge_samples_answers_says_so_once_and_records_it(tmp_path, caplog):
    policy = ScriptedPolicy(
        [[reply("alpha"), reply("beta")], [reply("gamma"), reply("alpha")], reply("submit")]
    )
    config = JudgeConfig(fallback_samples=8)
    with caplog.at_level(logging.WARNING), OpenAIServer(default=judge_rule(RULE, logprobs=False)) as server:
        run(tmp_path, judge(server, tmp_path, config), policy)
        sampled = [r.body for r in server.completions if not r.body.get("logprobs")]
    traj = Trajectory.load(tmp_path / "trajectory.json")
    critic = traj.config["strategy"]["critic"]
    assert critic["scoring"].startswith("sampled") and "no log-probabilities" in critic["fallback"]
    assert all(b["n"] == 8 and b["temperature"] == 1.0 for b in sampled) and len(sampled) >= 4
    qs = [c.q for s in traj.steps for c in s.candidates if c.q is not None]
    assert len(qs) == 4 and all(abs(8 * q - round(8 * q)) < 1e-9 for q in qs)  # YES fractions of 8
    said = [r for r in caplog.records if "no log-probabilities" in r.getMessage()]
    assert len(said) == 1


def test_an_answer_with_neither_token_scores_one_half_and_the_report_counts_it(tmp_path):
    undecided = Logprobs({"Maybe": -0.2, "Perhaps": -1.8})
    policy = ScriptedPolicy([[reply("alpha"), reply("beta")], reply("submit")])
    with OpenAIServer(default=undecided) as server:
        critic = judge(server, tmp_path)
        assert critic.score([{"role": "user", "content": "issue"}], ["a", "b"]) == [0.5, 0.5]
        assert last_call(critic).undecided == 2
        run(tmp_path / "traj", critic, policy)
    traj = Trajectory.load(tmp_path / "traj" / "trajectory.json")
    assert traj.stats.critic_undecided == 3  # two candidates and the final turn
    # the run report's judge section (eval.report) reads it back from the instance record
    out = tmp_path / "run"
    rec = run_record(tmp_path, 0, traj, None)
    done = InstanceRecord(instance_id="synthetic", status="ok", runs=[rec], chosen=0, exit_status="submitted")
    (out / "instances" / "synthetic").mkdir(parents=True)
    (out / "instances" / "synthetic" / "done.json").write_text(done.model_dump_json())
    report = build_report(out)
    assert report["judge"]["scores"] == 3 and report["judge"]["undecided"] == 3
    assert "neither YES nor NO" in render_markdown(report) and "3 (100.0%)" in render_markdown(report)


def test_a_judge_that_never_answers_ends_the_run_at_its_deadline(tmp_path):
    policy = ScriptedPolicy([[reply("alpha"), reply("beta")]] * 3)
    agent = AGENT.model_copy(update={"wall_time": 3.0})
    with OpenAIServer(default=Logprobs({"YES": -0.1}, delay=60)) as server:
        critic = judge(server, tmp_path)
        start = time.monotonic()
        result = run(tmp_path, critic, policy, agent=agent)
        took = time.monotonic() - start
    assert result.runs[0].status == ExitStatus.timeout.value and took < 15
    assert "limit ran out during a call" in result.trajectory.exit_message


def test_judge_tokens_are_charged_so_a_cost_limit_stops_the_run(tmp_path, monkeypatch):
    models = tmp_path / "models.yaml"
    models.write_text(
        "models:\n  pricey-judge:\n    model: test-model\n    base_url: {url}\n"
        "    price: {{input: 100.0, output: 100.0}}\n"
    )

    def policy() -> ScriptedPolicy:
        return ScriptedPolicy([[reply("alpha"), reply("beta")]] * 6)

    with OpenAIServer(default=judge_rule(RULE)) as server:
        models.write_text(models.read_text().format(url=server.url))
        monkeypatch.setenv("SWE_SEARCH_MODELS", str(models))
        critic = make_critic("judge:pricey-judge", tmp_path)
        # the agent's cost limit counts the judge's cost (the policy here costs nothing)
        agent = AGENT.model_copy(update={"cost_limit": 0.01})
        traj = run(tmp_path / "a", critic, policy(), agent=agent).trajectory
        assert traj.exit_status == ExitStatus.cost_limit and len(traj.steps) == 1
        assert traj.stats.usage.cost == 0 and traj.stats.critic_usage.cost >= 0.01
        # and so does the search budget's
        budget = Budget(BudgetConfig(cost=0.01))
        traj = run(tmp_path / "b", critic, policy(), budget=budget).trajectory
        assert traj.exit_status == ExitStatus.budget_exhausted and len(traj.steps) == 1
        assert budget.spent().critic_usage.cost == pytest.approx(traj.stats.critic_usage.cost)


def test_judge_specs_that_cannot_be_had_fail_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for spec, said in (
        ("judge:", "judge:ALIAS"),
        ("judge:no-such-alias", "unknown model"),
        ("judge:gpt-4o-mini", "OPENAI_API_KEY"),
        ("judge:m@http://127.0.0.1:9/v1", "not reachable"),
    ):
        with pytest.raises(CriticUnavailable, match=said) as e:
            make_critic(spec, tmp_path)
        assert "\n" not in str(e.value)


def _long_history(turns: int = 30) -> list[dict[str, str]]:
    history = [
        {"role": "system", "content": "agent prompt"},
        {"role": "user", "content": "ISSUE: parse() fails"},
    ]
    for i in range(turns):
        history += [
            {"role": "assistant", "content": f"step {i} " + "x" * 200 + f"\n```\nalpha{i}\n```"},
            {"role": "user", "content": f"output {i} " + "y" * 200},
        ]
    return history


def test_long_histories_are_cut_to_the_budget_keeping_the_issue_and_the_recent_turns(tmp_path, tokenizer):
    history, candidates = _long_history(), ["short candidate", "long candidate " + "z" * 600]
    folder = tmp_path / "tok"
    tokenizer.save_pretrained(folder)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    budgets = (
        (JudgeConfig(max_chars=4000), len, 4000),
        (JudgeConfig(tokenizer=str(folder), max_tokens=4000), count, 4000),
    )
    for config, measure, limit in budgets:
        with OpenAIServer(default=judge_rule(RULE)) as server:
            critic = judge(server, tmp_path, config)
            critic.score(history, candidates)
            prompts = [r.body["messages"] for r in server.completions]
        assert critic.describe()["budget"].startswith(str(limit))
        assert all(sum(measure(m["content"]) for m in p) <= limit for p in prompts)
        users = [p[-1]["content"] for p in prompts]
        assert "ISSUE: parse() fails" in users[0] and "step 29 " in users[0] and "step 0 " not in users[0]
        assert "earlier turns left out" in users[0]
        assert users[0].rsplit("<action>", 1)[0] == users[1].rsplit("<action>", 1)[0]  # one shared prefix


def test_a_failed_judge_request_is_retried_like_the_policys(tmp_path, monkeypatch):
    models = tmp_path / "models.yaml"
    with OpenAIServer([Error(503), Error(429)], default=judge_rule(RULE)) as server:
        models.write_text(
            f"models:\n  quick-judge:\n    model: m\n    base_url: {server.url}\n    retry_wait: 0\n"
        )
        monkeypatch.setenv("SWE_SEARCH_MODELS", str(models))
        critic = make_critic("judge:quick-judge", tmp_path)
        assert critic.score([{"role": "user", "content": "issue"}], ["do beta"]) == pytest.approx([0.9])
        assert len(server.completions) == 3  # two transient failures, then the answer
