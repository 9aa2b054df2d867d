"""Commands the tests run in a subprocess: the `swe-search` CLI from this checkout, and `pip wheel`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def swe_search(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`swe-search ARGS` from the repository root (`env`: the whole environment, None inherits this one's)."""
    env = {**(os.environ if env is None else env), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "eval.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def pip_wheel(src: Path, wheels: Path) -> subprocess.CompletedProcess[str]:
    """Build the wheel of the project in `src` into `wheels` offline (no dependencies, no build isolation)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
