"""`import eval.report.run_report` reads run folders through eval.batch.records: it loads no docker, openai or search."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("docker", "openai", "search.solve", "eval.batch.runner")
PROBE = """
import json, sys
import eval.report.run_report
print(json.dumps(sorted(m for m in sys.modules if m in HEAVY or m.split(".")[0] in HEAVY)))
"""


def test_import_report_loads_no_docker_openai_or_search() -> None:
    probe = f"HEAVY = {HEAVY!r}\n{PROBE}"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
