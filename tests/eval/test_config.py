"""RunConfig: YAML composition, flag and override precedence, shards, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.configfile import ConfigError, parse_override
from agent.redaction import scrub
from envs.types import Task
from eval.batch.config import CONFIG_DIR, RunConfig, parse_shard
from eval.batch.records import shard_tasks


def test_run_yaml_composes_strategies_and_agent_defaults():
    cfg = RunConfig.load()
    assert cfg.search.strategy == "greedy" and cfg.search.k == 4
    assert cfg.agent.step_limit == 80 and cfg.agent.templates.system


def test_demo_config_is_lookahead_with_a_tiny_critic_and_small_limits():
    cfg = RunConfig.load(CONFIG_DIR / "demo.yaml")
    assert (cfg.model, cfg.critic, cfg.search.strategy) == ("smollm2", "tiny", "lookahead")
    assert cfg.agent.step_limit <= 5 and cfg.agent.templates.system  # agent.yaml still underneath


def test_overrides_win_over_flags_which_win_over_the_file():
    cfg = RunConfig.load(
        flags={"search.k": 6, "workers": 3}, overrides=["search.k=8", "agent.cost_limit=null"]
    )
    assert (cfg.search.k, cfg.workers, cfg.agent.cost_limit) == (8, 3, None)


@pytest.mark.parametrize("bad", ["search.k", "=3", "search.k=[unclosed"])
def test_malformed_override_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        RunConfig.load(overrides=[bad])


def test_unknown_key_is_a_config_error():
    with pytest.raises(ConfigError, match="nonsense"):
        RunConfig.load(overrides=["search.nonsense=1"])


def test_parse_override_reads_yaml_values():
    assert parse_override("instances=[a, b]") == ("instances", ["a", "b"])
    assert parse_override("build_images=false") == ("build_images", False)


def test_shard_is_a_deterministic_partition_by_sorted_id():
    tasks = [Task(instance_id=f"t{i}", problem_statement="", image="") for i in (3, 1, 4, 0, 2)]
    parts = [[t.instance_id for t in shard_tasks(tasks, i, 2)] for i in range(2)]
    assert parts == [["t0", "t2", "t4"], ["t1", "t3"]]
    assert parse_shard("1/2") == (1, 2)
    for bad in ("2/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_secrets_are_redacted():
    data = {
        "policy": {"api_key": "sk-abcdefghijklmnop", "max_tokens": 5},
        "base_url": "http://u:p@host/v1",
        "search": {"budget": {"policy_tokens": 100}},
    }
    out = scrub(data, [])
    assert out["policy"] == {"api_key": "***", "max_tokens": 5}
    assert out["base_url"] == "http://***@host/v1"
    assert out["search"]["budget"]["policy_tokens"] == 100


def test_default_out_folder_names_dataset_model_strategy():
    cfg = RunConfig.load(flags={"model": "scripted:gold", "search.strategy": "lookahead+select"})
    assert cfg.resolved_out() == Path("runs/tasks-scripted_gold-lookahead+select")


@pytest.mark.parametrize(
    "argv",
    [
        ["--instances", "a", "b", "agent.step_limit=7"],
        ["--instances", "a,b", "agent.step_limit=7"],
        ["--instances", "a", "--instances", "b", "agent.step_limit=7"],
        ["agent.step_limit=7", "--instances", "a", "b"],
    ],
)
def test_instances_take_spaces_commas_or_repeats_and_overrides_stay_overrides(argv: list[str]) -> None:
    from eval.cli import build_parser
    from eval.commands import config_from_args

    cfg = config_from_args(build_parser().parse_args(["run", *argv]))
    assert cfg.instances == ["a", "b"] and cfg.agent.step_limit == 7
    args = build_parser().parse_args(["eval", "--predictions", "p.jsonl", "--instances", "a", "b"])
    assert args.instances == ["a", "b"]


def test_the_judges_prompts_are_overridable_like_the_agents(tmp_path):
    mine = tmp_path / "judge.yaml"
    mine.write_text("top_logprobs: 5\ntemplates:\n  lookahead: 'Does {{ candidate }} help? YES or NO.'\n")
    run = tmp_path / "run.yaml"
    run.write_text(f"extends: {CONFIG_DIR / 'run.yaml'}\njudge: {mine}\n")
    cfg = RunConfig.load(run, overrides=["judge.fallback_samples=3"])
    assert cfg.judge.templates.lookahead == "Does {{ candidate }} help? YES or NO."
    assert (cfg.judge.top_logprobs, cfg.judge.fallback_samples) == (5, 3)
    assert "<patch>" in cfg.judge.templates.selection  # the rest from configs/judge.yaml
