"""The method shown working, in CI: a reduced `swe-search experiment` on the offline testbed.

The testbed policy (agent/testbed.py) plays every train task M times, a tiny critic is trained from
scratch on those graded runs, and the held-out library (tasks the critic never saw) is run in the
three pools. The learned critic's selection must beat the mean single run there, and the
constant-critic control must match base. (That fixed seeds give the same table twice is
tests/eval/test_experiment.py's, on a cheaper policy.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs.images import build_task_images
from envs.tasks import load_tasks
from tests.helpers.containers import labelled_containers
from tests.helpers.experiment import (
    PLAIN_ENTRY,
    REPO,
    assert_prompts_counted_once,
    experiment_command,
    run_experiment,
)

pytestmark = pytest.mark.slow
TESTBED = REPO / "examples" / "testbed"
TRAIN_LIBRARIES = ("intervals", "money", "semver", "csvlite")
HELDOUT_LIBRARY = "durations"


def reduced_testbed_config(folder: Path) -> Path:
    """configs/experiment.yaml with fewer rollouts and one held-out library: M=4, R=4, K=4, N=4."""
    train = [f"testbed__{lib}-{n}" for lib in TRAIN_LIBRARIES for n in range(1, 6)]
    heldout = [f"testbed__{HELDOUT_LIBRARY}-{n}" for n in range(1, 6)]
    text = f"""\
extends: {REPO / "configs" / "experiment.yaml"}
dataset: {TESTBED}
split: {{kind: ids, train: {json.dumps(train)}, heldout: {json.dumps(heldout)}}}
collect: {{m: 4}}
evaluate: {{repeats: 4, n: 4, k: 4}}
report: {{bootstrap_samples: 300, seed: 0}}
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "reduced-testbed.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def testbed_images(docker_client, base_image) -> None:
    build_task_images(load_tasks(TESTBED))


@pytest.fixture(scope="module")
def first(tmp_path_factory, testbed_images) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("testbed-exp")
    out = root / "exp"
    return out, run_experiment(experiment_command(reduced_testbed_config(root), out, entry=PLAIN_ENTRY), out)


def test_learned_critic_selection_beats_the_mean_single_run_on_held_out_tasks(first):
    out, report = first
    res = report["results"]["0"]
    base, select = res["table"]["base"]["value"], res["table"]["select"]["value"]
    assert 0.0 < base < 1.0, "the testbed policy must resolve some held-out runs and fail others"
    assert select > base, f"select@4 {select:.3f} does not beat the mean single run {base:.3f}"
    assert res["curve"][-1]["critic"] > res["curve"][-1]["random"]
    assert res["critic"]["heldout"]["auc"] > 0.5
    run_ids = [json.loads(p.read_text())["run_id"] for p in out.rglob("run.json")]
    assert run_ids and not [c for rid in run_ids for c in labelled_containers(rid)]


def test_constant_critic_control_matches_base_on_the_testbed(first):
    """A constant critic makes lookahead take the first of its K samples: the same policy as base, but
    other draws of it (run i's first step is draw i*K of its state, not draw i), so the control
    equals base in distribution, not run for run."""
    _, report = first
    res = report["results"]["0"]
    gap = res["gains"]["control_minus_base"]
    assert gap["lo"] <= 0.0 <= gap["hi"]
    assert res["goals"]["control_equals_base"]["met"] is True


def test_the_cost_table_counts_a_lookahead_steps_prompt_once(first):
    """K=4 candidates from one request: lookahead's prompt tokens per step are base's for the same
    history (counted per sample they were 4 times as many), its critic tokens are the critic's own."""
    out, report = first
    assert_prompts_counted_once(out, report, max_ratio=2.0)
    cost = report["results"]["0"]["cost"]["per_instance"]
    assert cost["lookahead"]["critic_tokens"] > 0 and cost["base"]["critic_tokens"] == 0
    assert "of those cached" in (out / "experiment.md").read_text(encoding="utf-8")
