"""The experiment's report: experiment.json, experiment.md and plots/ in the experiment folder.

Read from the phase folders of every seed (eval.experiment): the pools' finished instances
(instances/*/done.json), their trajectories, and the critic's metrics.json. experiment.json
(`schema_version` 1):
- `splits`, `seeds`, `policy`, `settings` (M, T, R, K, N, ...), `config` (the effective config);
- `results[<seed>]` for every seed run, and `results["pooled"]` (the mean over seeds, bootstrap
  draws shared) when there are several. Each holds:
  - `table`: base | lookahead | select | both, each `{value, lo, hi}` (95% bootstrap interval over
    tasks and repeats, eval.bootstrap);
  - `controls`: lookahead with the constant critic, select with the random rule, oracle@N of each pool;
  - `gains`: lookahead - base, select - base, both - max(lookahead, select), the share of the
    mean -> oracle gap that select closes, control - base, random - base;
  - `goals`: each goal of issue 14, `met` true/false (null: undefined), with its rule;
  - per seed only: `curve` (Pass@1 vs n for select: critic, random rule, oracle; and both),
    `critic` (`train`: held-out metrics of `critic train`; `heldout`: AUC/Brier of the base pool's
    final Q against resolved on the held-out split), `cost` (per instance, by strategy),
    `q_by_step` (eval.report.lookahead_stats of the lookahead pool), `runs` (counts per folder);
- `timing`: wall seconds of each phase (varies between runs; see VOLATILE_KEYS).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from eval.bootstrap import Bootstrap, TaskRuns, interval
from eval.experiment import COMPLETE, POOLS, Splits, checkpoint_dir, phase_dir, pool_dir
from eval.experiment_config import ExperimentConfig
from eval.report import RunView, _table, lookahead_stats, selection_curve
from eval.runner import RunRecord, load_records, write_atomic

EXPERIMENT_SCHEMA_VERSION = 1
VOLATILE_KEYS = frozenset({"generated_at", "folder", "timing", "wall_time", "seconds"})
"""Keys whose values differ between two runs of the same experiment (times, paths): `stable_view` drops them."""
TABLE = ("base", "lookahead", "select", "both")
CONTROLS = ("lookahead_const", "select_random", "oracle_select", "oracle_both")
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
    """One run's policy calls (one `sample` per step), samples, tokens, USD, critic calls, wall time."""
    steps = traj.get("steps", [])
    stats = traj.get("stats", {})
    samples = sum(sum(c.get("count", 1) for c in s.get("candidates") or [{}]) for s in steps)
    step_calls = sum(s.get("critic_calls", 0) for s in steps)
    last = steps[-1] if steps else {}
    cands = last.get("candidates") or []
    recorded = cands[last.get("chosen_index", 0)].get("q") if cands else None
    final_scoring = int(run.final_q is not None and recorded is None)
    return {
        "policy_calls": float(len(steps)),
        "policy_samples": float(samples),
        "policy_tokens": float(stats.get("prompt_tokens", 0) + stats.get("completion_tokens", 0)),
        "cost_usd": float(stats.get("cost", 0.0)),
        "critic_calls": float(step_calls + final_scoring),
        "final_scoring_calls": float(final_scoring),
        "wall_time": float(stats.get("wall_time", 0.0)),
    }


def _mean_cost(pairs: list[Any]) -> dict[str, float]:
    costs = [run_cost(t, r) for t, r in pairs]
    keys = (
        "policy_calls",
        "policy_samples",
        "policy_tokens",
        "cost_usd",
        "critic_calls",
        "final_scoring_calls",
        "wall_time",
    )
    return {k: statistics.fmean(c[k] for c in costs) if costs else 0.0 for k in keys}


