"""`swe-search experiment` cross-validated by library (`split: {kind: folds}`), reduced for CI.

Three example tasks of three libraries (confkit, textkit, unitkit) in k=2 folds, the seeded mixed
policy `scripted:coin`, M=2, R=2, K=2, N=2, one epoch: real containers, grading and critic training.
A loopback LLM judge is compared beside the learned critic in every fold (`critics: [learned, judge:...]`).
The experiment is SIGKILLed while the second fold trains, and rerun to the end.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from eval.experiment.layout import (
    COMPLETE,
    POOLS,
    SCORES,
    checkpoint_dir,
    lookahead_pool,
    phase_dir,
    pool_dir,
    rescore_dir,
)
from eval.experiment.phases import library_of
from eval.experiment.render import FOLD_COLUMNS
from eval.experiment.report import FOLD_FIGURES
from tests.eval.test_experiment import _files, _run_ids
from tests.helpers.commands import swe_search
from tests.helpers.containers import labelled_containers
from tests.helpers.experiment import EXAMPLES, REPO, experiment_command, kill_when
from tests.helpers.openai_server import OpenAIServer, judge_rule

pytestmark = pytest.mark.slow
TASKS = ["swe-search__confkit-1", "swe-search__textkit-1", "swe-search__unitkit-1"]
M = R = 2


def folds_config(folder: Path) -> Path:
    text = f"""\
extends: {REPO / "configs" / "experiment.yaml"}
dataset: {EXAMPLES}
split: {{kind: folds, by: library, k: 2}}
train_select: {{instances: {json.dumps(TASKS)}}}
collect: {{m: {M}, temperature: 1.0}}
critic: {{epochs: 1, max_context: 8192, batch_size: 4, eval_fraction: 0.0}}
tiny: {{vocab_size: 512}}
evaluate: {{repeats: {R}, n: 2, k: 2}}
report: {{bootstrap_samples: 100, seed: 0}}
run:
  model: scripted:coin
  workers: 2
  instance_timeout: 300
  grade_timeout: 300
  agent: {{step_limit: 4}}
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "folds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def judge_server():
    with OpenAIServer(default=judge_rule({"submit": 0.6}, default=0.4)) as server:
        yield server


@pytest.fixture(scope="module")
def folds(tmp_path_factory, example_task_images, judge_server) -> dict:
    root = tmp_path_factory.mktemp("exp-folds")
    out, log = root / "exp", root / "experiment.log"
    judge = f"judge:test-model@{judge_server.url}"
    cmd = experiment_command(folds_config(root / "config"), out, f"critics=[learned, '{judge}']")
    # killed once the second fold's first pool has finished an instance: its evaluation is under way
    # (its training, a second on an idle machine, can finish between two polls)
    base1 = pool_dir(out, 0, "base", 1) / "instances"
    kill_when(
        cmd, lambda: any(base1.glob("*/done.json")), "the second fold's evaluation started", log, timeout=900
    )
    state = {
        "fold1_evaluated_at_kill": (phase_dir(out, 0, "evaluate", 1) / COMPLETE).exists(),
        "collect_files": _files(phase_dir(out, 0, "collect")),
        "fold0_files": _files(out / "seed-0" / "fold-0"),
    }
    final = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-5000:]
    state.update(out=out, stderr=final.stderr, report=json.loads((out / "experiment.json").read_text()))
    state["judge"] = judge
    return state


def test_the_folds_partition_the_libraries_and_hold_out_each_once(folds):
    splits = folds["report"]["splits"]
    libraries = {library_of(i) for i in TASKS}
    groups = [set(f["groups"]) for f in splits["folds"]]
    assert len(groups) == 2 and set().union(*groups) == libraries and not groups[0] & groups[1]
    held = [i for f in splits["folds"] for i in f["heldout"]]
    assert sorted(held) == sorted(TASKS)  # every task held out exactly once
    for f in splits["folds"]:
        assert {library_of(i) for i in f["heldout"]} == set(f["groups"])
        assert sorted(f["train"] + f["heldout"]) == sorted(TASKS)  # trained on every other library


def test_collection_is_shared_and_each_critic_sees_only_the_other_folds(folds):
    out, report = folds["out"], folds["report"]
    collect = phase_dir(out, 0, "collect")
    runs = sorted(p.relative_to(collect).parts[1] for p in collect.glob("trajectories/*"))
    assert runs == sorted(TASKS) and len(list(collect.glob("trajectories/*/run-*/trajectory.json"))) == M * 3
    assert report["results"]["0"]["runs"]["collect"]["runs"] == M * len(TASKS)  # collected once, not per fold
    for i, fold in enumerate(report["splits"]["folds"]):
        data = phase_dir(out, 0, "train", i) / "data"
        seen = sorted(p.name for p in (data / "trajectories").iterdir())
        assert seen == fold["train"]
        for traj in data.glob("trajectories/*/run-*/trajectory.json"):  # the same files, linked
            assert os.path.samefile(traj, collect / traj.relative_to(data))
        metrics = json.loads((checkpoint_dir(out, 0, i) / "metrics.json").read_text())
        assert metrics["config"]["data"] == [str(data.resolve())]
        for pool in POOLS:
            evaluated = sorted(p.name for p in (pool_dir(out, 0, pool, i) / "instances").iterdir())
            assert evaluated == fold["heldout"]


