"""Reports of a run folder: Pass@1, counts, selection and lookahead statistics, plots.

report.json (schema_version 1) holds:
- `totals`: `finished` instances (a done.json), of which `attempted` (status ok or timeout: the
  model's attempt happened) and `infra_errors` (status error: it failed for reasons that are not
  the model's, e.g. a model server down or a container killed; redone on resume); `resolved`;
  `pass_at_1` = resolved / attempted (timeouts count as unresolved unless their patch resolves;
  infra errors are not counted at all); cost and time.
- `usage`: what the runs' requests consumed, from their trajectories (eval.report.usage):
  `total` and `per_instance` (over finished instances) prompt tokens (each request's prompt once),
  of those cached, completion tokens, critic tokens and USD; `runs`; `notes` on older trajectories.
- `by_exit_status`, `by_grade_status`: counts over the chosen runs of attempted instances;
  `by_instance_status` over every finished instance; `by_error_kind` over infra errors.
- `selection` (select strategies, else null): `mean_single_run_pass_at_1` (mean over instances of the
  share of its runs that resolve), `oracle_pass_at_n` (any run resolves), `selected_pass_at_1` (the
  critic's choice resolves), `gap_closed` = (selected - mean) / (oracle - mean) (null when oracle ==
  mean), and `curve`: for n = 1..N the expected Pass@1 of selection, of the oracle and of a random run
  over the size-n subsets of each instance's runs (eval.report.selection_stats says how subsets are drawn
  and how selection inside one follows search.select's ranking).
- `lookahead` (when any candidate has a Q, else null): the distribution of the chosen and the
  rejected candidates' Q, their mean margin, the mean chosen Q by step for resolved and unresolved
  runs, and the mean drift (last chosen Q - first) of each group: if unresolved runs' Q climbs like
  resolved runs' does, the critic is value-hacking.
- `instances`: one row per finished instance.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agent.redaction import scrub, scrub_text
from envs.files import write_atomic
from eval.batch.records import (
    InstanceRecord,
    RunRecord,
    load_trajectory,
    read_config,
    read_records,
    read_run_id,
)
from eval.report.markdown import table
from eval.report.plots import Plots, q_by_step
from eval.report.selection_stats import RunView, selection_metrics
from eval.report.usage import USAGE_HEADER, USAGE_KEYS, run_usage, usage_cells, usage_notes

REPORT_SCHEMA_VERSION = 1


# ----------------------------------------------------------------------------- lookahead Q


def _dist(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    qs = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "p10": qs[0],
        "p90": qs[-1],
        "min": min(values),
        "max": max(values),
    }


def lookahead_stats(trajectories: list[tuple[dict[str, Any], bool]]) -> dict[str, Any] | None:
    """Q statistics from (trajectory JSON, resolved) pairs; None when no candidate carries a Q."""
    chosen: list[float] = []
    rejected: list[float] = []
    margins: list[float] = []
    series: dict[str, list[list[float]]] = {"resolved": [], "unresolved": []}
    for traj, resolved in trajectories:
        qs = []
        for step in traj.get("steps", []):
            cands = step.get("candidates") or []
            idx = step.get("chosen_index", 0)
            if not cands or idx >= len(cands) or cands[idx].get("q") is None:
                continue
            q = float(cands[idx]["q"])
            others = [
                float(c["q"])
                for j, c in enumerate(cands)
                if j != idx and c.get("q") is not None and c.get("command") is not None
            ]
            chosen.append(q)
            rejected.extend(others)
            if others:
                margins.append(q - max(others))
            qs.append(q)
        if qs:
            series["resolved" if resolved else "unresolved"].append(qs)
    if not chosen:
        return None
    by_step = {}
    drift = {}
    for group, runs in series.items():
        steps = max((len(s) for s in runs), default=0)
        by_step[group] = [
            {"step": t, "mean": statistics.fmean(vals), "count": len(vals)}
            for t in range(steps)
            if (vals := [s[t] for s in runs if len(s) > t])
        ]
        drift[group] = statistics.fmean(s[-1] - s[0] for s in runs) if runs else None
    return {
        "chosen_q": _dist(chosen),
        "rejected_q": _dist(rejected),
        "margin_mean": statistics.fmean(margins) if margins else None,
        "q_by_step": by_step,
        "q_drift": drift,
        "runs": {g: len(r) for g, r in series.items()},
        "_series": series,
        "_values": {"chosen": chosen, "rejected": rejected},
    }


# ----------------------------------------------------------------------------- the report


def build_report(out: Path, expected: int | None = None) -> dict[str, Any]:
    """The report of run folder `out` as a JSON-ready dict (see the module docstring)."""
    out = Path(out)
    records, damaged = read_records(out)  # a damaged done.json: its instance counts as unfinished
    config, bad_config = read_config(out)
    config = config or {}
    damaged += [bad_config] if bad_config else []
    finished = [records[i] for i in sorted(records)]
    errors = [r for r in finished if r.status == "error"]
    recs = [r for r in finished if r.status != "error"]  # the model's attempts: what Pass@1 is over
    attempted = len(recs)
    resolved = sum(r.resolved for r in recs)
    search = config.get("search") or {}
    strategy = search.get("strategy", "eval" if config.get("mode") == "eval" else "greedy")
    report: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "run_folder": str(out),
        "run_id": read_run_id(out),
        "strategy": strategy,
        "model": config.get("model"),
        "config": config,
        "totals": {
            "selected": expected,
            "finished": len(finished),
            "attempted": attempted,
            "infra_errors": len(errors),
            "unfinished": (
                sum(d.path.name == "done.json" for d in damaged)
                if expected is None
                else max(0, expected - len(finished))
            ),
            "resolved": resolved,
            "pass_at_1": resolved / attempted if attempted else 0.0,
            "cost": sum(r.cost for r in finished),
            "critic_cost": sum(r.critic_cost for r in finished),
            "mean_duration": statistics.fmean(r.duration for r in recs) if recs else 0.0,
            "mean_grading_time": statistics.fmean(r.grading_time for r in recs) if recs else 0.0,
        },
        "by_exit_status": dict(Counter(r.exit_status for r in recs).most_common()),
        "by_grade_status": dict(Counter(r.grade_status for r in recs).most_common()),
        "by_instance_status": dict(Counter(r.status for r in finished).most_common()),
        "by_error_kind": dict(Counter(r.error_kind or "unknown" for r in errors).most_common()),
        "usage": None,
        "selection": None,
        "lookahead": None,
        "judge": judge_stats([run for r in finished for run in r.runs]),
        "instances": [_instance_row(r) for r in finished],
    }
    if strategy in ("select", "lookahead+select") or any(len(r.runs) > 1 for r in recs):
        views = [[RunView.of(run) for run in r.runs] for r in recs]
        report["selection"] = selection_metrics(
            views, [r.chosen for r in recs], search.get("rule", "final_q")
        )
    loaded: dict[tuple[str, int], dict[str, Any]] = {}
    for r in finished:
        for run in r.runs:
            traj, bad = load_trajectory(out, run, r.instance_id)
            if traj is not None:
                loaded[(r.instance_id, run.index)] = traj
            if bad and r.status != "error":  # what Pass@1 and the Q statistics read
                damaged.append(bad)
    report["usage"] = _usage(finished, list(loaded.values()))
    trajs = [
        (loaded[key], run.resolved)
        for r in recs
        for run in r.runs
        if (key := (r.instance_id, run.index)) in loaded
    ]
    report["lookahead"] = lookahead_stats(trajs)
    report["damaged"] = [{"file": str(d.path), "problem": d.problem} for d in damaged]
    return report


def write_report(out: Path, expected: int | None = None) -> Path:
    """Write report.json, report.md and plots/ into `out`; return the report.md path."""
    out = Path(out)
    report = build_report(out, expected)
    look = report.get("lookahead") or {}
    series, values = look.pop("_series", None), look.pop("_values", None)
    report["plots"] = write_plots(out / "plots", report, series, values)
    report = scrub(report)  # the config and error messages it quotes
    write_atomic(out / "report.json", json.dumps(report, indent=1, default=str))
    md = out / "report.md"
    write_atomic(md, scrub_text(render_markdown(report)))
    return md


def pass_at_1_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric, value) rows of the headline table (printed at the end of `swe-search run`)."""
    t = report["totals"]
    rows = [
        ("strategy", str(report["strategy"])),
        ("instances attempted", str(t["attempted"])),
        ("resolved", str(t["resolved"])),
        ("Pass@1", f"{100 * t['pass_at_1']:.1f}%"),
    ]
    if t.get("infra_errors"):
        rows.append(("infra errors (not counted)", str(t["infra_errors"])))
    if t.get("unfinished"):
        rows.append(("unfinished", str(t["unfinished"])))
    sel = report.get("selection")
    if sel and sel.get("instances"):
        rows += [
            ("mean single-run Pass@1", f"{100 * sel['mean_single_run_pass_at_1']:.1f}%"),
            (f"oracle Pass@{sel['n']}", f"{100 * sel['oracle_pass_at_n']:.1f}%"),
            ("critic-selected Pass@1", f"{100 * sel['selected_pass_at_1']:.1f}%"),
            ("oracle gap closed", "n/a" if sel["gap_closed"] is None else f"{100 * sel['gap_closed']:.0f}%"),
        ]
    use = report.get("usage")
    if use and use["runs"]:
        total = use["total"]
        rows.append(
            (
                "tokens",
                f"{total['prompt_tokens']:,.0f} prompt ({total['cached_prompt_tokens']:,.0f} cached), "
                f"{total['completion_tokens']:,.0f} completion, {total['critic_tokens']:,.0f} critic",
            )
        )
    judge = report.get("judge")
    if judge:
        rows.append(("policy cost", f"${t['cost']:.2f}"))
        rows.append(("judge cost", f"${judge['cost']:.2f} ({judge['tokens']} tokens)"))
    else:
        rows.append(("cost", f"${t['cost']:.2f}"))
    return rows