def strategy_costs(per_run: dict[str, dict[str, float]], n: int) -> dict[str, dict[str, float]]:
    """Cost per instance of each strategy from the pools' per-run means (wall time: runs one after another).

    base: one run of the base pool, without the final-Q scoring that only selection needs;
    select@N: N such runs plus N final-Q scorings; lookahead: one run of the lookahead pool;
    both@N: N lookahead runs; lookahead_const: one run of the control pool.
    """

    def scaled(src: dict[str, float], times: int, drop_final: bool = False) -> dict[str, float]:
        out = {k: v * times for k, v in src.items() if k != "final_scoring_calls"}
        if drop_final:
            out["critic_calls"] = (src["critic_calls"] - src["final_scoring_calls"]) * times
        out["runs"] = float(times)
        return out

    return {
        "base": scaled(per_run["base"], 1, drop_final=True),
        "lookahead": scaled(per_run["lookahead"], 1),
        "select": scaled(per_run["base"], n),
        "both": scaled(per_run["lookahead"], n),
        "lookahead_const": scaled(per_run["const"], 1),
    }


def critic_metrics(out: Path, seed: int, base_runs: list[list[RunRecord]], bins: int) -> dict[str, Any]:
    """`critic train`'s held-out metrics, and the final Q of the held-out base runs against resolved."""
    from critic.metrics import value_metrics

    path = checkpoint_dir(out, seed) / "metrics.json"
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


def seed_results(
    out: Path, seed: int, config: ExperimentConfig, splits: Splits, boot: Bootstrap
) -> tuple[dict[str, Any], dict[str, float], dict[str, np.ndarray], dict[str, Any]]:
    """One seed: (its results, cell point values, cell bootstrap draws, plot series)."""
    n, ids = config.evaluate.n, splits.heldout
    pools = {p: load_pool(pool_dir(out, seed, p), ids) for p in POOLS}
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
    folders = {"collect": phase_dir(out, seed, "collect"), **{p: pool_dir(out, seed, p) for p in POOLS}}
    result = {
        **summarize(points, draws, config.report.confidence),
        "curve": curve,
        "critic": critic_metrics(out, seed, pools["base"][0], config.critic.calibration_bins),
        "cost": {"per_run": per_run, "per_instance": strategy_costs(per_run, n)},
        "q_by_step": look_q or None,
        "runs": {name: run_counts(folder) for name, folder in folders.items()},
    }
    return result, points, draws, {"q_series": series, "curve": curve}


def _timing(out: Path, seed: int) -> dict[str, Any]:
    times = {}
    for name, folder in [(p, phase_dir(out, seed, p)) for p in ("collect", "train", "evaluate")] + [
        (f"evaluate/{p}", pool_dir(out, seed, p)) for p in POOLS
    ]:
        marker = folder / COMPLETE
        if marker.is_file():
            times[name] = json.loads(marker.read_text(encoding="utf-8")).get("seconds")
    return times


