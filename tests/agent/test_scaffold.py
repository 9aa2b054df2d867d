"""Action parsing, prompts and observation formatting (no container needed)."""

from __future__ import annotations

import pytest

from agent.config import AgentConfig
from agent.scaffold import (
    FormatError,
    ShellState,
    initial_messages,
    observation_message,
    parse_action,
    to_candidate,
    truncate,
)
from agent.types import Action
from envs.types import Observation


def test_thought_then_one_bash_block_parses():
    action = parse_action("I will look.\n```bash\nopen src/a.py 10\n```\n")
    assert action.thought == "I will look." and action.command == "open src/a.py 10"
    assert not action.is_submit


def test_plain_fence_and_submit():
    action = parse_action("Done.\n```\nsubmit\n```")
    assert action.is_submit


def test_multiline_command_with_heredoc_keeps_indentation():
    text = "Fix it.\n```bash\nedit 3:4 <<'EOF'\n    if x:\n\treturn 1\nEOF\n```"
    assert parse_action(text).command == "edit 3:4 <<'EOF'\n    if x:\n\treturn 1\nEOF"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I think the bug is in parse().", "no fenced command block"),
        ("a\n```bash\nls\n```\nb\n```bash\npwd\n```", "2 command blocks"),
        ("a\n```bash\nls\n", "not closed"),
        ("a\n```bash\n\n```", "empty"),
        ("a\n```bash\nedit 1:2\n```", "heredoc"),
        ("a\n```bash\nreplace 'only-one-arg'\n```", "SEARCH and REPLACE"),
    ],
)
def test_format_errors(text, message):
    with pytest.raises(FormatError, match=message):
        parse_action(text)


def test_other_language_blocks_are_not_commands():
    text = "The file has:\n```python\nx = 1\n```\nso:\n```bash\ncat a.py\n```"
    action = parse_action(text)
    assert action.command == "cat a.py" and "x = 1" in action.thought


def test_replace_with_two_words_or_heredoc_is_fine():
    words = "replace 'a b' 'c d'"
    heredoc = "replace --replace-all <<'EOF'\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\nEOF"
    multiline = "replace 'multi\nline' 'text'"
    for command in (words, heredoc, multiline):
        assert parse_action(f"x\n```bash\n{command}\n```") == Action(thought="x", command=command)
    # the heredoc's body is not read as commands: a bare `replace` inside it is text, not a call
    inside = "replace a.py <<'EOF'\n<<<<<<< SEARCH\nreplace\n=======\nedit\n>>>>>>> REPLACE\nEOF"
    assert parse_action(f"fix it\n```bash\n{inside}\n```\n") == Action(thought="fix it", command=inside)


def test_to_candidate_records_the_error():
    bad = to_candidate("no block here")
    assert bad.action is None and "no fenced command block" in bad.error
    assert to_candidate("ok\n```\nls\n```").action.command == "ls"


def test_observation_ends_with_the_prompt_line_and_is_capped():
    config = AgentConfig(observation_chars=1000)
    obs = Observation(output="y\n" * 5000, exit_code=2)
    message = observation_message(config, obs, ShellState("/testbed", "/testbed/a.py"))
    content = message["content"]
    assert message["role"] == "user" and len(content) < 1400
    assert "characters cut from the middle" in content and "(exit code 2)" in content
    assert content.endswith("(Current directory: /testbed, current file: /testbed/a.py) bash-$")
    empty = observation_message(config, Observation("", 0), ShellState("/x"))["content"]
    assert "printed nothing" in empty and empty.endswith("(Current directory: /x, current file: n/a) bash-$")
    timed = observation_message(config, Observation("partial", 124, True), ShellState("/x"), 5)["content"]
    assert "timed out after 5 seconds" in timed


def test_truncate_keeps_short_text():
    assert truncate("abc", 10) == "abc"


def test_prompts_explain_tools_and_rules():
    system, instance = initial_messages(AgentConfig(), "Bug: 1 + 1 == 3", "/testbed", "x-1")
    for word in (
        "open",
        "goto",
        "scroll_down",
        "search_file",
        "search_dir",
        "find_file",
        "create",
        "edit",
        "replace",
        "submit",
    ):
        assert word in system["content"]
    assert "Reproduce the bug first" in system["content"] and "Never modify or add tests" in system["content"]
    assert "Bug: 1 + 1 == 3" in instance["content"] and "/testbed" in instance["content"]


def test_config_load_overrides(tmp_path):
    user = tmp_path / "agent.yaml"
    user.write_text("step_limit: 7\ntemplates:\n  format_error: 'bad: {{ error }}'\n")
    config = AgentConfig.load(user, overrides=["cost_limit=null"])
    assert config.step_limit == 7 and config.cost_limit is None
    assert config.templates.format_error == "bad: {{ error }}" and "submit" in config.templates.system
