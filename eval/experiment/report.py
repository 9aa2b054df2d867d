"""The experiment's report: experiment.json, experiment.md and plots/ in the experiment folder.

Read from the phase folders of every seed (eval.experiment.phases): the pools' finished instances
(instances/*/done.json), their trajectories, and the critic's metrics.json. experiment.json
(`schema_version` 1):
- `splits`, `seeds`, `policy`, `settings` (M, T, R, K, N, ...), `config` (the effective config);
- `results[<seed>]` for every seed run, and `results["pooled"]` (the mean over seeds, bootstrap
  draws shared) when there are several. Each holds:
  - `table`: base | lookahead | select | both, each `{value, lo, hi}` (95% bootstrap interval over
    tasks and repeats, eval.report.bootstrap), of the base pool's critic (`learned` when compared);
  - `critics`: one row per critic of `critics` (`learned`, `judge:...`): its own `table`, `gains`,
    `goals` and per-instance `cost` (base and control shared; its own lookahead pool; the base
    pool's runs selected by its own final Q);
  - `controls`: lookahead with the constant critic, select with the random rule, oracle@N of each pool;
  - `gains`: lookahead - base, select - base, both - max(lookahead, select), the share of the
    mean -> oracle gap that select closes, control - base, random - base;
  - `goals`: each goal of issue 14, `met` true/false (null: undefined), with its rule;
  - per seed only: `curve` (Pass@1 vs n for select: critic, random rule, oracle; and both),
    `critic` (`train`: held-out metrics of `critic train`; `heldout`: AUC/Brier of the base pool's
    final Q against resolved on the held-out split), `cost` (`per_run` mean of each pool,
    `per_instance` by strategy: runs, policy calls, samples, prompt tokens (each request's prompt
    once) and of those cached, completion tokens, critic tokens, USD, critic calls, wall time;
    `notes` on older trajectories; eval.report.usage),
    `q_by_step` (eval.report.run_report.lookahead_stats of the lookahead pool), `runs` (counts per folder);
    costs hold the critic's tokens and USD (`critic_tokens`, `critic_cost_usd`; `cost_usd` is the policy's
    and the critic's together);
- `timing`: wall seconds of each phase (varies between runs; see VOLATILE_KEYS).

With folds (`split: {kind: folds}`) each seed's result is the folds pooled: every task held out once,
its runs from its own fold's pools, the intervals drawn over libraries and then tasks (Bootstrap
groups) and the held-out AUC over all base runs; besides, `folds` holds each fold's `table`, `gains`
and held-out `critic.heldout` (AUC with its interval), and `worst` the worst fold of each figure.
`critics` rows are the folds pooled the same way (each fold's own judge pools and rescoring).
`evaluate_policy` names the pools' policy when it is not the collected one (the cross-policy cell).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from agent.redaction import scrub
from agent.trajectory import Stats
from envs.files import write_atomic
from eval.batch.records import RunRecord, load_records
from eval.experiment.config import ExperimentConfig
from eval.experiment.layout import (
    COMPLETE,
    POOLS,
    SCORES,
    Splits,
    base_critic,
    checkpoint_dir,
    fold_name,
    lookahead_pool,
    phase_dir,
    pool_dir,
    rescore_dir,
    seed_dir,
)
from eval.experiment.render import CONTROLS, TABLE, render_markdown, write_plots
from eval.report.bootstrap import Bootstrap, TaskRuns, auc, interval
from eval.report.run_report import lookahead_stats
from eval.report.selection_stats import RunView, selection_curve
from eval.report.usage import USAGE_KEYS, run_usage, steps_critic_usage, usage_notes

EXPERIMENT_SCHEMA_VERSION = 1
VOLATILE_KEYS = frozenset({"generated_at", "folder", "timing", "wall_time", "seconds"})
"""Keys whose values differ between two runs of the same experiment (times, paths): `stable_view` drops them."""
GAINS = (
    "lookahead_minus_base",
    "select_minus_base",
    "both_minus_best",
    "gap_closed",
    "control_minus_base",
    "random_minus_base",
)


def stable_view(value: Any) -> Any:
    """`value` without VOLATILE_KEYS at any depth (to compare two experiments)."""
    if isinstance(value, dict):
        return {k: stable_view(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [stable_view(v) for v in value]
    return value


# ----------------------------------------------------------------------------- reading the folders


def load_pool(folder: Path, ids: list[str]) -> tuple[list[list[RunRecord]], list[Any]]:
    """Every held-out task's runs (empty when the instance failed) and (trajectory, run) pairs."""
    records = load_records(folder)
    runs = [list(records[i].runs) if i in records else [] for i in ids]
    trajectories = []
    for rec_runs in runs:
        for run in rec_runs:
            if run.trajectory and (folder / run.trajectory).is_file():
                trajectories.append((json.loads((folder / run.trajectory).read_text(encoding="utf-8")), run))
    return runs, trajectories


