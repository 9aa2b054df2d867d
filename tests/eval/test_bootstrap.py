"""The experiment's statistics: the two-level bootstrap, the closed forms of selection, the goals."""

from __future__ import annotations

import random

import numpy as np
import pytest

from eval.experiment.report import summarize
from eval.report.bootstrap import Bootstrap, TaskRuns, auc, bootstrap_ci, interval, point_stats
from eval.report.selection_stats import RunView, selection_curve


def test_all_ones_give_the_interval_one_one():
    assert bootstrap_ci([[1, 1, 1], [1], [1, 1]]) == (1.0, 1.0)
    assert bootstrap_ci([[0, 0], [0, 0, 0]]) == (0.0, 0.0)


def test_interval_of_a_known_distribution_covers_its_mean():
    rng = random.Random(7)
    groups = [[float(rng.random() < 0.3) for _ in range(5)] for _ in range(40)]
    mean = float(np.mean([np.mean(g) for g in groups]))
    lo, hi = bootstrap_ci(groups, samples=1000, seed=1)
    assert lo < mean < hi
    assert lo < 0.3 < hi
    assert hi - lo < 0.25  # 200 draws of a Bernoulli(0.3): about +-0.07


def test_intervals_cover_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(3)
    covered = 0
    trials = 150
    for t in range(trials):
        task_p = rng.uniform(0.1, 0.7, size=30)  # tasks differ; the target is their mean
        groups = [list((rng.random(4) < p).astype(float)) for p in task_p]
        lo, hi = bootstrap_ci(groups, samples=400, seed=t)
        covered += lo <= 0.4 <= hi
    assert 0.85 <= covered / trials <= 1.0


def test_the_bootstrap_is_seeded_and_deterministic():
    groups = [[0.1, 0.7, 0.4], [0.0, 0.2], [0.9, 0.3, 0.5, 1.0], [0.6]]
    assert bootstrap_ci(groups, seed=5) == bootstrap_ci(groups, seed=5)
    assert bootstrap_ci(groups, seed=5) != bootstrap_ci(groups, seed=6)
    pool = [TaskRuns.values(g) for g in groups]
    same = [Bootstrap(4, 100, seed=5).resample(pool)["mean"] for _ in range(2)]
    assert np.array_equal(*same)


def test_interval_ignores_undefined_draws_and_is_none_without_any():
    assert interval(np.array([np.nan, 0.5, 0.5]), 0.9) == (0.5, 0.5)
    assert interval(np.array([np.nan, np.nan])) == (None, None)


@pytest.mark.parametrize("rule", ["final_q", "random"])
def test_closed_forms_equal_the_report_selection_curve(rule):
    rng = random.Random(11)
    for _ in range(200):
        tasks = []
        for _ in range(rng.randint(1, 4)):
            runs = []
            for _ in range(rng.randint(0, 7)):
                resolved = rng.random() < 0.4
                q = rng.choice([None, 0.5, rng.random()])  # ties and missing Q too
                runs.append(RunView(resolved, preferred=resolved or rng.random() < 0.5, final_q=q))
            tasks.append(runs)
        for point in selection_curve(tasks, rule):
            ours = point_stats([TaskRuns.of(r, rule) for r in tasks], point["n"])
            assert ours["select" if rule == "final_q" else "random"] == pytest.approx(point["selected"])
            assert ours["oracle"] == pytest.approx(point["oracle"])
            assert ours["mean"] == pytest.approx(point["mean"])


def test_task_picks_are_shared_so_a_pool_against_itself_has_a_paired_difference():
    pool = [TaskRuns.values([1.0, 1.0]), TaskRuns.values([0.0, 0.0]), TaskRuns.values([1.0, 0.0])]
    boot = Bootstrap(3, samples=300, seed=0)
    a, b = boot.resample(pool)["mean"], boot.resample(pool)["mean"]
    # the tasks drawn are the same; only the third task's repeats are drawn anew
    third = (boot.picks == 2).sum(axis=1)
    assert np.all(np.abs(a - b) <= third / 3 + 1e-12)
    assert np.array_equal(a[third == 0], b[third == 0]) and np.any(a != b)


