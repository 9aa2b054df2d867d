"""`swe-search --help` and usage errors import none of the heavy parts (the timing is bench/cli_startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "swebench",
    "docker",
    "torch",
    "openai",
    "transformers",
    "datasets",
    "eval.batch.runner",
    "agent.policies",
)
PROBE = """
import json, sys
from eval.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
heavy = sorted({m.split(".")[0] if not m.startswith(("eval.", "agent.")) else m for m in sys.modules} & set(HEAVY))
print(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--help"], 0),
        (["run", "--help"], 0),
        (["tasks", "new", "--help"], 0),
        (["run", "--no-such-flag"], 2),
        (["tasks", "new", "--repo", "."], 2),  # --commit and --out missing
        ([], 2),
    ],
)
def test_help_and_usage_errors_import_nothing_heavy(argv: list[str], code: int) -> None:
    probe = f"HEAVY = {HEAVY!r}\n{PROBE}"
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": code, "heavy": []}, done.stderr
