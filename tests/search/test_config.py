"""SearchConfig: YAML defaults, overrides, validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from search.config import SearchConfig


def test_defaults_come_from_configs_strategies_yaml():
    c = SearchConfig.load()
    assert (c.strategy, c.k, c.temperature, c.n, c.rule) == ("greedy", 4, 0.9, 5, "final_q")
    assert c.budget.policy_tokens is None


def test_overrides_apply_and_none_keeps_the_default():
    c = SearchConfig.load(flags={"strategy": "lookahead+select", "k": 8, "n": None})
    assert c.uses_lookahead and c.uses_select and c.k == 8 and c.n == 5 and c.runs == 5


@pytest.mark.parametrize(("strategy", "runs"), [("greedy", 1), ("lookahead", 1), ("select", 5)])
def test_only_select_strategies_make_n_runs(strategy, runs):
    assert SearchConfig(strategy=strategy).runs == runs


def test_unknown_rule_or_field_is_rejected():
    with pytest.raises(ValidationError):
        SearchConfig(rule="best")
    with pytest.raises(ValidationError):
        SearchConfig(K=4)


def test_every_field_has_a_description():
    assert all(f.description for f in SearchConfig.model_fields.values())