def run_counts(folder: Path) -> dict[str, Any]:
    """Instances, runs, resolved runs and grade statuses of one run folder."""
    records = load_records(folder)
    runs = [r for rec in records.values() for r in rec.runs]
    return {
        "instances": len(records),
        "instance_errors": sum(rec.status != "ok" for rec in records.values()),
        "runs": len(runs),
        "resolved_runs": sum(r.resolved for r in runs),
        "by_grade_status": dict(sorted(Counter(r.grade_status for r in runs).items())),
    }


def run_cost(traj: dict[str, Any], run: RunRecord) -> dict[str, float]:
    """One run's policy calls (one `sample` per step), samples, tokens (eval.report.usage), USD (the
    policy's and the critic's), critic calls, the critic's tokens and USD apart (`critic_cost_usd`: an LLM
    judge's), wall time; and what its final-Q scoring added (critic calls, tokens and USD)."""
    steps = traj.get("steps", [])
    stats = traj.get("stats", {})
    spent = Stats.model_validate(stats)
    final_critic = spent.critic_usage - steps_critic_usage(traj)
    samples = sum(sum(c.get("count", 1) for c in s.get("candidates") or [{}]) for s in steps)
    step_calls = sum(s.get("critic_calls", 0) for s in steps)
    last = steps[-1] if steps else {}
    cands = last.get("candidates") or []
    recorded = cands[last.get("chosen_index", 0)].get("q") if cands else None
    final_scoring = int(run.final_q is not None and recorded is None)
    return {
        "policy_calls": float(len(steps)),
        "policy_samples": float(samples),
        "policy_tokens": float(spent.usage.tokens),
        **run_usage(traj),
        "critic_calls": float(step_calls + final_scoring),
        "final_scoring_calls": float(final_scoring),
        "critic_cost_usd": float(spent.critic_usage.cost),
        "final_scoring_critic_tokens": float(final_critic.tokens),
        "final_scoring_cost_usd": float(final_critic.cost),
        "wall_time": float(stats.get("wall_time", 0.0)),
    }


def _mean_cost(pairs: list[Any]) -> dict[str, float]:
    costs = [run_cost(t, r) for t, r in pairs]
    keys = (
        "policy_calls",
        "policy_samples",
        "policy_tokens",
        *USAGE_KEYS,
        "critic_calls",
        "final_scoring_calls",
        "critic_cost_usd",
        "final_scoring_critic_tokens",
        "final_scoring_cost_usd",
        "wall_time",
    )
    return {k: statistics.fmean(c[k] for c in costs) if costs else 0.0 for k in keys}