def build_experiment_report(
    out: Path, config: ExperimentConfig, splits: Splits
) -> tuple[dict[str, Any], dict[str, Any]]:
    """experiment.json's content (see the module docstring), and the series the plots need."""
    out = Path(out)
    e, r = config.evaluate, config.report
    boot = Bootstrap(len(splits.heldout), r.bootstrap_samples, r.seed)
    results: dict[str, Any] = {}
    plot_data: dict[str, Any] = {}
    all_points, all_draws = [], []
    for seed in config.seeds:
        res, points, draws, series = seed_results(out, seed, config, splits, boot)
        results[str(seed)] = res
        plot_data[str(seed)] = series
        all_points.append(points)
        all_draws.append(draws)
    if len(config.seeds) > 1:
        points = {k: float(np.mean([p[k] for p in all_points])) for k in all_points[0]}
        draws = {k: np.mean([d[k] for d in all_draws], axis=0) for k in all_draws[0]}
        results["pooled"] = summarize(points, draws, r.confidence)
    report = {
        "schema_version": EXPERIMENT_SCHEMA_VERSION,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "folder": str(out),
        "policy": config.run.model,
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


def write_experiment_report(out: Path, config: ExperimentConfig, splits: Splits) -> Path:
    """Write experiment.json, experiment.md and plots/; return the experiment.md path."""
    out = Path(out)
    report, plot_data = build_experiment_report(out, config, splits)
    report["plots"] = write_plots(out / "plots", report, plot_data)
    write_atomic(out / "experiment.json", json.dumps(report, indent=1, default=str))
    md = out / "experiment.md"
    write_atomic(md, render_markdown(report))
    return md


# ----------------------------------------------------------------------------- rendering


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"


def fmt_cell(cell: dict[str, Any], signed: bool = False) -> str:
    """'41.7 [35.0, 48.3]' (percent, with the interval)."""
    if cell["value"] is None:
        return "n/a"
    return f"{_pct(cell['value'], signed)} [{_pct(cell['lo'], signed)}, {_pct(cell['hi'], signed)}]"


def _rows(report: dict[str, Any]) -> list[str]:
    """Result keys in order: every seed, then pooled."""
    return [k for k in report["results"] if k != "pooled"] + (
        ["pooled"] if "pooled" in report["results"] else []
    )


def table_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    """(policy, seed, base, lookahead, select, both) rows, the paper's table (printed by the command)."""
    return [
        (report["policy"], key, *(fmt_cell(report["results"][key]["table"][c]) for c in TABLE))
        for key in _rows(report)
    ]


def table_header(report: dict[str, Any]) -> list[str]:
    s = report["settings"]
    return [
        "policy",
        "seed",
        f"base (mean of {s['repeats']})",
        f"lookahead (K={s['k']})",
        f"select (N={s['n']})",
        f"both (K={s['k']}, N={s['n']})",
    ]


def render_markdown(report: dict[str, Any]) -> str:
    """experiment.md: the table, controls, gains, goals, selection curve, critic, cost, Q, runs, plots."""
    s, sp = report["settings"], report["splits"]
    conf = f"{100 * s['confidence']:.0f}%"
    lines = [
        "# swe-search experiment",
        "",
        f"Policy `{report['policy']}`; seeds {report['seeds']}; train: {len(sp['train'])} task(s) of "
        f"`{sp['train_dataset']}` x M={s['m']} rollouts at T={s['collect_temperature']}; held-out: "
        f"{len(sp['heldout'])} task(s) of `{sp['eval_dataset']}`, R={s['repeats']} runs per task and pool at "
        f"T={s['temperature']}. Pass@1 in %, with {conf} bootstrap intervals over tasks and repeats "
        f"({s['bootstrap_samples']} resamples, seed {s['bootstrap_seed']}). Generated {report['generated_at']}.",
        "",
        "## Pass@1 on the held-out split",
        "",
        *_table(table_header(report), table_rows(report)),
        "",
        "## Controls",
        "",
        "The constant critic (lookahead with Q = const, ties to the first sample) must equal base; select "
        "with the random rule shows what selection gets without a critic; oracle@N is the best it can get.",
        "",
    ]
    rows = [
        (key, *(fmt_cell(report["results"][key]["controls"][c]) for c in CONTROLS)) for key in _rows(report)
    ]
    lines += _table(
        [
            "seed",
            f"lookahead, const:{s['constant']}",
            f"select random (N={s['n']})",
            f"oracle@{s['n']} (single runs)",
            f"oracle@{s['n']} (lookahead runs)",
        ],
        rows,
    )
    lines += ["", "## Gains", ""]
    rows = []
    for key in _rows(report):
        g = report["results"][key]["gains"]
        gap = g["gap_closed"]
        rows.append(
            (
                key,
                *(
                    fmt_cell(g[c], signed=True)
                    for c in (
                        "lookahead_minus_base",
                        "select_minus_base",
                        "both_minus_best",
                        "control_minus_base",
                    )
                ),
                "n/a" if gap["value"] is None else fmt_cell(gap),
            )
        )
    lines += _table(
        [
            "seed",
            "lookahead - base",
            "select - base",
            "both - max(lookahead, select)",
            "control - base",
            "oracle gap closed by select (%)",
        ],
        rows,
    )
    lines += ["", "## Goals (issue 14)", ""]
    goal_keys = list(report["results"][_rows(report)[0]]["goals"])
    rows = [
        (
            report["results"][_rows(report)[0]]["goals"][g]["rule"],
            *(_yes(report["results"][k]["goals"][g]["met"]) for k in _rows(report)),
        )
        for g in goal_keys
    ]
    lines += _table(["goal", *[f"seed {k}" if k != "pooled" else "pooled" for k in _rows(report)]], rows)
    for seed in [k for k in _rows(report) if k != "pooled"]:
        res = report["results"][seed]
        lines += ["", f"## Seed {seed}", "", "### Selection: Pass@1 against N", ""]
        rows = [
            (
                c["n"],
                _pct(c["critic"]),
                _pct(c["random"]),
                _pct(c["oracle"]),
                _pct(c["mean"]),
                _pct(c["both"]),
            )
            for c in res["curve"]
        ]
        lines += _table(["N", "critic", "random rule", "oracle", "mean single run", "both (critic)"], rows)
        crit = res["critic"]
        lines += ["", "### Critic", ""]
        rows = [
            ("train split, held-out instances (critic train)", *_metric_cells(crit["train"])),
            ("held-out split, base runs' final Q", *_metric_cells(crit["heldout"])),
        ]
        lines += _table(["data", "n", "positives", "AUC", "Brier"], rows)
        cal = crit["heldout"].get("calibration") or []
        if cal:
            lines += ["", "Calibration of the final Q on the held-out split:", ""]
            lines += _table(
                ["bin", "count", "mean Q", "resolved"],
                [
                    (
                        f"[{b['lo']:.1f}, {b['hi']:.1f})",
                        b["count"],
                        f"{b['mean_value']:.3f}",
                        f"{b['success_rate']:.3f}",
                    )
                    for b in cal
                ],
            )
        lines += ["", "### Cost per instance", ""]
        rows = [
            (
                name,
                f"{c['runs']:.0f}",
                f"{c['policy_calls']:.1f}",
                f"{c['policy_samples']:.1f}",
                f"{c['policy_tokens']:.0f}",
                f"${c['cost_usd']:.4f}",
                f"{c['critic_calls']:.1f}",
                f"{c['wall_time']:.1f}s",
            )
            for name, c in res["cost"]["per_instance"].items()
        ]
        lines += _table(
            [
                "strategy",
                "runs",
                "policy calls",
                "samples",
                "tokens",
                "cost",
                "critic calls",
                "wall time (runs in sequence)",
            ],
            rows,
        )
        q = res["q_by_step"]
        lines += ["", "### Q along the steps (lookahead runs)", ""]
        if q:
            by = q["q_by_step"]
            steps = max((len(v) for v in by.values()), default=0)

            lines += _table(
                ["step", "resolved: mean Q (runs)", "unresolved: mean Q (runs)"],
                [(t, _q_cell(by, "resolved", t), _q_cell(by, "unresolved", t)) for t in range(steps)],
            )
            drift = q["q_drift"]
            lines += [
                "",
                "Drift of the chosen Q from the first to the last step: resolved "
                f"{_signed(drift['resolved'])}, unresolved {_signed(drift['unresolved'])} (value hacking "
                "shows as unresolved runs climbing like resolved ones).",
            ]
        else:
            lines += ["No candidate carried a Q (no step had two distinct valid candidates)."]
        lines += ["", "### Runs", ""]
        rows = [
            (
                name,
                c["instances"],
                c["instance_errors"],
                c["runs"],
                c["resolved_runs"],
                ", ".join(f"{k} {v}" for k, v in c["by_grade_status"].items()),
            )
            for name, c in res["runs"].items()
        ]
        lines += _table(["folder", "instances", "errors", "runs", "resolved runs", "grades"], rows)
    if report.get("plots"):
        lines += ["", "## Plots", "", *[f"![{Path(p).stem}]({p})" for p in report["plots"]]]
    return "\n".join(lines) + "\n"


def _metric_cells(m: dict[str, Any]) -> tuple[str, ...]:
    def f(x: Any) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    return (str(m.get("n", 0)), str(m.get("positives", "n/a")), f(m.get("auc")), f(m.get("brier")))


def _q_cell(by_step: dict[str, list[dict[str, Any]]], group: str, t: int) -> str:
    rows = by_step.get(group) or []
    return f"{rows[t]['mean']:.3f} ({rows[t]['count']})" if t < len(rows) else ""


def _yes(met: bool | None) -> str:
    return "n/a" if met is None else ("yes" if met else "no")


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f}"


