"""`swe-search critic train` loads its model without transformers' `Loading weights` progress bar:
the CLI silences the libraries' bars at start (agent.progress), in a subprocess like a user's run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from critic.data.synthetic import write_synthetic_jsonl
from critic.model import make_tiny_critic

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
LOAD = "import sys; from critic.model import load_critic; load_critic(sys.argv[1])"


def test_a_critic_load_in_the_cli_prints_no_progress_bar(tmp_path: Path) -> None:
    init = make_tiny_critic(tmp_path / "init", hidden=32, layers=1)
    data = write_synthetic_jsonl(tmp_path / "train.jsonl", 8, seed=1)
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_DISABLE_PROGRESS_BARS", "WORLD_SIZE", "RANK")
    }
    env.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    # the same load outside the CLI draws the bar: the check below can fail
    bare = subprocess.run(
        [sys.executable, "-c", LOAD, str(init)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bare.returncode == 0 and "Loading weights" in bare.stderr, bare.stderr[-2000:]
    cmd = [sys.executable, "-m", "eval.cli", "critic", "train", "--model", str(init), "--data", str(data)]
    cmd += ["--out", str(tmp_path / "out"), "--device", "cpu", "train.epochs=1", "train.eval_fraction=0.25"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (tmp_path / "out" / "config.json").is_file()  # it loaded, trained and saved
    output = done.stdout + done.stderr
    assert "Loading weights" not in output and "%|" not in output, output[-3000:]