def load_rescored(
    folders: list[Path], runs: list[list[RunRecord]], ids: list[str]
) -> tuple[list[list[RunRecord]], dict]:
    """The base pool's runs with another critic's final Q (select-<critic>/scores.json of each folder:
    one, or one per fold), and that scoring's mean tokens and USD per run."""
    scores: dict[str, Any] = {}
    for path in (folder / SCORES for folder in folders):
        scores.update(json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {})
    out, spent = [], []
    for instance_id, task_runs in zip(ids, runs, strict=True):
        mine = scores.get(instance_id, {})
        row = []
        for r in task_runs:
            entry = mine.get(str(r.index))
            row.append(r.model_copy(update={"final_q": entry["final_q"] if entry else None}))
            if entry:
                spent.append(entry)
        out.append(row)
    mean = {k: statistics.fmean(float(e[k]) for e in spent) if spent else 0.0 for k in ("tokens", "cost")}
    return out, mean


def strategy_costs(per_run: dict[str, dict[str, float]], n: int) -> dict[str, dict[str, float]]:
    """Cost per instance of each strategy from the pools' per-run means (wall time: runs one after another).

    base: one run of the base pool, without the final-Q scoring that only selection needs;
    select@N: N such runs plus N final-Q scorings; lookahead: one run of the lookahead pool;
    both@N: N lookahead runs; lookahead_const: one run of the control pool. Prompt tokens count each
    request once: a lookahead step's K samples share one prompt, while N runs are N prompts per
    step; `prompt_tokens_per_call` is the mean prompt of one step's request.
    """

    def scaled(src: dict[str, float], times: int, drop_final: bool = False) -> dict[str, float]:
        out = {k: v * times for k, v in src.items() if not k.startswith("final_scoring_")}
        if drop_final:
            out["critic_calls"] = (src["critic_calls"] - src["final_scoring_calls"]) * times
            out["critic_tokens"] = (src["critic_tokens"] - src["final_scoring_critic_tokens"]) * times
            out["cost_usd"] = (src["cost_usd"] - src["final_scoring_cost_usd"]) * times
            out["critic_cost_usd"] = (src["critic_cost_usd"] - src["final_scoring_cost_usd"]) * times
        out["runs"] = float(times)
        calls = out["policy_calls"]
        out["prompt_tokens_per_call"] = out["prompt_tokens"] / calls if calls else 0.0
        return out

    return {
        "base": scaled(per_run["base"], 1, drop_final=True),
        "lookahead": scaled(per_run["lookahead"], 1),
        "select": scaled(per_run["base"], n),
        "both": scaled(per_run["lookahead"], n),
        "lookahead_const": scaled(per_run["const"], 1),
    }


def critic_metrics(
    out: Path, seed: int, base_runs: list[list[RunRecord]], bins: int, fold: int | None = None
) -> dict[str, Any]:
    """`critic train`'s held-out metrics, and the final Q of the held-out base runs against resolved."""
    from critic.train.metrics import value_metrics

    path = checkpoint_dir(out, seed, fold) / "metrics.json"
    trained = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    keep = ("epoch", "n", "positives", "auc", "brier", "spearman", "calibration", "train_loss")
    epochs = [{k: e.get(k) for k in keep if k in e} for e in trained.get("epochs", [])]
    scored = [(r.final_q, r.resolved) for runs in base_runs for r in runs if r.final_q is not None]
    heldout: dict[str, Any] = {"n": len(scored)}
    if scored:
        qs, ys = [float(q) for q, _ in scored], [bool(y) for _, y in scored]
        m = value_metrics(qs, ys, qs, [float(y) for y in ys], bins)
        heldout = {k: m[k] for k in ("n", "positives", "auc", "brier", "calibration")}
    return {"train": epochs[-1] if epochs else {}, "epochs": epochs, "heldout": heldout}


# ----------------------------------------------------------------------------- statistics


def _cell(value: float | None, draws: np.ndarray, confidence: float) -> dict[str, Any]:
    lo, hi = interval(draws, confidence)
    return {"value": value, "lo": lo, "hi": hi}


