"""Pre-flight: inputs that used to fail after the agent had run are refused before any container starts.

Each case runs the real CLI in a subprocess and asserts exit code 2, one line on stderr, and that no
container with the run's label was created. The example task images are built first, so that
without the check the run would go ahead (agent, then grading) instead of failing for a missing image.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from envs.tasks import load_tasks
from tests.helpers.commands import swe_search
from tests.helpers.containers import labelled_containers
from tests.helpers.openai_server import Error, OpenAIServer

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
TASK = "swe-search__textkit-1"
CLASSIC_FIELDS = (
    "repo",
    "instance_id",
    "base_commit",
    "patch",
    "test_patch",
    "problem_statement",
    "hints_text",
    "created_at",
    "version",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "environment_setup_commit",
)


def run(
    tmp_path: Path, run_id: str, *args: str, model: str = "scripted:gold"
) -> subprocess.CompletedProcess[str]:
    """`swe-search run` on one example task (unless args name another dataset), images not rebuilt."""
    dataset = [] if "--dataset" in args else ["--dataset", str(EXAMPLES), "--instances", TASK]
    return swe_search(
        "run", "--model", model, *dataset, "--out", str(tmp_path / "run"), "--run-id", run_id,
        "--no-build", "--no-progress", *args,
    )  # fmt: skip


def assert_refused(p: subprocess.CompletedProcess[str], run_id: str, *words: str) -> str:
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in p.stderr
    assert not labelled_containers(run_id)
    return lines[0]


@pytest.fixture
def task_repo(tmp_path: Path, example_task_images) -> Path:
    """A copy of examples/tasks holding only TASK (its image is the example's, already built)."""
    repo = tmp_path / "tasks-copy"
    (repo / "tasks").mkdir(parents=True)
    shutil.copy(EXAMPLES / "sweb.yaml", repo / "sweb.yaml")
    shutil.copytree(EXAMPLES / "tasks" / TASK, repo / "tasks" / TASK)
    return repo


def edit_task_yaml(repo: Path, drop: str) -> None:
    path = repo / "tasks" / TASK / "task.yaml"
    meta = yaml.safe_load(path.read_text())
    del meta[drop]
    path.write_text(yaml.safe_dump(meta))


def test_classic_swebench_rows_are_refused_with_what_to_do(tmp_path, example_task_images):
    row = {k: v for k, v in load_tasks(EXAMPLES, instances=[TASK])[0].instance.items() if k in CLASSIC_FIELDS}
    row["image"] = f"swe-search/task:{TASK}"  # the image exists: without the check the agent would run
    data = tmp_path / "classic.jsonl"
    data.write_text(json.dumps(row) + "\n")
    line = assert_refused(run(tmp_path, "pf-classic", "--dataset", str(data)), "pf-classic", "eval_script")
    assert "swebench 5" in line and "--fields-from DATASET" in line and "--spec FILE" in line


def test_classic_rows_are_refused_by_eval_too(tmp_path, example_task_images):
    row = {k: v for k, v in load_tasks(EXAMPLES, instances=[TASK])[0].instance.items() if k in CLASSIC_FIELDS}
    row["image"] = f"swe-search/task:{TASK}"
    data = tmp_path / "classic.jsonl"
    data.write_text(json.dumps(row) + "\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": TASK, "model_name_or_path": "m", "model_patch": "x"}) + "\n")
    p = swe_search(
        "eval", "--predictions", str(preds), "--dataset", str(data), "--out", str(tmp_path / "ev"),
        "--run-id", "pf-classic-eval", "--no-build", "--no-progress",
    )  # fmt: skip
    assert_refused(p, "pf-classic-eval", "swebench 5")


@pytest.mark.parametrize("field", ["log_parser", "base_commit"])
def test_task_yaml_without_a_required_field_is_refused(tmp_path, task_repo, field):
    edit_task_yaml(task_repo, field)
    run_id = f"pf-no-{field}"
    line = assert_refused(run(tmp_path, run_id, "--dataset", str(task_repo)), run_id, field, TASK)
    assert "task.yaml" in line


