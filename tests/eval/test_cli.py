"""The CLI fails fast, with a clear message and exit code 2, before any container starts."""

from __future__ import annotations

import os

import pytest

from eval.cli import build_parser, main
from tests.helpers.commands import swe_search
from tests.helpers.containers import labelled_containers


def test_help_explains_every_run_flag():
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]
    for action in run._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{action.option_strings} has no help"


def test_bad_flag_exits_2_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--strategy", "bogus"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bad_override_exits_2_without_traceback(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path / "r"), "search.nonsense=1"]) == 2
    err = capsys.readouterr().err
    assert "nonsense" in err and "Traceback" not in err


def test_missing_openai_key_fails_before_any_container(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    out = tmp_path / "run"
    p = swe_search("run", "--model", "gpt-4o", "--out", str(out), "--run-id", "cli-nokey", env=env)
    assert p.returncode == 2, p.stderr
    assert "OPENAI_API_KEY" in p.stderr and "Traceback" not in p.stderr
    assert not (out / "instances").exists() and not labelled_containers("cli-nokey")


def test_unreachable_critic_fails_before_any_container(tmp_path):
    out = tmp_path / "run"
    p = swe_search(
        "run",
        "--model",
        "scripted:gold",
        "--strategy",
        "lookahead",
        "--critic",
        "http://127.0.0.1:9",
        "--out",
        str(out),
        "--run-id",
        "cli-nocritic",
    )
    assert p.returncode == 2, p.stderr
    assert "critic at http://127.0.0.1:9 is not answering" in p.stderr and "Traceback" not in p.stderr
    assert not (out / "instances").exists() and not labelled_containers("cli-nocritic")


def test_lookahead_without_critic_is_a_usage_error(tmp_path, capsys):
    assert main(["run", "--model", "scripted:gold", "--strategy", "lookahead", "--out", str(tmp_path)]) == 2
    assert "needs a critic" in capsys.readouterr().err