def _derived(v: dict[str, Any]) -> dict[str, Any]:
    """Gains from the cell values (floats, or arrays of draws alike)."""
    gap = v["oracle_select"] - v["base"]
    if isinstance(gap, np.ndarray):
        with np.errstate(invalid="ignore", divide="ignore"):
            closed = np.where(gap > 1e-12, (v["select"] - v["base"]) / np.where(gap > 1e-12, gap, 1), np.nan)
    else:
        closed = (v["select"] - v["base"]) / gap if gap > 1e-12 else None
    return {
        "lookahead_minus_base": v["lookahead"] - v["base"],
        "select_minus_base": v["select"] - v["base"],
        "both_minus_best": v["both"] - np.maximum(v["lookahead"], v["select"]),
        "gap_closed": closed,
        "control_minus_base": v["lookahead_const"] - v["base"],
        "random_minus_base": v["select_random"] - v["base"],
    }


def goals(gains: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The goals of issue 14, judged on the gains and their intervals."""

    def above(cell: dict[str, Any]) -> bool | None:
        return None if cell["lo"] is None else cell["lo"] > 0

    gap = gains["gap_closed"]["value"]
    control = gains["control_minus_base"]
    return {
        "lookahead_beats_base": {
            "met": above(gains["lookahead_minus_base"]),
            "rule": "lookahead > base: the 95% interval of lookahead - base excludes zero",
        },
        "select_beats_base": {
            "met": above(gains["select_minus_base"]),
            "rule": "select > base: the 95% interval of select - base excludes zero",
        },
        "both_at_least_best": {
            "met": bool(gains["both_minus_best"]["value"] >= -1e-12),
            "rule": "both >= max(lookahead, select) (point estimate)",
        },
        "select_closes_half_the_gap": {
            "met": None if gap is None else bool(gap >= 0.5),
            "rule": "select closes at least half of the gap between mean Pass@1 and oracle Pass@N",
        },
        "control_equals_base": {
            "met": None if control["lo"] is None else bool(control["lo"] <= 0 <= control["hi"]),
            "rule": "the constant-critic control equals base: zero lies in the interval of control - base",
        },
    }


def summarize(points: dict[str, float], draws: dict[str, np.ndarray], confidence: float) -> dict[str, Any]:
    """table, controls, gains and goals from point values and bootstrap draws of the cells."""
    cells = {k: _cell(points[k], draws[k], confidence) for k in (*TABLE, *CONTROLS)}
    gain_points, gain_draws = _derived(points), _derived(draws)
    gains = {k: _cell(_float(gain_points[k]), gain_draws[k], confidence) for k in GAINS}
    return {
        "table": {k: cells[k] for k in TABLE},
        "controls": {k: cells[k] for k in CONTROLS},
        "gains": gains,
        "goals": goals(gains),
    }


def _float(x: Any) -> float | None:
    return None if x is None else float(x)


def _at(curve: list[dict[str, Any]], n: int, key: str) -> float:
    return curve[min(n, len(curve)) - 1][key] if curve else 0.0


Pools = dict[str, tuple[list[list[RunRecord]], list[Any]]]
"""Each pool's runs per held-out task, and its (trajectory, run) pairs (load_pool)."""


def load_folds(out: Path, seed: int, pool: str, parts: list[tuple[int | None, list[str]]]) -> Any:
    """load_pool of `pool` over (fold, its held-out ids) parts, concatenated (in the parts' order)."""
    runs: list[list[RunRecord]] = []
    pairs: list[Any] = []
    for fold, ids in parts:
        r, t = load_pool(pool_dir(out, seed, pool, fold), ids)
        runs.extend(r)
        pairs.extend(t)
    return runs, pairs


def critic_rows(
    out: Path, seed: int, config: ExperimentConfig, splits: Splits
) -> tuple[dict[str, Any], dict[str, dict[str, float]], dict[str, dict[str, np.ndarray]]]:
    """One row per critic of `critics`: its table, gains and cost (the base and control pools shared;
    its own lookahead pool; the base pool's runs under its own final Q), with the rows' points and draws.
    With folds each row is the folds pooled (each fold's own pools and rescoring, in fold_order).
    Every row draws the same bootstrap resamples (a fresh Bootstrap of the report's seed each)."""
    base, r = base_critic(config.critics), config.report
    parts: list[tuple[int | None, list[str]]] = [(i, f.heldout) for i, f in enumerate(splits.folds)]
    parts = parts or [(None, splits.heldout)]
    ids = [i for _, held in parts for i in held]
    shared = load_folds(out, seed, "base", parts)
    const = load_folds(out, seed, "const", parts)
    rows, points, draws = {}, {}, {}
    for critic in config.critics:
        pools = {
            "base": shared,
            "lookahead": load_folds(out, seed, lookahead_pool(critic, config.critics), parts),
            "const": const,
        }
        scoring = None
        if critic != base:
            folders = [rescore_dir(out, seed, critic, fold) for fold, _ in parts]
            runs, scoring = load_rescored(folders, shared[0], ids)
            pools["base"] = (runs, shared[1])
        if splits.folds:
            boot = fold_bootstrap(config, ids, splits)
        else:
            boot = Bootstrap(len(ids), r.bootstrap_samples, r.seed)
        res, points[critic], draws[critic], _ = pool_results(pools, config, boot)
        cost = res["cost"]
        if scoring is not None:  # select@N scores the N base runs with this critic, not the base's
            base_run, select, n = cost["per_run"]["base"], cost["per_instance"]["select"], config.evaluate.n
            select["critic_tokens"] += (scoring["tokens"] - base_run["final_scoring_critic_tokens"]) * n
            extra_usd = (scoring["cost"] - base_run["final_scoring_cost_usd"]) * n
            select["critic_cost_usd"] += extra_usd
            select["cost_usd"] += extra_usd
        rows[critic] = {k: res[k] for k in ("table", "gains", "goals")} | {"cost": cost["per_instance"]}
    return rows, points, draws


def seed_results(
    out: Path, seed: int, config: ExperimentConfig, splits: Splits, boot: Bootstrap
) -> tuple[dict[str, Any], dict[str, float], dict[str, np.ndarray], dict[str, Any]]:
    """One seed: (its results, cell point values, cell bootstrap draws, plot series)."""
    if splits.folds:
        return fold_results(out, seed, config, splits, boot)
    pools = {p: load_pool(pool_dir(out, seed, p), splits.heldout) for p in POOLS}
    result, points, draws, series = pool_results(pools, config, boot)
    result["critic"] = critic_metrics(out, seed, pools["base"][0], config.critic.calibration_bins)
    folders = {"collect": phase_dir(out, seed, "collect"), **{p: pool_dir(out, seed, p) for p in POOLS}}
    result["runs"] = {name: run_counts(folder) for name, folder in folders.items() if folder.is_dir()}
    return result, points, draws, series


def pool_results(
    pools: Pools, config: ExperimentConfig, boot: Bootstrap
) -> tuple[dict[str, Any], dict[str, float], dict[str, np.ndarray], dict[str, Any]]:
    """The table, gains, goals, curve, cost and Q of three pools (base, lookahead, const) over the same
    tasks (in `boot`'s order)."""
    n = config.evaluate.n
    views = {p: [[RunView.of(r) for r in runs] for runs in pools[p][0]] for p in POOLS}
    curves = {
        "base": selection_curve(views["base"], "final_q"),
        "base_random": selection_curve(views["base"], "random"),
        "lookahead": selection_curve(views["lookahead"], "final_q"),
        "const": selection_curve(views["const"], "final_q"),
    }
    points = {
        "base": _at(curves["base"], n, "mean"),
        "lookahead": _at(curves["lookahead"], n, "mean"),
        "select": _at(curves["base"], n, "selected"),
        "both": _at(curves["lookahead"], n, "selected"),
        "lookahead_const": _at(curves["const"], n, "mean"),
        "select_random": _at(curves["base_random"], n, "selected"),
        "oracle_select": _at(curves["base"], n, "oracle"),
        "oracle_both": _at(curves["lookahead"], n, "oracle"),
    }
    base = boot.resample([TaskRuns.of(v, "final_q") for v in views["base"]], n)
    base_random = boot.resample([TaskRuns.of(v, "random") for v in views["base"]], n)
    look = boot.resample([TaskRuns.of(v, "final_q") for v in views["lookahead"]], n)
    const = boot.resample([TaskRuns.of(v, "final_q") for v in views["const"]], n)
    draws = {
        "base": base["mean"],
        "lookahead": look["mean"],
        "select": base["select"],
        "both": look["select"],
        "lookahead_const": const["mean"],
        "select_random": base_random["random"],
        "oracle_select": base["oracle"],
        "oracle_both": look["oracle"],
    }
    curve = [
        {
            "n": c["n"],
            "critic": c["selected"],
            "random": r["selected"],
            "oracle": c["oracle"],
            "mean": c["mean"],
            "both": _at(curves["lookahead"], c["n"], "selected"),
            "both_oracle": _at(curves["lookahead"], c["n"], "oracle"),
        }
        for c, r in zip(curves["base"], curves["base_random"], strict=True)
    ]
    look_q = lookahead_stats([(t, r.resolved) for t, r in pools["lookahead"][1]]) or {}
    series = look_q.pop("_series", None)
    look_q.pop("_values", None)
    per_run = {p: _mean_cost(pools[p][1]) for p in POOLS}
    result = {
        **summarize(points, draws, config.report.confidence),
        "curve": curve,
        "cost": {
            "per_run": per_run,
            "per_instance": strategy_costs(per_run, n),
            "notes": usage_notes(t for p in POOLS for t, _ in pools[p][1]),
        },
        "q_by_step": look_q or None,
    }
    return result, points, draws, {"q_series": series, "curve": curve}


# ----------------------------------------------------------------------------- folds


FOLD_FIGURES = ("auc", "select_minus_base", "lookahead_minus_base", "gap_closed")
"""The figures of each fold's row, and of the worst fold (the lowest of each)."""


def fold_bootstrap(config: ExperimentConfig, ids: list[str], splits: Splits) -> Bootstrap:
    """Draws over the groups (libraries) of `ids`, then their tasks, then each task's runs."""
    r = config.report
    return Bootstrap(len(ids), r.bootstrap_samples, r.seed, groups=[splits.group_of[i] for i in ids])


def heldout_auc(base_runs: list[list[RunRecord]], boot: Bootstrap, confidence: float) -> dict[str, Any]:
    """The AUC of the base runs' final Q against resolved, with its interval over `boot`'s draws."""
    scored = [
        [(float(r.final_q), bool(r.resolved)) for r in runs if r.final_q is not None] for runs in base_runs
    ]
    flat = [p for task in scored for p in task]
    value = auc([q for q, _ in flat], [y for _, y in flat])
    cell = _cell(None if np.isnan(value) else value, boot.auc(scored), confidence)
    return {**cell, "auc": cell["value"], "n": len(flat), "positives": sum(y for _, y in flat)}


def fold_order(splits: Splits) -> list[str]:
    """Every held-out task, fold by fold: the order of the pooled result's tasks and draws."""
    return [i for f in splits.folds for i in f.heldout]


def fold_results(
    out: Path, seed: int, config: ExperimentConfig, splits: Splits, boot: Bootstrap
) -> tuple[dict[str, Any], dict[str, float], dict[str, np.ndarray], dict[str, Any]]:
    """A cross-validated seed: each fold on its own tasks, and the folds pooled (in fold_order)."""
    conf, bins = config.report.confidence, config.critic.calibration_bins
    pooled: Pools = {p: ([], []) for p in POOLS}
    folds: dict[str, Any] = {}
    collect = phase_dir(out, seed, "collect")
    runs = {"collect": run_counts(collect)} if collect.is_dir() else {}  # none with judges only
    for i, fold in enumerate(splits.folds):
        pools = {p: load_pool(pool_dir(out, seed, p, i), fold.heldout) for p in POOLS}
        for p in POOLS:
            pooled[p][0].extend(pools[p][0])
            pooled[p][1].extend(pools[p][1])
        fold_boot = fold_bootstrap(config, fold.heldout, splits)
        res, _, _, _ = pool_results(pools, config, fold_boot)
        critic = critic_metrics(out, seed, pools["base"][0], bins, i)
        critic["heldout"]["interval"] = heldout_auc(pools["base"][0], fold_boot, conf)
        folds[fold_name(i)] = {
            "groups": fold.groups,
            "heldout": fold.heldout,
            "train_tasks": len(fold.train),
            **{k: res[k] for k in ("table", "controls", "gains", "goals")},
            "critic": {"train": critic["train"], "heldout": critic["heldout"]},
        }
        runs.update({f"{fold_name(i)}/{p}": run_counts(pool_dir(out, seed, p, i)) for p in POOLS})
    result, points, draws, series = pool_results(pooled, config, boot)
    result["critic"] = {"train": {}, "epochs": [], "heldout": heldout_auc(pooled["base"][0], boot, conf)}
    result["folds"] = folds
    result["worst"] = worst_fold(folds)
    result["fold_goals"] = fold_goals(result, cross_policy=config.evaluate.cross_policy)
    result["runs"] = runs
    return result, points, draws, series


def fold_goals(result: dict[str, Any], cross_policy: bool) -> dict[str, dict[str, Any]]:
    """The goals of issue 29, judged on a cross-validated seed (null: undefined)."""
    auc = result["worst"]["auc"]["value"]
    gaps = [f["gains"]["gap_closed"]["value"] for f in result["folds"].values()]
    select = result["gains"]["select_minus_base"]
    goals = {
        "worst_fold_auc": {
            "met": None if auc is None else bool(auc >= 0.85),
            "rule": "the worst fold's held-out AUC of the final Q is at least 0.85",
        },
        "select_beats_base_pooled": {
            "met": None if select["lo"] is None else bool(select["lo"] > 0),
            "rule": "select > base with the folds pooled: the interval of select - base excludes zero",
        },
        "select_closes_half_in_every_fold": {
            "met": None if any(g is None for g in gaps) else all(g >= 0.5 for g in gaps),
            "rule": "select closes at least half of the oracle gap in every fold",
        },
    }
    if cross_policy:
        goals["cross_policy_select_above_base"] = {
            "met": None if select["value"] is None else bool(select["value"] > 0),
            "rule": "evaluated with another policy than collected: select above base (point estimate)",
        }
    return goals


def fold_figure(fold: dict[str, Any], figure: str) -> dict[str, Any]:
    """One figure of a fold's (or the pooled) result as a cell `{value, lo, hi}`."""
    if figure == "auc":
        return fold["critic"]["heldout"]["interval"]
    return fold["gains"][figure]


def worst_fold(folds: dict[str, Any]) -> dict[str, Any]:
    """For each FOLD_FIGURE, the fold with the lowest value (undefined values skipped) and its cell."""
    worst: dict[str, Any] = {}
    for figure in FOLD_FIGURES:
        defined = [(name, fold_figure(f, figure)) for name, f in folds.items()]
        defined = [(name, cell) for name, cell in defined if cell["value"] is not None]
        if defined:
            name, cell = min(defined, key=lambda x: x[1]["value"])
            worst[figure] = {"fold": name, **cell}
        else:
            worst[figure] = {"fold": None, "value": None, "lo": None, "hi": None}
    return worst


def _timing(out: Path, seed: int) -> dict[str, Any]:
    """Seconds of every finished phase and pool folder of a seed, by its path under seed-S/."""
    root = seed_dir(out, seed)
    times = {}
    for marker in sorted(root.rglob(COMPLETE)) if root.is_dir() else []:
        times[marker.parent.relative_to(root).as_posix()] = json.loads(
            marker.read_text(encoding="utf-8")
        ).get("seconds")
    return times


def build_experiment_report(
    out: Path, config: ExperimentConfig, splits: Splits
) -> tuple[dict[str, Any], dict[str, Any]]:
    """experiment.json's content (see the module docstring), and the series the plots need."""
    out = Path(out)
    e, r = config.evaluate, config.report
    if splits.folds:
        boot = fold_bootstrap(config, fold_order(splits), splits)
    else:
        boot = Bootstrap(len(splits.heldout), r.bootstrap_samples, r.seed)
    results: dict[str, Any] = {}
    plot_data: dict[str, Any] = {}
    all_points, all_draws = [], []
    row_points: dict[str, list] = {c: [] for c in config.critics}
    row_draws: dict[str, list] = {c: [] for c in config.critics}
    for seed in config.seeds:
        res, points, draws, series = seed_results(out, seed, config, splits, boot)
        res["critics"], c_points, c_draws = critic_rows(out, seed, config, splits)
        results[str(seed)] = res
        plot_data[str(seed)] = series
        all_points.append(points)
        all_draws.append(draws)
        for c in config.critics:
            row_points[c].append(c_points[c])
            row_draws[c].append(c_draws[c])
    if len(config.seeds) > 1:
        points, draws = _pool_seeds(all_points, all_draws)
        results["pooled"] = summarize(points, draws, r.confidence)
        results["pooled"]["critics"] = {
            c: summarize(*_pool_seeds(row_points[c], row_draws[c]), r.confidence) for c in config.critics
        }
    report = {
        "schema_version": EXPERIMENT_SCHEMA_VERSION,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "folder": str(out),
        "policy": config.run.model,
        "evaluate_policy": _evaluate_policy(config),
        "seeds": list(config.seeds),
        "splits": splits.as_dict(),
        "settings": {
            "m": config.collect.m,
            "collect_temperature": config.collect.temperature,
            "repeats": e.repeats,
            "k": e.k,
            "n": e.n,
            "temperature": e.temperature,
            "constant": e.constant,
            "bootstrap_samples": r.bootstrap_samples,
            "confidence": r.confidence,
            "bootstrap_seed": r.seed,
        },
        "results": results,
        "config": config.public_dict(),
        "timing": {str(s): _timing(out, s) for s in config.seeds},
    }
    return report, plot_data


def _pool_seeds(points: list[dict[str, float]], draws: list[dict[str, np.ndarray]]) -> tuple[dict, dict]:
    """The mean over seeds of the cells' points and of their bootstrap draws (shared draws)."""
    pooled = {k: float(np.mean([p[k] for p in points])) for k in points[0]}
    return pooled, {k: np.mean([d[k] for d in draws], axis=0) for k in draws[0]}


def _evaluate_policy(config: ExperimentConfig) -> dict[str, Any] | None:
    """The pools' policy when it is not the collected one: {model, policy knobs}."""
    e = config.evaluate
    if not e.cross_policy:
        return None
    return {"model": e.model or config.run.model, "policy": {**config.run.policy, **(e.policy or {})}}


def write_experiment_report(out: Path, config: ExperimentConfig, splits: Splits) -> Path:
    """Write experiment.json, experiment.md and plots/; return the experiment.md path."""
    out = Path(out)
    report, plot_data = build_experiment_report(out, config, splits)
    report = scrub(report)  # critic specs (judge:MODEL@URL) name its rows
    report["plots"] = write_plots(out / "plots", report, plot_data)
    write_atomic(out / "experiment.json", json.dumps(report, indent=1, default=str))
    md = out / "experiment.md"
    write_atomic(md, render_markdown(report))
    return md