def judge_stats(runs: list[RunRecord]) -> dict[str, Any] | None:
    """An LLM judge's scores, tokens and cost over `runs`, and how often it answered neither YES nor
    NO (scored 0.5); None when no judge scored anything."""
    scores = sum(r.critic_scores for r in runs)
    if not scores:
        return None
    undecided = sum(r.critic_undecided for r in runs)
    return {
        "scores": scores,
        "undecided": undecided,
        "undecided_share": undecided / scores,
        "tokens": sum(r.critic_tokens for r in runs),
        "cost": sum(r.critic_cost for r in runs),
    }


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: the headline table, counts, selection and lookahead sections, per-instance rows."""
    lines = [f"# swe-search report: {report['run_folder']}", ""]
    lines += [
        f"run id `{report['run_id']}`, model `{report['model']}`, generated {report['generated_at']}",
        "",
    ]
    lines += table(["metric", "value"], pass_at_1_rows(report)) + [""]
    lines += [
        "Pass@1 is over the attempted instances (status ok or timeout). Instances that failed for "
        "infrastructure reasons (status error: model server down, container killed, image missing, "
        "grading failed) are counted apart and never as the model's failures; rerunning the same "
        "command redoes them.",
        "",
    ]
    if report.get("damaged"):
        lines += ["## Damaged files", "", "Read back but not readable; a rerun of the same command redoes "
                  "their instances.", ""]  # fmt: skip
        lines += table(
            ["file", "problem"], [(d["file"], d["problem"].replace("|", "\\|")) for d in report["damaged"]]
        ) + [""]
    for key, title in (
        ("by_grade_status", "Grade status (chosen run)"),
        ("by_exit_status", "Exit status (chosen run)"),
        ("by_instance_status", "Instance status"),
        ("by_error_kind", "Infrastructure errors (not counted in Pass@1)"),
    ):
        if key == "by_error_kind" and not report.get(key):
            continue
        lines += [f"## {title}", ""] + table(["status", "count"], list(report.get(key, {}).items())) + [""]
    sel = report.get("selection")
    if sel and sel.get("curve"):
        lines += [
            "## Selection",
            "",
            f"Rule `{sel['rule']}`, N = {sel['n']}. Pass@1 vs n (subsets of the N runs):",
            "",
        ]
        rows = [
            (
                c["n"],
                f"{100 * c['selected']:.1f}%",
                f"{100 * c['oracle']:.1f}%",
                f"{100 * c['mean']:.1f}%",
                c["method"],
            )
            for c in sel["curve"]
        ]
        lines += table(["n", "selected", "oracle", "random run", "method"], rows) + [""]
    look = report.get("lookahead")
    if look:
        lines += ["## Lookahead Q", ""]
        rows = [
            (
                name,
                d["count"],
                *(f"{d[k]:.3f}" if d.get(k) is not None else "" for k in ("mean", "median", "p10", "p90")),
            )
            for name, d in (("chosen", look["chosen_q"]), ("rejected", look["rejected_q"]))
        ]
        lines += table(["candidates", "count", "mean", "median", "p10", "p90"], rows) + [""]
        drift = look["q_drift"]
        lines += [
            "Mean drift of the chosen Q from the first to the last step (value-hacking check: "
            "unresolved runs should not climb like resolved ones):",
            "",
        ]
        lines += table(
            ["runs", "count", "Q drift"],
            [
                (g, look["runs"][g], "" if drift[g] is None else f"{drift[g]:+.3f}")
                for g in ("resolved", "unresolved")
            ],
        )
        lines += [""]
    judge = report.get("judge")
    if judge:
        lines += ["## LLM judge", ""]
        lines += table(
            ["scores", "neither YES nor NO (scored 0.5)", "tokens", "cost"],
            [
                (
                    judge["scores"],
                    f"{judge['undecided']} ({100 * judge['undecided_share']:.1f}%)",
                    judge["tokens"],
                    f"${judge['cost']:.4f}",
                )
            ],
        )
        lines += [""]
    use = report.get("usage")
    if use and use["runs"]:
        lines += [
            f"## Cost (strategy `{report['strategy']}`)",
            "",
            "Counted per request, as billed: a request's prompt once however many samples it returned "
            "(its cached part apart), every sample's completion tokens, the critic's reported tokens.",
            "",
        ]
        rows = [(name, *usage_cells(use[name])) for name in ("total", "per_instance")]
        lines += table(["", *USAGE_HEADER], rows) + [""]
        lines += [f"Note: {n}." for n in use["notes"]] + ([""] if use["notes"] else [])
    if report.get("plots"):
        lines += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in report["plots"]] + [""]
    lines += ["## Instances", ""]
    rows = [
        (
            i["instance_id"],
            "yes" if i["resolved"] else ("infra error" if i["status"] == "error" else "no"),
            i["grade_status"],
            i["exit_status"],
            f"{i['resolved_runs']}/{i['runs']}",
            f"{i['duration']:.0f}s",
        )
        for i in report["instances"]
    ]
    lines += table(["instance", "resolved", "grade", "exit", "runs resolved", "time"], rows)
    return "\n".join(lines) + "\n"


def write_plots(
    folder: Path,
    report: dict[str, Any],
    series: dict[str, list[list[float]]] | None,
    values: dict[str, list[float]] | None,
) -> list[str]:
    """PNG plots (matplotlib, Agg); returns their paths relative to the run folder."""
    plots = Plots(folder)

    counts = report["by_grade_status"]
    if counts:
        fig, ax = plots.figure((6, 3))
        ax.bar(list(counts), list(counts.values()), color="tab:blue")
        ax.set_title(f"Grade status (Pass@1 {100 * report['totals']['pass_at_1']:.1f}%)")
        ax.set_ylabel("instances")
        plots.save(fig, "grade_status.png")
    sel = report.get("selection")
    if sel and sel.get("curve"):
        c = sel["curve"]
        ns = [p["n"] for p in c]
        fig, ax = plots.figure((6, 4))
        for key, label in (
            ("oracle", "oracle Pass@n"),
            ("selected", "critic-selected"),
            ("mean", "random run"),
        ):
            ax.plot(ns, [100 * p[key] for p in c], marker="o", label=label)
        ax.set_xlabel("n (runs to choose from)")
        ax.set_ylabel("Pass@1 (%)")
        ax.set_title("Pass@1 vs n")
        ax.legend()
        plots.save(fig, "selection_curve.png")
    if values and values["chosen"]:
        fig, ax = plots.figure((6, 4))
        bins = 20
        ax.hist(values["chosen"], bins=bins, alpha=0.6, label="chosen", density=True)
        if values["rejected"]:
            ax.hist(values["rejected"], bins=bins, alpha=0.6, label="rejected", density=True)
        ax.set_xlabel("Q")
        ax.set_title("Q of chosen vs rejected candidates")
        ax.legend()
        plots.save(fig, "q_chosen_vs_rejected.png")
    if series and any(series.values()):
        means = (report.get("lookahead") or {}).get("q_by_step", {})
        q_by_step(plots, [(series, means, "")], alpha=0.15, title="Q along the steps (value-hacking check)")
    return plots.made


# ----------------------------------------------------------------------------- helpers


def _usage(finished: list[InstanceRecord], trajectories: list[dict[str, Any]]) -> dict[str, Any]:
    """The `usage` section: totals and per-instance means over the runs' trajectories."""
    rows = [run_usage(t) for t in trajectories]
    total = {k: sum(r[k] for r in rows) for k in USAGE_KEYS}
    per_instance = {k: v / len(finished) if finished else 0.0 for k, v in total.items()}
    return {
        "runs": len(rows),
        "total": total,
        "per_instance": per_instance,
        "notes": usage_notes(trajectories),
    }


def _instance_row(r: InstanceRecord) -> dict[str, Any]:
    return {
        "instance_id": r.instance_id,
        "status": r.status,
        "resolved": r.resolved,
        "grade_status": r.grade_status,
        "exit_status": r.exit_status,
        "chosen": r.chosen,
        "runs": len(r.runs),
        "resolved_runs": sum(run.resolved for run in r.runs),
        "cost": r.cost,
        "duration": r.duration,
        "grading_time": r.grading_time,
        "error_kind": r.error_kind,
        "error": r.error,
    }
