"""`swe-search experiment` end to end on a reduced experiment: real containers, grading and critic training.

The reduced experiment (tests/helpers/experiment.py): 2 train tasks x M=2 rollouts, a tiny critic
trained from scratch for one epoch, 1 held-out task x R=2 runs in each of the three pools, K=2,
N=2, with the seeded mixed policy `scripted:coin` (tests/eval/coin_policy.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from eval.cli import main
from eval.experiment.config import ExperimentConfig
from eval.experiment.layout import COMPLETE, PLAN, POOLS, phase_dir, pool_dir
from eval.experiment.phases import resolve_splits
from eval.experiment.render import CONTROLS, TABLE, table_rows
from eval.experiment.report import GAINS, stable_view, write_experiment_report
from tests.eval import coin_policy
from tests.helpers.containers import labelled_containers
from tests.helpers.experiment import (
    HELDOUT,
    REPO,
    TRAIN,
    assert_prompts_counted_once,
    experiment_command,
    kill_when,
    reduced_config,
    run_reduced_experiment,
)

pytestmark = pytest.mark.slow
SEED_KEYS = {"table", "controls", "gains", "goals", "curve", "critic", "cost", "q_by_step", "runs"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, example_task_images) -> tuple[Path, dict]:
    """One uninterrupted reduced experiment (its folder and experiment.json)."""
    out = tmp_path_factory.mktemp("exp-reference") / "exp"
    return out, run_reduced_experiment(out)


def _files(folder: Path) -> dict[str, int]:
    """Every file under `folder` with its modification time (ns)."""
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _run_ids(out: Path) -> list[str]:
    return [json.loads(p.read_text())["run_id"] for p in out.rglob("run.json")]


@pytest.fixture(scope="module")
def killed(tmp_path_factory, example_task_images) -> dict:
    """The same experiment, SIGKILLed once in each of collect, train and evaluate, rerun to the end."""
    root = tmp_path_factory.mktemp("exp-killed")
    out, log = root / "exp", root / "experiment.log"
    cmd = experiment_command(reduced_config(root / "config"), out)
    seed = 0
    collect, train, evaluate = (phase_dir(out, seed, p) for p in ("collect", "train", "evaluate"))

    kill_when(cmd, lambda: any(collect.glob("trajectories/*/run-*/trajectory.json")), "collect ran", log)
    state = {"collect_done_at_kill_1": (collect / COMPLETE).exists()}

    kill_when(cmd, lambda: (train / "init" / "config.json").exists(), "training started", log)
    state["train_done_at_kill_2"] = (train / COMPLETE).exists()
    state["collect_files"] = _files(collect)

    base = pool_dir(out, seed, "base")
    kill_when(cmd, lambda: any(base.glob("trajectories/*/run-*/trajectory.json")), "evaluate ran", log)
    state["evaluate_done_at_kill_3"] = (evaluate / COMPLETE).exists()
    state["train_files"] = _files(train)
    state["collect_files_after_3"] = _files(collect)

    final = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-5000:]
    state.update(out=out, stdout=final.stdout, stderr=final.stderr)
    state["report"] = json.loads((out / "experiment.json").read_text())
    return state


def test_phases_run_and_the_report_has_every_section(reference):
    out, report = reference
    for phase in ("collect", "train", "evaluate"):
        assert (phase_dir(out, 0, phase) / COMPLETE).is_file()
    for pool in POOLS:
        assert (pool_dir(out, 0, pool) / COMPLETE).is_file()
        assert (pool_dir(out, 0, pool) / "report.json").is_file()
    assert report["splits"]["train"] == TRAIN and report["splits"]["heldout"] == HELDOUT
    assert report["seeds"] == [0] and report["policy"] == "scripted:coin"
    res = report["results"]["0"]
    assert set(res) >= SEED_KEYS
    assert set(res["table"]) == set(TABLE) and set(res["controls"]) == set(CONTROLS)
    assert set(res["gains"]) == set(GAINS) and len(res["goals"]) == 5
    for cell in [*res["table"].values(), *res["controls"].values()]:
        assert 0.0 <= cell["lo"] <= cell["value"] <= cell["hi"] <= 1.0
    assert [c["n"] for c in res["curve"]] == [1, 2]
    assert res["curve"][-1]["oracle"] >= res["curve"][-1]["critic"] >= 0
    assert set(res["cost"]["per_instance"]) == {"base", "lookahead", "select", "both", "lookahead_const"}
    cost = res["cost"]["per_instance"]
    assert cost["select"]["policy_calls"] == pytest.approx(2 * cost["base"]["policy_calls"])
    assert cost["lookahead"]["policy_samples"] > cost["base"]["policy_samples"]  # K candidates a step
    assert cost["base"]["critic_calls"] == 0 and cost["select"]["critic_calls"] > 0
    assert_prompts_counted_once(out, report, max_ratio=1.5)  # coin runs: edit, then submit
    assert cost["base"]["critic_tokens"] == 0 < cost["select"]["critic_tokens"]  # N final-Q scorings
    assert cost["lookahead"]["critic_tokens"] > 0  # the trained critic (LocalCritic) reports its tokens
    collected = res["runs"]["collect"]
    assert (collected["instances"], collected["instance_errors"], collected["runs"]) == (2, 0, 4)
    assert (
        res["runs"]["base"]["runs"] == res["runs"]["lookahead"]["runs"] == res["runs"]["const"]["runs"] == 2
    )
    assert res["q_by_step"]["q_by_step"]["resolved"] or res["q_by_step"]["q_by_step"]["unresolved"]
    assert res["critic"]["heldout"]["n"] == 2 and "auc" in res["critic"]["heldout"]
    assert res["critic"]["train"]["epoch"] == 1 and "brier" in res["critic"]["train"]
    md = (out / "experiment.md").read_text()
    for section in (
        "## Pass@1 on the held-out split",
        "## Controls",
        "## Gains",
        "## Goals (issue 14)",
        "### Selection: Pass@1 against N",
        "### Critic",
        "### Cost per instance",
        "### Q along the steps (lookahead runs)",
        "### Runs",
        "## Plots",
    ):
        assert section in md, section
    for plot in ("pass_at_1.png", "selection_curve.png", "q_by_step.png"):
        assert (out / "plots" / plot).stat().st_size > 1000
    assert report["plots"] == [
        f"plots/{p}" for p in ("pass_at_1.png", "selection_curve.png", "q_by_step.png")
    ]
    assert not [c for rid in _run_ids(out) for c in labelled_containers(rid)]


def test_collect_grades_every_run_where_critic_training_finds_it(reference):
    out, report = reference
    collect = phase_dir(out, 0, "collect")
    for iid in TRAIN:
        for i in range(2):
            assert (collect / "trajectories" / iid / f"run-{i}" / "trajectory.json").is_file()
            grade = json.loads((collect / "grades" / f"{iid}.run-{i}.json").read_text())
            assert grade["index"] == i and isinstance(grade["resolved"], bool)
    outcomes = set(report["results"]["0"]["runs"]["collect"]["by_grade_status"])
    assert outcomes == {"resolved", "unresolved"}  # the coin policy gives the critic both kinds
    from critic.data.runs import load_run_folder

    assert len(load_run_folder(collect)) == 4
    metrics = json.loads((phase_dir(out, 0, "train") / "critic" / "metrics.json").read_text())
    assert metrics["config"]["data"] == [str(collect.resolve())] and metrics["config"]["epochs"] == 1


def test_constant_critic_control_equals_base(reference):
    _, report = reference
    res = report["results"]["0"]
    assert res["controls"]["lookahead_const"]["value"] == res["table"]["base"]["value"]
    assert res["goals"]["control_equals_base"]["met"] is True


def test_killed_in_each_phase_the_rerun_continues_and_matches_an_uninterrupted_run(killed, reference):
    assert not killed["collect_done_at_kill_1"], "the first kill came after collect had finished"
    assert not killed["train_done_at_kill_2"], "the second kill came after training had finished"
    assert not killed["evaluate_done_at_kill_3"], "the third kill came after evaluate had finished"
    out = killed["out"]
    # finished phases were not touched again: not by the later kills' reruns, not by the last one
    assert killed["collect_files_after_3"] == killed["collect_files"] == _files(phase_dir(out, 0, "collect"))
    assert killed["train_files"] == _files(phase_dir(out, 0, "train"))
    assert "seed 0 collect: complete, skipped" in killed["stderr"]
    assert "seed 0 train: complete, skipped" in killed["stderr"]
    assert "seed 0 evaluate: continuing" in killed["stderr"]
    for folder in [phase_dir(out, 0, p) for p in ("collect", "train", "evaluate")]:
        assert (folder / PLAN).is_file() and (folder / COMPLETE).is_file()
    assert stable_view(killed["report"]) == stable_view(reference[1])
    assert not [c for rid in _run_ids(out) for c in labelled_containers(rid)]


def test_fixed_seeds_give_the_same_table_twice(killed, reference):
    assert table_rows(killed["report"]) == table_rows(reference[1])
    assert "| scripted:coin | 0 |" in (killed["out"] / "experiment.md").read_text()
    assert "swe-search experiment: held-out Pass@1" in killed["stdout"]  # printed at the end
    # the report path and the inspect command are one copyable line each, however long the path
    paths = ("report: ", "see every decision: ")
    table = [line for line in killed["stdout"].splitlines() if not line.startswith(paths)]
    assert max(map(len, table)) <= 80, killed["stdout"]  # a log or CI shows every cell on one line


def test_a_phase_made_with_another_config_is_refused_before_anything_runs(reference, capsys):
    out, _ = reference
    before = _files(out)
    coin_policy.register()
    config = reduced_config(out.parent / "changed-config")
    code = main(["experiment", "-c", str(config), "--out", str(out), "--no-progress", "collect.m=3"])
    assert code == 2
    err = capsys.readouterr().err
    assert "seed-0/collect was made with another config (differs in: run.search.n)" in err
    assert _files(out) == before


def test_several_seeds_are_each_reported_and_pooled(reference, tmp_path):
    out, report = reference
    copy = tmp_path / "exp"
    shutil.copytree(out / "seed-0", copy / "seed-0")
    shutil.copytree(out / "seed-0", copy / "seed-1")  # a second replicate that happens to agree
    config = ExperimentConfig.load(
        reduced_config(tmp_path / "config"), overrides=[f"out={copy}", "seeds=[0, 1]"]
    )
    write_experiment_report(copy, config, resolve_splits(config))
    both = json.loads((copy / "experiment.json").read_text())
    assert list(both["results"]) == ["0", "1", "pooled"] and both["seeds"] == [0, 1]
    for key in TABLE:
        assert (
            both["results"]["pooled"]["table"][key]["value"] == report["results"]["0"]["table"][key]["value"]
        )
    assert [row[1] for row in table_rows(both)] == ["0", "1", "pooled"]
    assert "| pooled |" in (copy / "experiment.md").read_text()