def test_the_report_has_a_row_per_fold_the_pooled_and_the_worst(folds):
    res = folds["report"]["results"]["0"]
    assert list(res["folds"]) == ["fold-0", "fold-1"]
    for fold in res["folds"].values():
        assert set(fold["gains"]) >= {"select_minus_base", "lookahead_minus_base", "gap_closed"}
        auc = fold["critic"]["heldout"]["interval"]
        assert auc["value"] is None or 0.0 <= auc["value"] <= 1.0
    for cell in res["table"].values():  # the pooled table covers every task
        assert 0.0 <= cell["lo"] <= cell["value"] <= cell["hi"] <= 1.0
    assert res["runs"]["fold-0/base"]["runs"] + res["runs"]["fold-1/base"]["runs"] == R * len(TASKS)
    for figure in FOLD_FIGURES:
        worst = res["worst"][figure]
        values = [
            (f["critic"]["heldout"]["interval"] if figure == "auc" else f["gains"][figure])["value"]
            for f in res["folds"].values()
        ]
        defined = [v for v in values if v is not None]
        assert worst["value"] == (min(defined) if defined else None)
    goals = res["fold_goals"]
    assert set(goals) == {"worst_fold_auc", "select_beats_base_pooled", "select_closes_half_in_every_fold"}
    auc = res["worst"]["auc"]["value"]
    assert goals["worst_fold_auc"]["met"] == (None if auc is None else auc >= 0.85)
    md = (folds["out"] / "experiment.md").read_text()
    assert "## Folds, seed 0" in md and all(c in md for c in FOLD_COLUMNS)
    assert "| fold-0 |" in md and "| pooled | all | 3 |" in md and "| worst |" in md
    assert "| the worst fold's held-out AUC of the final Q is at least 0.85 |" in md


def test_a_kill_in_the_second_fold_resumes_without_redoing_the_first(folds):
    assert not folds["fold1_evaluated_at_kill"]
    out, err = folds["out"], folds["stderr"]
    assert "seed 0 collect: complete, skipped" in err
    assert "seed 0 fold-0/train: complete, skipped" in err
    assert "seed 0 fold-0/evaluate: complete, skipped" in err
    assert "seed 0 fold-1/train: complete, skipped" in err
    assert "seed 0 fold-1/evaluate: continuing" in err
    assert folds["collect_files"] == _files(phase_dir(out, 0, "collect"))
    assert folds["fold0_files"] == _files(out / "seed-0" / "fold-0")
    assert not [c for rid in _run_ids(out) for c in labelled_containers(rid)]


def test_the_judge_runs_its_pool_and_rescores_in_every_fold_and_gets_a_pooled_row(folds):
    out, judge, res = folds["out"], folds["judge"], folds["report"]["results"]["0"]
    for i, fold in enumerate(folds["report"]["splits"]["folds"]):
        pool = pool_dir(out, 0, lookahead_pool(judge, ["learned", judge]), i)
        assert pool.parent == phase_dir(out, 0, "evaluate", i) and (pool / COMPLETE).is_file()
        assert sorted(p.name for p in (pool / "instances").iterdir()) == fold["heldout"]
        scores = json.loads((rescore_dir(out, 0, judge, i) / SCORES).read_text())
        assert sorted(scores) == fold["heldout"]  # the fold's own base runs, scored by the judge
        assert all(0.0 <= s["final_q"] <= 1.0 for runs in scores.values() for s in runs.values())
    learned, judged = res["critics"]["learned"], res["critics"][judge]
    assert list(res["critics"]) == ["learned", judge] and learned["table"] == res["table"]  # folds pooled
    assert judged["table"]["base"] == learned["table"]["base"]  # the base pool is shared
    assert judged["cost"]["select"]["critic_tokens"] > 0 and judged["cost"]["lookahead"]["critic_tokens"] > 0


def test_the_inspectors_export_links_every_cell_to_its_folds_own_pools(folds, tmp_path):
    """With folds the pools are `seed-S/fold-F/evaluate/<pool>`: every table cell links one per fold,
    and each link opens a page of the static export."""
    site = tmp_path / "site"
    done = swe_search("inspect", str(folds["out"]), "--export", str(site))
    assert done.returncode == 0, done.stderr
    hrefs = set(re.findall(r'class="pool" href="([^"]+)"', (site / "index.html").read_text()))
    assert {h.split("/")[1] for h in hrefs} == {"fold-0", "fold-1"}
    assert all((site / h).is_file() for h in hrefs), sorted(h for h in hrefs if not (site / h).is_file())
