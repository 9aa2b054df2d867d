"""Confidence intervals by a two-level bootstrap: resample the tasks, then each task's repeats.

One bootstrap draw picks T tasks with replacement (T = the number of tasks); every picked slot then
resamples that task's R runs with replacement, and a statistic is computed on the resampled runs.
A cell's value in the draw is the mean over the T slots. The interval is the percentile interval
of the draws. The task picks are shared by every pool and seed of one `Bootstrap` (so differences
such as lookahead - base are paired over tasks); each pool resamples its own runs.

Per task, on a (re)sampled pool of R runs, with n = min(N, R) and runs ranked in the order of
search.select.choose (search.select.rank_key; best first), the expected Pass@1 over the
uniformly drawn n-subsets of the pool is, in closed form (so that thousands of draws stay cheap):
- mean:   the share of resolved runs;
- select: sum_j resolved(j-th best) * C(R-1-j, n-1) / C(R, n) (the j-th best is chosen when it is
          in the subset and none better is);
- oracle: 1 - C(R - resolved, n) / C(R, n);
- random: a uniform pick among the subset's preferred runs (all runs when none is):
          P(some preferred) * resolved_preferred / preferred + P(none) * resolved_other / other.
These equal eval.report.selection_stats.selection_curve's exact enumeration (tests/eval/test_experiment.py checks it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eval.report.selection_stats import RunView
from search.select import rank_key

STATS = ("mean", "select", "random", "oracle")


@dataclass(frozen=True)
class TaskRuns:
    """One task's runs as arrays: resolved (0/1 or any value), preferred, and selection rank (0 = best)."""

    resolved: np.ndarray
    preferred: np.ndarray
    rank: np.ndarray

    @classmethod
    def of(cls, runs: Sequence[RunView], rule: str = "final_q") -> TaskRuns:
        order = sorted(range(len(runs)), key=lambda i: rank_key(runs[i], i, rule), reverse=True)
        rank = np.empty(len(runs), dtype=np.int64)
        rank[order] = np.arange(len(runs))
        return cls(
            np.array([float(r.resolved) for r in runs]),
            np.array([bool(r.preferred) for r in runs], dtype=bool),
            rank,
        )

    @classmethod
    def values(cls, values: Sequence[float]) -> TaskRuns:
        """Plain values (for the mean only)."""
        n = len(values)
        return cls(np.asarray(values, dtype=float), np.ones(n, dtype=bool), np.arange(n))

    def __len__(self) -> int:
        return len(self.resolved)


def _comb_table(size: int, n: int) -> np.ndarray:
    return np.array([math.comb(a, n) for a in range(size + 1)], dtype=float)