def write_plots(folder: Path, report: dict[str, Any], plot_data: dict[str, Any]) -> list[str]:
    """PNG plots (matplotlib, Agg): the table with intervals, Pass@1 vs N, Q along the steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    folder.mkdir(parents=True, exist_ok=True)
    made: list[str] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)
        made.append(f"plots/{name}")

    keys = _rows(report)
    cols = [*TABLE, "lookahead_const", "select_random", "oracle_select"]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        res = report["results"][key]
        cells = [{**res["table"], **res["controls"]}[c] for c in cols]
        vals = [100 * (c["value"] or 0) for c in cells]
        err = [
            [
                100 * max(0.0, (c["value"] or 0) - (c["lo"] if c["lo"] is not None else c["value"] or 0))
                for c in cells
            ],
            [
                100 * max(0.0, (c["hi"] if c["hi"] is not None else c["value"] or 0) - (c["value"] or 0))
                for c in cells
            ],
        ]
        xs = [i + j * width for i in range(len(cols))]
        ax.bar(xs, vals, width, yerr=err, capsize=3, label=f"seed {key}" if key != "pooled" else "pooled")
    ax.set_xticks([i + width * (len(keys) - 1) / 2 for i in range(len(cols))])
    ax.set_xticklabels(["base", "lookahead", "select", "both", "const critic", "random sel.", "oracle"])
    ax.set_ylabel("Pass@1 (%)")
    ax.set_title(f"Held-out Pass@1, {100 * report['settings']['confidence']:.0f}% intervals")
    ax.legend()
    save(fig, "pass_at_1.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    styles = {"critic": "tab:blue", "random": "tab:orange", "oracle": "tab:green", "both": "tab:purple"}
    for seed, data in plot_data.items():
        curve = data["curve"]
        for key, color in styles.items():
            label = (
                {
                    "critic": "select (critic)",
                    "random": "select (random rule)",
                    "oracle": "oracle",
                    "both": "both (critic)",
                }[key]
                if seed == next(iter(plot_data))
                else None
            )
            ax.plot(
                [c["n"] for c in curve],
                [100 * c[key] for c in curve],
                marker="o",
                color=color,
                alpha=0.8,
                label=label,
            )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-2, 102)
    ax.set_xlabel("N (runs to choose from)")
    ax.set_ylabel("Pass@1 (%)")
    ax.set_title("Pass@1 against N (one line per seed)")
    ax.legend()
    save(fig, "selection_curve.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = False
    for seed, data in plot_data.items():
        series = data["q_series"] or {}
        for group, color in (("resolved", "tab:green"), ("unresolved", "tab:red")):
            for s in series.get(group, []):
                ax.plot(range(len(s)), s, color=color, alpha=0.2, linewidth=0.8)
                drawn = True
            means = ((report["results"][seed]["q_by_step"] or {}).get("q_by_step") or {}).get(group, [])
            if means:
                ax.plot(
                    [m["step"] for m in means],
                    [m["mean"] for m in means],
                    color=color,
                    linewidth=2,
                    label=f"{group} (seed {seed})",
                )
    ax.set_xlabel("step")
    ax.set_ylabel("chosen Q")
    ax.set_title("Q along the steps of lookahead runs")
    if drawn:
        ax.legend()
    save(fig, "q_by_step.png")
    return made
