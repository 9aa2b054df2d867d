"""`swe-search run` / `eval` end to end on the example tasks: real containers, scripted policies."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eval.cli import main
from tests.helpers.containers import labelled_containers

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
FAST = ["--no-progress", "--step-limit", "5", "--grade-timeout", "300", "--instance-timeout", "300"]


def run(out: Path, *args: str) -> dict:
    """`swe-search run` in-process; returns report.json."""
    assert main(["run", "--dataset", str(EXAMPLES), "--out", str(out), *FAST, *args]) == 0
    return json.loads((out / "report.json").read_text())


def preds(out: Path) -> dict[str, str]:
    lines = (out / "preds.jsonl").read_text().splitlines()
    return {(row := json.loads(line))["instance_id"]: row["model_patch"] for line in lines}


def starts(out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in (out / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "start":
            counts[event["instance_id"]] = counts.get(event["instance_id"], 0) + 1
    return counts


@pytest.fixture(scope="module")
def gold_run(tmp_path_factory, example_tasks) -> Path:
    """One uninterrupted gold run over every example task (shared by several tests)."""
    out = tmp_path_factory.mktemp("gold") / "run"
    run(out, "--model", "scripted:gold", "--workers", "2", "--run-id", "e2e-gold")
    return out


def test_gold_policy_resolves_every_task(gold_run, example_tasks):
    report = json.loads((gold_run / "report.json").read_text())
    assert report["totals"]["attempted"] == len(example_tasks)
    assert report["totals"]["pass_at_1"] == 1.0
    assert report["by_grade_status"] == {"resolved": len(example_tasks)}
    assert report["by_exit_status"] == {"submitted": len(example_tasks)}
    assert set(preds(gold_run)) == {t.instance_id for t in example_tasks}
    for t in example_tasks:
        assert (gold_run / "trajectories" / t.instance_id / "trajectory.json").exists()
        assert json.loads((gold_run / "grades" / f"{t.instance_id}.json").read_text())["runs"][0]["resolved"]
    assert (gold_run / "report.md").exists() and (gold_run / "config.yaml").exists()
    assert not labelled_containers("e2e-gold")


def test_rerun_skips_finished_instances(gold_run, example_tasks, capsys):
    before = starts(gold_run)
    run(gold_run, "--model", "scripted:gold", "--workers", "2", "--run-id", "e2e-gold")
    assert starts(gold_run) == before
    assert f"{len(example_tasks)} finished instance(s) skipped" in capsys.readouterr().err


def test_eval_of_the_predictions_agrees_with_run(gold_run, tmp_path):
    out = tmp_path / "eval"
    code = main(
        [
            "eval",
            "--predictions",
            str(gold_run / "preds.jsonl"),
            "--dataset",
            str(EXAMPLES),
            "--out",
            str(out),
            "--workers",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    for grade_file in (gold_run / "grades").glob("*.json"):
        ran = json.loads(grade_file.read_text())
        evaluated = json.loads((out / "grades" / grade_file.name).read_text())
        assert evaluated["runs"][0]["status"] == ran["runs"][ran["chosen"]]["status"]
    assert json.loads((out / "report.json").read_text())["totals"]["pass_at_1"] == 1.0


def test_empty_policy_scores_zero_with_empty_patch(tmp_path, example_tasks):
    ids = sorted(t.instance_id for t in example_tasks)[:2]
    report = run(tmp_path / "run", "--model", "scripted:empty", "--instances", ",".join(ids))
    assert report["totals"]["pass_at_1"] == 0.0
    assert report["by_grade_status"] == {"empty_patch": 2}


def test_broken_test_patch_is_an_infra_error_and_the_run_goes_on(tmp_path, task_repo_copy, example_tasks):
    broken, fine = sorted(t.instance_id for t in example_tasks)[:2]
    # without repo/ the task is like a dataset row with a pulled image: no tree to check the test patch
    # against before the run (eval.batch.preflight), so grading finds it (tests/eval/test_preflight.py: with one)
    shutil.rmtree(task_repo_copy / "tasks" / broken / "repo")
    patch = task_repo_copy / "tasks" / broken / "test.patch"
    lines = patch.read_text().splitlines(keepends=True)
    first_context = next(i for i, line in enumerate(lines) if line.startswith(" ") and i > 3)
    lines[first_context] = " this line is not in the file\n"
    patch.write_text("".join(lines))
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--dataset",
            str(task_repo_copy),
            "--out",
            str(out),
            *FAST,
            "--model",
            "scripted:gold",
            "--instances",
            f"{broken},{fine}",
            "--no-build",
        ]
    )
    assert code == 0
    grades = {
        i: json.loads((out / "grades" / f"{i}.json").read_text())["runs"][0]["status"] for i in (broken, fine)
    }
    assert grades == {broken: "infra_error", fine: "resolved"}
    # a grading failure is not the model's: recorded as an error (redone on resume), counted apart
    rec = json.loads((out / "instances" / broken / "done.json").read_text())
    assert (rec["status"], rec["error_kind"]) == ("error", "infra_error")
    totals = json.loads((out / "report.json").read_text())["totals"]
    assert (totals["attempted"], totals["infra_errors"], totals["pass_at_1"]) == (1, 1, 1.0)


def test_select_grades_every_run_and_reports_oracle(tmp_path, example_tasks):
    iid = sorted(t.instance_id for t in example_tasks)[0]
    report = run(
        tmp_path / "run",
        "--model",
        "scripted:gold",
        "--strategy",
        "lookahead+select",
        "-N",
        "2",
        "-K",
        "2",
        "--critic",
        "const:0.5",
        "--instances",
        iid,
    )
    grades = json.loads((tmp_path / "run" / "grades" / f"{iid}.json").read_text())
    assert [g["status"] for g in grades["runs"]] == ["resolved", "resolved"]
    assert (tmp_path / "run" / "trajectories" / iid / "run-1" / "trajectory.json").exists()
    sel = report["selection"]
    assert sel["oracle_pass_at_n"] == sel["selected_pass_at_1"] == 1.0
    assert [c["n"] for c in sel["curve"]] == [1, 2]
    # identical candidates are merged by lookahead (nothing to score); selection scored each submit
    done = json.loads((tmp_path / "run" / "instances" / iid / "done.json").read_text())
    assert [r["final_q"] for r in done["runs"]] == [0.5, 0.5]
    for i in range(2):  # one grade file per run, so critic training matches each trajectory
        assert json.loads((tmp_path / "run" / "grades" / f"{iid}.run-{i}.json").read_text())["resolved"]


def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path, gold_run, example_tasks):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "eval.cli",
        "run",
        "--dataset",
        str(EXAMPLES),
        "--out",
        str(out),
        *FAST,
        "--model",
        "scripted:gold",
        "--run-id",
        "e2e-kill",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list((out / "instances").glob("*/done.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # let the next instance get going
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    finished_before = {p.parent.name for p in (out / "instances").glob("*/done.json")}
    starts_before = starts(out)
    assert 0 < len(finished_before) < len(example_tasks)
    resumed = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert preds(out) == preds(gold_run)
    counts = starts(out)
    for iid in {t.instance_id for t in example_tasks}:
        before = starts_before.get(iid, 0)
        # finished instances are not redone; the others run exactly once after the kill
        assert counts[iid] == (1 if iid in finished_before else before + 1), (iid, counts)
    assert not labelled_containers("e2e-kill")


def test_smollm2_judge_scores_a_real_lookahead_run(tmp_path, example_tasks):
    """`--critic judge:smollm2`: the bundled SmolLM2-135M (a real model, in-process) judges each step's
    candidates and the final turn of a `swe-search run --strategy lookahead`. The policy is the seeded
    `scripted:coin` (tests/eval/coin_policy.py: the gold edit or a wrong one, then submit), so that the
    step has different candidates and the run is short."""
    out = tmp_path / "judge"
    run_ = [sys.executable, "-m", "tests.eval.coin_policy", "run", "--dataset", str(EXAMPLES)]
    task = ["--instances", "swe-search__textkit-1", "--model", "scripted:coin", "--step-limit", "3"]
    search = ["--strategy", "lookahead", "-K", "4", "--critic", "judge:smollm2"]
    cmd = [*run_, "--out", str(out), *FAST, *task, *search]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["attempted"] == 1 and report["lookahead"]["chosen_q"]["count"] == 1
    traj = json.loads((out / "trajectories" / "swe-search__textkit-1" / "trajectory.json").read_text())
    critic = traj["config"]["strategy"]["critic"]
    assert (
        critic["kind"] == "judge" and critic["model"] == "smollm2" and critic["scoring"].startswith("logits")
    )
    scored = [c for s in traj["steps"] for c in s["candidates"] if c["q"] is not None]
    assert len(scored) >= 2 and all(0 < c["q"] < 1 and c["critic_tokens"] > 100 for c in scored)
    assert traj["exit_status"] == "submitted" and 0 < traj["final_q"] < 1 and traj["final_q_tokens"] > 100
    judge = report["judge"]
    assert judge["scores"] == len(scored) + 1 and judge["undecided"] == 0 and judge["cost"] == 0
    assert judge["tokens"] == traj["stats"]["critic_usage"]["prompt_tokens"] > 0
    assert "## LLM judge" in (out / "report.md").read_text()