def pool_stats(task: TaskRuns, idx: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Each STATS value for every row of `idx` (rows of R run indices, a resample of the task)."""
    rows, size = idx.shape
    if size == 0:
        zero = np.zeros(rows)
        return dict.fromkeys(STATS, zero)
    n = min(n, size)
    res, pref = task.resolved[idx], task.preferred[idx]
    comb = _comb_table(size, n)
    total = comb[size]
    order = np.argsort(task.rank[idx], axis=1, kind="stable")
    ranked = np.take_along_axis(res, order, axis=1)
    weights = np.array([math.comb(size - 1 - j, n - 1) for j in range(size)], dtype=float) / total
    hits = (res > 0).sum(axis=1)
    n_pref = pref.sum(axis=1)
    res_pref = (res * pref).sum(axis=1)
    res_other = (res * ~pref).sum(axis=1)
    p_none = comb[size - n_pref] / total
    with np.errstate(invalid="ignore", divide="ignore"):
        random = (1 - p_none) * np.where(
            n_pref > 0, res_pref / np.maximum(n_pref, 1), 0.0
        ) + p_none * np.where(n_pref < size, res_other / np.maximum(size - n_pref, 1), 0.0)
    return {
        "mean": res.mean(axis=1),
        "select": ranked @ weights,
        "random": random,
        "oracle": 1 - comb[size - hits] / total,
    }


def point_stats(tasks: Sequence[TaskRuns], n: int) -> dict[str, float]:
    """The STATS over the original pools (no resampling): the mean over tasks."""
    if not tasks:
        return dict.fromkeys(STATS, 0.0)
    per = [pool_stats(t, np.arange(len(t))[None, :], n) for t in tasks]
    return {k: float(np.mean([p[k][0] for p in per])) for k in STATS}


class Bootstrap:
    """Shared task picks for `samples` draws over `n_tasks` tasks; `resample` computes a pool's STATS.

    With `groups` (one label per task, e.g. its library) a draw first picks as many groups as there
    are, with replacement, then within each picked group as many of its tasks as it has, with
    replacement: the interval then covers which libraries were drawn as well as which tasks. A draw
    may then hold more or fewer task slots than `n_tasks`; unused slots are -1 and a cell is the mean
    over the used ones.
    """

    def __init__(
        self, n_tasks: int, samples: int = 2000, seed: int = 0, groups: Sequence[str] | None = None
    ) -> None:
        self.n_tasks, self.samples = n_tasks, samples
        self.rng = np.random.default_rng(seed)
        self.grouped = groups is not None
        if groups is not None and len(groups) != n_tasks:
            raise ValueError(f"expected {n_tasks} group labels, got {len(groups)}")
        if not n_tasks:
            self.picks = None
        elif groups is None:
            self.picks = self.rng.integers(n_tasks, size=(samples, n_tasks))
        else:
            self.picks = self._group_picks(list(groups))

    def _group_picks(self, groups: list[str]) -> np.ndarray:
        members = [np.array([i for i, g in enumerate(groups) if g == label]) for label in sorted(set(groups))]
        sizes = np.array([len(m) for m in members])
        chosen = self.rng.integers(len(members), size=(self.samples, len(members)))
        picks = np.full((self.samples, int(sizes.max()) * len(members)), -1, dtype=np.int64)
        for row in range(self.samples):
            tasks = [m[self.rng.integers(len(m), size=len(m))] for m in (members[g] for g in chosen[row])]
            flat = np.concatenate(tasks)
            picks[row, : len(flat)] = flat
        return picks

    def resample(self, tasks: Sequence[TaskRuns], n: int = 1) -> dict[str, np.ndarray]:
        """Per draw, the mean over the picked tasks of each statistic on freshly resampled runs."""
        if len(tasks) != self.n_tasks:
            raise ValueError(f"expected {self.n_tasks} tasks, got {len(tasks)}")
        if not self.n_tasks:
            return {k: np.zeros(self.samples) for k in STATS}
        assert self.picks is not None
        slots = {k: np.zeros(self.picks.shape) for k in STATS}
        for t, task in enumerate(tasks):
            mask = self.picks == t
            count = int(mask.sum())
            if not count:
                continue
            idx = self.rng.integers(max(len(task), 1), size=(count, len(task)))
            for k, v in pool_stats(task, idx, n).items():
                slots[k][mask] = v
        if self.grouped:
            used = np.maximum((self.picks >= 0).sum(axis=1), 1)
            return {k: v.sum(axis=1) / used for k, v in slots.items()}
        return {k: v.mean(axis=1) for k, v in slots.items()}

    def auc(self, scored: Sequence[Sequence[tuple[float, bool]]]) -> np.ndarray:
        """Per draw, the AUC of the picked tasks' (score, resolved) pairs (NaN: one class only)."""
        if len(scored) != self.n_tasks:
            raise ValueError(f"expected {self.n_tasks} tasks, got {len(scored)}")
        if self.picks is None:
            return np.full(self.samples, np.nan)
        out = np.empty(self.samples)
        for row, picks in enumerate(self.picks):
            pairs = [p for t in picks[picks >= 0] for p in scored[t]]
            out[row] = auc([q for q, _ in pairs], [y for _, y in pairs])
        return out


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The ROC AUC of `scores` against `labels` (ties count one half); NaN when one class is missing."""
    q, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return float("nan")
    order = np.argsort(q, kind="stable")
    ranks = np.empty(len(q))
    sorted_q = q[order]
    start = 0
    for end in range(1, len(q) + 1):  # average ranks over ties
        if end == len(q) or sorted_q[end] != sorted_q[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def interval(draws: np.ndarray, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """The percentile interval of the finite draws (None when there is none)."""
    finite = np.asarray(draws, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return None, None
    alpha = 1 - confidence
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_ci(
    groups: Sequence[Sequence[float]],
    samples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float | None, float | None]:
    """The interval of the mean over groups (tasks) of the mean over values (repeats), resampling both.

    Seeded: the same arguments give the same interval.
    """
    boot = Bootstrap(len(groups), samples, seed)
    return interval(boot.resample([TaskRuns.values(g) for g in groups])["mean"], confidence)
