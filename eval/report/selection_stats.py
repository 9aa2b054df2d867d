"""Selection statistics over the runs of select strategies: Pass@1 of the critic's choice, of the oracle
and of a random run, and the Pass@1-vs-n curve over the size-n subsets of each instance's runs.

Selection inside a subset follows search.select.choose, whose ranking it imports (`rank_key`:
preferred runs first, then the rule's score with a missing Q as -inf, then the lowest index); for
the `random` rule the expectation over a uniform pick among the preferred runs. Subsets are
enumerated exactly when there are at most `max_exact_subsets` of them (default `MAX_EXACT_SUBSETS`),
else `sampled_subsets` (default `SAMPLED_SUBSETS`) are drawn with a seeded RNG.
eval.report.run_report puts these numbers in report.json's `selection`.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eval.batch.records import RunRecord
from search.select import is_preferred, rank_key

MAX_EXACT_SUBSETS = 2000
SAMPLED_SUBSETS = 2000
CURVE_SEED = 0


@dataclass(frozen=True)
class RunView:
    """What selection and the curve need to know about one run."""

    resolved: bool
    preferred: bool = True
    """search.select.is_preferred: submitted with a non-empty patch (ranked first)."""
    final_q: float | None = None
    mean_q: float | None = None

    @classmethod
    def of(cls, rec: RunRecord) -> RunView:
        return cls(rec.resolved, is_preferred(rec.submitted, rec.patch_empty), rec.final_q, rec.mean_q)


def selected_resolved(runs: Sequence[RunView], subset: Sequence[int], rule: str = "final_q") -> float:
    """Probability that selection among runs[subset] picks a resolved run (0/1 except for `random`)."""
    if not subset:
        return 0.0
    if rule == "random":
        pool = [i for i in subset if runs[i].preferred] or list(subset)
        return sum(runs[i].resolved for i in pool) / len(pool)
    best = max(subset, key=lambda i: rank_key(runs[i], i, rule))
    return float(runs[best].resolved)


def _subsets(
    m: int, n: int, rng: random.Random, max_exact: int, sampled: int
) -> tuple[list[tuple[int, ...]], str]:
    if math.comb(m, n) <= max_exact:
        return list(itertools.combinations(range(m), n)), "exact"
    return [tuple(sorted(rng.sample(range(m), n))) for _ in range(sampled)], "sampled"


def selection_curve(
    instances: Sequence[Sequence[RunView]],
    rule: str = "final_q",
    seed: int = CURVE_SEED,
    *,
    max_exact_subsets: int = MAX_EXACT_SUBSETS,
    sampled_subsets: int = SAMPLED_SUBSETS,
) -> list[dict[str, Any]]:
    """Expected Pass@1 of selection, oracle and a random run over size-n subsets, n = 1..max runs.

    An instance with fewer than n runs uses all of them; one with no runs counts as unresolved.
    Subsets are all enumerated up to `max_exact_subsets` of them, else `sampled_subsets` are drawn.
    """
    if not instances:
        return []
    rng = random.Random(seed)
    top = max((len(r) for r in instances), default=0)
    curve = []
    for n in range(1, top + 1):
        sel = orc = avg = 0.0
        methods = set()
        for runs in instances:
            k = min(n, len(runs))
            if k == 0:
                continue
            subsets, method = _subsets(len(runs), k, rng, max_exact_subsets, sampled_subsets)
            methods.add(method)
            sel += sum(selected_resolved(runs, s, rule) for s in subsets) / len(subsets)
            orc += sum(any(runs[i].resolved for i in s) for s in subsets) / len(subsets)
            avg += sum(runs[i].resolved for s in subsets for i in s) / (len(subsets) * k)
        total = len(instances)
        curve.append(
            {
                "n": n,
                "selected": sel / total,
                "oracle": orc / total,
                "mean": avg / total,
                "method": "sampled" if "sampled" in methods else "exact",
            }
        )
    return curve


def selection_metrics(
    instances: Sequence[Sequence[RunView]], chosen: Sequence[int | None], rule: str = "final_q"
) -> dict[str, Any]:
    """Mean single-run Pass@1, oracle Pass@N, critic-selected Pass@1, the gap closed, and the curve."""
    total = len(instances)
    if total == 0:
        return {"instances": 0}
    mean = sum(sum(r.resolved for r in runs) / len(runs) for runs in instances if runs) / total
    oracle = sum(any(r.resolved for r in runs) for runs in instances) / total
    selected = (
        sum(runs[c].resolved for runs, c in zip(instances, chosen, strict=True) if c is not None) / total
    )
    gap = oracle - mean
    return {
        "instances": total,
        "n": max((len(r) for r in instances), default=0),
        "rule": rule,
        "mean_single_run_pass_at_1": mean,
        "oracle_pass_at_n": oracle,
        "selected_pass_at_1": selected,
        "gap_closed": (selected - mean) / gap if gap > 1e-12 else None,
        "curve": selection_curve(instances, rule),
    }
