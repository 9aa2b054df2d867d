"""The method shown working, in CI: a reduced `swe-search experiment` on the offline testbed.

The testbed policy (agent/testbed.py) plays every train task M times, a tiny critic is trained from
scratch on those graded runs, and the held-out library (tasks the critic never saw) is run in the
three pools. The learned critic's selection must beat the mean single run there, and the
constant-critic control must match base. (That fixed seeds give the same table twice is
tests/eval/test_experiment.py's, on a cheaper policy.)

An LLM judge is compared beside the learned critic (`critics: [learned, judge:...]`): a loopback
OpenAI-protocol server answers by a fixed rule on the judged text. It runs its own lookahead pool
(SIGKILLed there once, then resumed) and scores the shared base pool's runs; the table has a row each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs.images import build_task_images
from envs.tasks import load_tasks
from eval.experiment.layout import COMPLETE, SCORES, lookahead_pool, pool_dir, rescore_dir
from tests.helpers.containers import labelled_containers
from tests.helpers.experiment import PLAIN_ENTRY, REPO, experiment_command, kill_when, run_experiment
from tests.helpers.openai_server import OpenAIServer, judge_rule

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


JUDGE_RULE = {"python": 0.7, "submit": 0.6}
"""The loopback judge's P(YES) by what the judged text names (else 0.4): it favours checking and submitting."""


@pytest.fixture(scope="module")
def judge_server():
    with OpenAIServer(default=judge_rule(JUDGE_RULE, default=0.4)) as server:
        yield server


@pytest.fixture(scope="module")
def first(tmp_path_factory, testbed_images, judge_server) -> tuple[Path, dict]:
    """The reduced experiment with the learned critic and the loopback judge; SIGKILLed once while the
    judge's lookahead pool runs, then run again to the end."""
    root = tmp_path_factory.mktemp("testbed-exp")
    out, judge = root / "exp", f"judge:test-model@{judge_server.url}"
    critics = f"critics=[learned, '{judge}']"
    cmd = experiment_command(reduced_testbed_config(root), out, critics, entry=PLAIN_ENTRY)
    pool = pool_dir(out, 0, lookahead_pool(judge, ["learned", judge]))
    ran = lambda: any(pool.glob("trajectories/*/run-*/trajectory.json"))  # noqa: E731
    kill_when(cmd, ran, "the judge's lookahead pool ran", out.with_suffix(".log"), timeout=1500)
    assert not (pool / COMPLETE).exists(), "the kill came after the judge's pool had finished"
    return out, run_experiment(cmd, out)


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


def test_a_judge_gets_its_own_row_beside_the_learned_critic(first, judge_server):
    out, report = first
    judge = f"judge:test-model@{judge_server.url}"
    res = report["results"]["0"]
    learned, judged = res["critics"]["learned"], res["critics"][judge]
    assert list(res["critics"]) == ["learned", judge] and learned["table"] == res["table"]
    # base and control pools are shared: the same base cell and control gap in both rows
    assert judged["table"]["base"] == learned["table"]["base"]
    assert judged["gains"]["control_minus_base"]["value"] == learned["gains"]["control_minus_base"]["value"]
    assert all(0.0 <= judged["table"][c]["value"] <= 1.0 for c in ("lookahead", "select", "both"))
    # the judge scored every base run once more (its select) and ran its own lookahead pool
    scores = json.loads((rescore_dir(out, 0, judge) / SCORES).read_text())
    assert set(scores) == set(report["splits"]["heldout"])
    assert all(0 < e["final_q"] < 1 and e["tokens"] > 0 for runs in scores.values() for e in runs.values())
    # its tokens are counted apart from the policy's; the learned critic spends none
    assert (
        judged["cost"]["lookahead"]["critic_tokens"] > 0
        and learned["cost"]["lookahead"]["critic_tokens"] == 0
    )
    assert judged["cost"]["select"]["critic_tokens"] > 0
    prompts = [r.body["messages"][-1]["content"] for r in judge_server.completions]
    assert any("<patch>" in p for p in prompts) and any("proposes to take this action" in p for p in prompts)
    md = (out / "experiment.md").read_text()
    assert "## Critics side by side" in md and "judge tokens" in md