def test_a_test_patch_that_does_not_apply_is_refused(tmp_path, task_repo):
    path = task_repo / "tasks" / TASK / "test.patch"
    text = path.read_text()
    assert " def test_slugify_empty():" in text
    path.write_text(text.replace(" def test_slugify_empty():", " def test_slugify_nothing():"))
    line = assert_refused(
        run(tmp_path, "pf-test-patch", "--dataset", str(task_repo)), "pf-test-patch", "test patch", TASK
    )
    assert "does not apply" in line


def test_a_bad_memory_limit_is_refused_naming_the_key(tmp_path, example_task_images):
    p = run(tmp_path, "pf-mem", "container.mem_limit=lots")
    assert_refused(p, "pf-mem", "container.mem_limit", "lots")


def test_more_cpus_than_the_host_has_are_refused(tmp_path, example_task_images):
    p = run(tmp_path, "pf-cpus", "container.cpus=4096")
    assert_refused(p, "pf-cpus", "container.cpus", "CPU")


def test_a_bad_override_is_one_line_naming_the_key(tmp_path):
    assert_refused(run(tmp_path, "pf-k", "search.k=abc"), "pf-k", "search.k")


def test_an_unreachable_base_url_is_refused(tmp_path, example_task_images):
    p = run(tmp_path, "pf-url", "--base-url", "http://127.0.0.1:9/v1", model="test-model")
    assert_refused(p, "pf-url", "http://127.0.0.1:9/v1", "not reachable")


def test_a_base_url_that_rejects_the_key_is_refused(tmp_path, example_task_images):
    with OpenAIServer(["unused"], models_error=Error(401, "invalid api key")) as server:
        p = run(tmp_path, "pf-401", "--base-url", server.url, model="test-model")
        assert not server.completions  # refused at GET /models, before any chat request
    assert_refused(p, "pf-401", "rejected the credentials", "401")


def test_a_missing_api_key_is_said_before_the_dataset_is_asked_for(tmp_path):
    """`run --dataset verified --model gpt-4o` without OPENAI_API_KEY: exit 2 naming the key, and the
    hub (a loopback socket that would hold any request until the timeout) is never connected to."""
    with socket.create_server(("127.0.0.1", 0)) as hub:
        hub.settimeout(0)
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("OPENAI_API_KEY", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
        }
        env.update(HF_ENDPOINT=f"http://127.0.0.1:{hub.getsockname()[1]}", PYTHONPATH=str(REPO))
        cmd = [sys.executable, "-m", "eval.cli", "run", "--dataset", "verified", "--model", "gpt-4o"]
        cmd += ["--out", str(tmp_path / "run"), "--no-progress"]
        p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=10)
        with pytest.raises(BlockingIOError):
            hub.accept()  # nobody knocked
    assert_refused(p, "no-run-id", "gpt-4o", "OPENAI_API_KEY")
    assert not (tmp_path / "run").exists()  # not even the run folder


def test_a_bad_filter_regex_is_one_line(tmp_path):
    assert_refused(run(tmp_path, "pf-filter", "--filter", "("), "pf-filter", "--filter", "regular expression")


def test_eval_with_predictions_for_no_task_is_one_line(tmp_path):
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        json.dumps({"instance_id": "nope__nope-1", "model_name_or_path": "m", "model_patch": ""})
    )
    p = swe_search(
        "eval", "--predictions", str(preds), "--dataset", str(EXAMPLES), "--out", str(tmp_path / "ev"),
        "--run-id", "pf-eval-none", "--no-build", "--no-progress",
    )  # fmt: skip
    assert_refused(p, "pf-eval-none", "no prediction", "nope__nope-1")


def test_eval_checks_only_the_tasks_it_has_predictions_for(tmp_path, task_repo):
    other = "swe-search__textkit-2"
    shutil.copytree(EXAMPLES / "tasks" / other, task_repo / "tasks" / other)
    edit_task_yaml(task_repo, "log_parser")  # TASK cannot be graded, but nothing predicts it
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": other, "model_name_or_path": "m", "model_patch": ""}) + "\n")
    p = swe_search(
        "eval", "--predictions", str(preds), "--dataset", str(task_repo), "--out", str(tmp_path / "ev"),
        "--run-id", "pf-eval-some", "--no-build", "--no-progress",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    done = json.loads((tmp_path / "ev" / "instances" / other / "done.json").read_text())
    assert done["grade_status"] == "empty_patch"
