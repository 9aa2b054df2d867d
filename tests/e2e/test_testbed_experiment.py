"""The method shown working, in CI: a reduced `swe-search experiment` on the offline testbed.

The testbed policy (agent/testbed.py) plays every train task M times, a tiny critic is trained from
scratch on those graded runs, and the held-out library (tasks the critic never saw) is run in the
three pools. The learned critic's selection must beat the mean single run there, and the
constant-critic control must match base. `swe-search inspect` is then checked on this experiment and
its real run folders in headless chromium. (That fixed seeds give the same table twice is
tests/eval/test_experiment.py's, on a cheaper policy.)

An LLM judge is compared beside the learned critic (`critics: [learned, judge:...]`): a loopback
OpenAI-protocol server answers by a fixed rule on the judged text. It runs its own lookahead pool
(SIGKILLed there once, then resumed) and scores the shared base pool's runs; the table has a row each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from envs.images import build_task_images
from envs.tasks import load_tasks
from eval.experiment.layout import COMPLETE, SCORES, lookahead_pool, pool_dir, rescore_dir
from tests.helpers.browser import assert_no_alert, chromium, network_requests, screenshot_is_drawn, served
from tests.helpers.commands import swe_search
from tests.helpers.containers import labelled_containers
from tests.helpers.experiment import (
    PLAIN_ENTRY,
    REPO,
    assert_prompts_counted_once,
    experiment_command,
    kill_when,
    run_experiment,
)
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


def _pool(out: Path, name: str) -> Path:
    return out / "seed-0" / "evaluate" / name


def test_the_inspector_shows_the_experiment_and_its_real_runs_in_chromium(first, tmp_path):
    """`swe-search inspect` on this real experiment, in headless chromium: the table links to its pools;
    a pool's overview lists every held-out instance with its grade; selection's pick is the run
    selection.json names; a lookahead step shows the K candidates with the Q values trajectory.json
    holds, the chosen one marked; the static export opens from file:// with no network."""
    out, report = first
    res = report["results"]["0"]
    heldout = report["splits"]["heldout"]
    last = out.with_suffix(".log").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert last == f"see every decision: swe-search inspect {out}", (
        "the main job's last line opens the inspector"
    )
    with served(out) as url, chromium() as driver:
        driver.get(url)
        assert_no_alert(driver)
        for key in ("base", "lookahead", "select", "both"):
            cell = driver.find_element(
                By.CSS_SELECTOR, f'#table-0 tr[data-critic="learned"] td[data-cell="{key}"]'
            )
            assert f"{100 * res['table'][key]['value']:.1f}%" in cell.text
        assert len(driver.find_elements(By.CSS_SELECTOR, "#cost-0 tbody tr")) == len(
            res["cost"]["per_instance"]
        )
        headers = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#cost-0 thead th")]
        assert headers[5:7] == ["cost (policy + critic)", "of which critic"]  # the critic's USD apart
        images = driver.find_elements(By.CSS_SELECTOR, ".plots img")
        assert len(images) == len(list((out / "plots").glob("*.png"))) > 0
        assert all(driver.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images)
        cell = driver.find_element(By.CSS_SELECTOR, '#table-0 td[data-cell="lookahead"] a.pool')
        cell.click()
        pool = _pool(out, "lookahead")
        records = {p.parent.name: json.loads(p.read_text()) for p in pool.glob("instances/*/done.json")}
        rows = {
            r.get_attribute("data-id"): r
            for r in driver.find_elements(By.CSS_SELECTOR, "#instances tbody tr")
        }
        assert set(rows) == set(heldout) == set(records)
        for iid, row in rows.items():
            assert row.find_element(By.CSS_SELECTOR, "td.grade").text == records[iid]["grade_status"]

        for name in ("base", "lookahead"):  # select, and lookahead+select
            for iid in heldout:
                chosen = json.loads((_pool(out, name) / "trajectories" / iid / "selection.json").read_text())[
                    "chosen"
                ]
                driver.get(f"{url}seed-0/evaluate/{name}/i/{iid}.html")
                assert driver.find_element(By.CSS_SELECTOR, "tr.picked").get_attribute("data-run") == str(
                    chosen
                )
                assert driver.find_element(By.ID, "picked").text == f"run {chosen}"

        scored = [
            (path, t, step)
            for path in sorted(pool.glob("trajectories/*/run-*/trajectory.json"))
            for t, step in enumerate(json.loads(path.read_text())["steps"])
            if len(step["candidates"]) > 1 and all(c["q"] is not None for c in step["candidates"])
        ]
        assert scored, "the lookahead pool has no step with several scored candidates"
        path, t, step = scored[0]
        driver.get(f"{url}seed-0/evaluate/lookahead/i/{path.parent.parent.name}/{path.parent.name}.html")
        items = driver.find_elements(By.CSS_SELECTOR, f"#step-{t} li.candidate")
        assert [float(i.get_attribute("data-q")) for i in items] == [c["q"] for c in step["candidates"]]
        assert [i.find_element(By.CSS_SELECTOR, ".qv").text for i in items] == [
            f"{c['q']:.3f}" for c in step["candidates"]
        ]
        assert [i for i, li in enumerate(items) if "chosen" in li.get_attribute("class").split()] == [
            step["chosen_index"]
        ]
        assert sum(int(li.get_attribute("data-count")) for li in items) == sum(
            c["count"] for c in step["candidates"]
        )
        screenshot_is_drawn(driver, tmp_path / "lookahead-run.png")

    site = tmp_path / "site"
    done = swe_search("inspect", str(out), "--export", str(site))
    assert done.returncode == 0, done.stderr
    with chromium() as driver:
        driver.get((site / "index.html").as_uri())
        driver.find_element(By.CSS_SELECTOR, '#table-0 td[data-cell="select"] a.pool').click()
        driver.find_element(By.LINK_TEXT, heldout[0]).click()
        driver.find_element(By.CSS_SELECTOR, "tr.picked a").click()
        assert driver.find_elements(By.CSS_SELECTOR, ".step")
        fetched = network_requests(driver)
        assert fetched and all(u.startswith("file://") for u in fetched), fetched


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
    # its tokens are counted apart from the policy's (the learned critic reports its own too)
    assert (
        judged["cost"]["lookahead"]["critic_tokens"] > 0 and learned["cost"]["lookahead"]["critic_tokens"] > 0
    )
    assert judged["cost"]["select"]["critic_tokens"] > 0
    prompts = [r.body["messages"][-1]["content"] for r in judge_server.completions]
    assert any("<patch>" in p for p in prompts) and any("proposes to take this action" in p for p in prompts)
    md = (out / "experiment.md").read_text()
    assert "## Critics side by side" in md and "critic cost" in md
    # the inspector draws both rows, each lookahead cell linking to that critic's own pool
    with served(out) as url, chromium() as driver:
        driver.get(url)
        for name in ("learned", judge):
            row = driver.find_element(By.CSS_SELECTOR, f'#table-0 tr[data-critic="{name}"]')
            cell = row.find_element(By.CSS_SELECTOR, 'td[data-cell="lookahead"]')
            assert f"{100 * res['critics'][name]['table']['lookahead']['value']:.1f}%" in cell.text
            pool = lookahead_pool(name, list(res["critics"]))
            assert (
                cell.find_element(By.CSS_SELECTOR, "a.pool")
                .get_attribute("href")
                .endswith(f"seed-0/evaluate/{pool}/index.html")
            )


def test_the_cost_table_counts_a_lookahead_steps_prompt_once(first):
    """K=4 candidates from one request: lookahead's prompt tokens per step are base's for the same
    history (counted per sample they were 4 times as many), its critic tokens are the critic's own."""
    out, report = first
    assert_prompts_counted_once(out, report, max_ratio=2.0)
    cost = report["results"]["0"]["cost"]["per_instance"]
    assert cost["lookahead"]["critic_tokens"] > 0 and cost["base"]["critic_tokens"] == 0
    assert "of those cached" in (out / "experiment.md").read_text(encoding="utf-8")
