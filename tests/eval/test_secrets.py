"""Secrets, everywhere alike: a real `swe-search run` against a loopback OpenAI server, then a grep of
every file of the run folder. One redaction routine serves every writer; a patch is never edited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent.redaction import PATCH_WITHHELD
from tests.helpers.containers import labelled_containers
from tests.helpers.openai_server import OpenAIServer

REPO = Path(__file__).resolve().parents[2]
TASK = "swe-search__textkit-1"
API_KEY = "sk-test-APIKEY0123456789abcdef"
URL_PASSWORD = "pw-URLSECRET-0123456789"  # not key-shaped: only the known-value rule catches it bare
TOKEN = "tok-ENVTOKEN-0123456789"


def turn(command: str, thought: str = "Next step.") -> str:
    return f"{thought}\n```bash\n{command}\n```"


def run_cli(out: Path, run_id: str, base_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OPENAI_API_KEY": API_KEY,
        "SWE_SEARCH_TEST_TOKEN": TOKEN,
    }
    return subprocess.run(
        [
            sys.executable, "-m", "eval.cli", "run", "--model", "test-model", "--base-url", base_url,
            "--dataset", "examples/tasks", "--instances", TASK, "--out", str(out), "--run-id", run_id,
            "--no-build", "--no-progress", "agent.step_limit=4",
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def files_holding(out: Path, *secrets: str) -> list[str]:
    """Every file of the run folder (any depth) that holds one of `secrets`."""
    hits = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [f"{path.relative_to(out)}: {s}" for s in secrets if s.encode() in data]
    return hits


@pytest.mark.slow
def test_base_url_credentials_and_keys_reach_no_file_of_the_run(tmp_path, example_task_images):
    leak = f"echo {URL_PASSWORD} {API_KEY} {TOKEN}"
    script = [turn(leak, thought=f"Using {URL_PASSWORD} and Bearer {API_KEY}"), turn("submit", "Done.")]
    with OpenAIServer(script) as server:
        base_url = server.url.replace("http://", f"http://user:{URL_PASSWORD}@")
        p = run_cli(tmp_path / "run", "sec-url", base_url)
        assert len(server.completions) == 2  # the run really used the endpoint
    out = tmp_path / "run"
    assert p.returncode == 0, p.stderr
    assert URL_PASSWORD not in p.stderr + p.stdout and API_KEY not in p.stderr + p.stdout
    assert files_holding(out, URL_PASSWORD, API_KEY, TOKEN) == []
    masked = server.url.replace("http://", "http://***@")
    assert yaml.safe_load((out / "config.yaml").read_text())["base_url"] == masked
    traj = json.loads((out / "trajectories" / TASK / "trajectory.json").read_text())
    policy = traj["config"]["policy"]
    assert policy["base_url"] == masked
    assert policy["api_key_required"] is False and policy["api_key_env"] == ["OPENAI_API_KEY"]
    assert "***" in traj["steps"][0]["observation"]
    assert not labelled_containers("sec-url")


@pytest.mark.slow
def test_a_patch_carrying_a_known_secret_is_withheld_everywhere_alike(tmp_path, example_task_images):
    write = f"echo 'TOKEN = \"{TOKEN}\"' >> textkit/__init__.py && git diff --stat"
    with OpenAIServer([turn(write), turn("submit", "Done.")]) as server:
        p = run_cli(tmp_path / "run", "sec-patch", server.url)
    out = tmp_path / "run"
    assert p.returncode == 0, p.stderr
    assert files_holding(out, TOKEN, API_KEY) == []
    traj = json.loads((out / "trajectories" / TASK / "trajectory.json").read_text())
    done = json.loads((out / "instances" / TASK / "done.json").read_text())
    grades = json.loads((out / "grades" / f"{TASK}.json").read_text())
    preds = [json.loads(line) for line in (out / "preds.jsonl").read_text().splitlines()]
    # the record says so, without the secret
    assert traj["exit_status"] == "secret_in_patch" and traj["exit_message"].startswith(PATCH_WITHHELD)
    assert done["exit_status"] == "secret_in_patch" and done["runs"][0]["exit_status"] == "secret_in_patch"
    assert grades["runs"][0]["message"] == PATCH_WITHHELD
    # and the patch is withheld alike everywhere (not edited to ***)
    patches = {traj["patch"], done["model_patch"], grades["model_patch"], grades["runs"][0]["patch"]}
    assert patches == {""} and preds == [
        {"instance_id": TASK, "model_name_or_path": preds[0]["model_name_or_path"], "model_patch": ""}
    ]
    assert "exit=secret_in_patch" in p.stderr
    assert not labelled_containers("sec-patch")


def test_eval_withholds_a_prediction_carrying_a_known_secret(tmp_path):
    preds = tmp_path / "preds.jsonl"
    patch = f"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -0,0 +1 @@\n+TOKEN = '{TOKEN}'\n"
    preds.write_text(
        json.dumps({"instance_id": TASK, "model_name_or_path": "m", "model_patch": patch}) + "\n"
    )
    out = tmp_path / "ev"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SWE_SEARCH_TEST_TOKEN": TOKEN}
    p = subprocess.run(
        [
            sys.executable, "-m", "eval.cli", "eval", "--predictions", str(preds), "--dataset", "examples/tasks",
            "--out", str(out), "--run-id", "sec-eval", "--no-build", "--no-progress",
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert files_holding(out, TOKEN) == []
    done = json.loads((out / "instances" / TASK / "done.json").read_text())
    grades = json.loads((out / "grades" / f"{TASK}.json").read_text())
    assert done["runs"][0]["exit_status"] == "secret_in_patch" and done["model_patch"] == ""
    assert grades["model_patch"] == "" and grades["runs"][0]["message"] == PATCH_WITHHELD
    assert json.loads((out / "preds.jsonl").read_text())["model_patch"] == ""