def _draws(value: float, spread: float, n: int = 400) -> np.ndarray:
    return value + spread * np.linspace(-1, 1, n)


def test_goals_follow_the_intervals_of_the_gains():
    points = {
        "base": 0.2,
        "lookahead": 0.35,
        "select": 0.4,
        "both": 0.45,
        "lookahead_const": 0.21,
        "select_random": 0.2,
        "oracle_select": 0.5,
        "oracle_both": 0.6,
    }
    draws = {k: _draws(v, 0.01) for k, v in points.items()}
    out = summarize(points, draws, 0.95)
    goals = {k: g["met"] for k, g in out["goals"].items()}
    assert goals == {
        "lookahead_beats_base": True,
        "select_beats_base": True,
        "both_at_least_best": True,
        "select_closes_half_the_gap": True,  # (0.4 - 0.2) / (0.5 - 0.2) = 2/3
        "control_equals_base": False,  # +0.01 with an interval of +-0.0 around it (paired draws)
    }
    assert out["gains"]["gap_closed"]["value"] == pytest.approx(2 / 3)
    assert out["table"]["select"] == {
        "value": 0.4,
        "lo": pytest.approx(0.39, abs=1e-3),
        "hi": pytest.approx(0.41, abs=1e-3),
    }


def test_no_gap_to_close_leaves_that_goal_undefined():
    points = dict.fromkeys(
        [
            "base",
            "lookahead",
            "select",
            "both",
            "lookahead_const",
            "select_random",
            "oracle_select",
            "oracle_both",
        ],
        1.0,
    )
    out = summarize(points, {k: np.ones(50) for k in points}, 0.95)
    assert out["gains"]["gap_closed"]["value"] is None
    assert out["goals"]["select_closes_half_the_gap"]["met"] is None
    assert out["goals"]["control_equals_base"]["met"] is True


def test_grouped_draws_pick_whole_libraries_and_widen_the_interval_when_libraries_differ():
    groups = ["a"] * 3 + ["b"] * 2 + ["c"] * 4
    boot = Bootstrap(len(groups), samples=400, seed=2, groups=groups)
    members = {g: {i for i, x in enumerate(groups) if x == g} for g in set(groups)}
    for row in boot.picks:
        used = row[row >= 0]
        per = {g: sum(int(t) in m for t in used) for g, m in members.items()}
        # a library drawn j times contributes j times its size
        assert all(per[g] % len(members[g]) == 0 for g in per), per
        assert sum(per[g] // len(members[g]) for g in per) == len(members)
    # library a passes every run, b and c fail: the library draw dominates the spread
    pool = [TaskRuns.values([1.0, 1.0] if g == "a" else [0.0, 0.0]) for g in groups]
    by_task = Bootstrap(len(groups), 400, seed=2).resample(pool)["mean"]
    by_library = boot.resample(pool)["mean"]
    assert by_library.std() > 1.5 * by_task.std()
    assert np.mean(by_library) == pytest.approx(3 / 9, abs=0.05)


def test_auc_matches_the_critic_metrics_and_its_draws_follow_the_picks():
    from critic.train.metrics import value_metrics

    rng = random.Random(4)
    for _ in range(30):
        q = [rng.choice([0.2, 0.5, rng.random()]) for _ in range(25)]  # with ties
        y = [rng.random() < 0.4 for _ in range(25)]
        assert auc(q, y) == pytest.approx(value_metrics(q, y, q, [float(v) for v in y], 10)["auc"])
    assert np.isnan(auc([0.1, 0.9], [True, True]))
    perfect = [[(0.9, True), (0.1, False)], [(0.8, True)], [(0.2, False)]]
    draws = Bootstrap(3, 50, seed=0, groups=["x", "x", "y"]).auc(perfect)
    assert np.all(np.isnan(draws) | (draws == 1.0)) and np.any(draws == 1.0)
