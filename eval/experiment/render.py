"""How experiment.json reads to a person: experiment.md, the printed table and the plots.

`render_markdown(report)` and `write_plots(folder, report, plot_data)` take experiment.json's
content (eval.experiment.report); `table_header`/`table_rows` are the paper-shaped table that
`swe-search experiment` prints at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.report.markdown import table
from eval.report.plots import Plots, q_by_step
from eval.report.usage import USAGE_HEADER, usage_cells

TABLE = ("base", "lookahead", "select", "both")
"""The paper's columns."""
CONTROLS = ("lookahead_const", "select_random", "oracle_select", "oracle_both")


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


def policy_label(report: dict[str, Any]) -> str:
    """The policy; `collected -> evaluated` when the pools ran another one (the cross-policy cell)."""
    other = report.get("evaluate_policy")
    if not other:
        return report["policy"]
    knobs = ", ".join(f"{k}={v}" for k, v in sorted(other["policy"].items()) if k != "seed")
    return f"{report['policy']} -> {other['model']}" + (f" ({knobs})" if knobs else "")


def table_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    """(policy, seed, base, lookahead, select, both) rows, the paper's table (printed by the command)."""
    return [
        (policy_label(report), key, *(fmt_cell(report["results"][key]["table"][c]) for c in TABLE))
        for key in _rows(report)
    ]


GAIN_COLUMNS = {
    "lookahead_minus_base": "lookahead\n- base",
    "select_minus_base": "select\n- base",
    "control_minus_base": "control\n- base",
}
"""The gains the command prints under its table."""


def _interval(cell: dict[str, Any], signed: bool = False) -> str:
    return "" if cell["value"] is None else f"[{_pct(cell['lo'], signed)}, {_pct(cell['hi'], signed)}]"


def compact_rows(
    report: dict[str, Any], section: str, columns: Sequence[str], signed: bool = False
) -> list[tuple[str, ...]]:
    """Two rows per seed (and pooled) for a terminal: the values of `report.results[key][section]`'s
    `columns`, then their intervals on a row of their own, so that 80 columns hold the table."""
    rows: list[tuple[str, ...]] = []
    for key in _rows(report):
        cells = [report["results"][key][section][c] for c in columns]
        rows.append((key, *(_pct(c["value"], signed) for c in cells)))
        rows.append(("", *(_interval(c, signed) for c in cells)))
    return rows


def compact_header(report: dict[str, Any]) -> list[str]:
    """table_header for a terminal: each column's settings on a second line."""
    s = report["settings"]
    return [
        "seed",
        f"base\nmean of {s['repeats']}",
        f"lookahead\nK={s['k']}",
        f"select\nN={s['n']}",
        f"both\nK={s['k']} N={s['n']}",
    ]


FOLD_COLUMNS = (
    "held-out AUC (final Q)",
    "select - base",
    "lookahead - base",
    "oracle gap closed by select (%)",
)


def fold_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    """One seed's folds table: each fold, the folds pooled, and the worst fold of each figure."""

    def auc_cell(cell: dict[str, Any]) -> str:
        if cell["value"] is None:
            return "n/a"
        lo, hi = (f"{x:.3f}" if x is not None else "n/a" for x in (cell["lo"], cell["hi"]))
        return f"{cell['value']:.3f} [{lo}, {hi}]"

    def figures(auc: dict[str, Any], gains: dict[str, Any]) -> tuple[str, ...]:
        gap = gains["gap_closed"]
        return (
            auc_cell(auc),
            fmt_cell(gains["select_minus_base"], signed=True),
            fmt_cell(gains["lookahead_minus_base"], signed=True),
            "n/a" if gap["value"] is None else fmt_cell(gap),
        )

    rows = [
        (
            name,
            ", ".join(f["groups"]),
            str(len(f["heldout"])),
            *figures(f["critic"]["heldout"]["interval"], f["gains"]),
        )
        for name, f in result["folds"].items()
    ]
    rows.append(
        (
            "pooled",
            "all",
            str(sum(len(f["heldout"]) for f in result["folds"].values())),
            *figures(result["critic"]["heldout"], result["gains"]),
        )
    )
    w = result["worst"]
    worst_gains = {k: w[k] for k in ("select_minus_base", "lookahead_minus_base", "gap_closed")}
    cells = figures(w["auc"], worst_gains)
    rows.append(
        (
            "worst",
            "",
            "",
            *(
                f"{c} ({w[k]['fold']})" if w[k]["fold"] else c
                for c, k in zip(
                    cells, ("auc", "select_minus_base", "lookahead_minus_base", "gap_closed"), strict=True
                )
            ),
        )
    )
    return rows


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


def critic_table_rows(report: dict[str, Any], intervals: bool = True) -> list[tuple[str, ...]]:
    """(critic, seed, base, lookahead, select, both) rows: one per critic of `critics` and seed."""
    cell = fmt_cell if intervals else (lambda c: _pct(c["value"]))
    return [
        (critic, key, *(cell(row["table"][c]) for c in TABLE))
        for key in _rows(report)
        for critic, row in (report["results"][key].get("critics") or {}).items()
    ]


def _critic_table(report: dict[str, Any]) -> list[str]:
    """The critics side by side (when more than one is compared): base and control shared."""
    first = report["results"][_rows(report)[0]].get("critics") or {}
    if len(first) < 2:
        return []
    header = ["critic", *table_header(report)[1:]]
    return [
        "## Critics side by side",
        "",
        "One row per critic: the base and control pools are shared; each critic ran its own lookahead "
        "pool, and chose among the base pool's runs by its own final Q.",
        "",
        *table(header, critic_table_rows(report)),
        "",
    ]


def render_markdown(report: dict[str, Any]) -> str:
    """experiment.md: the table, controls, gains, goals, selection curve, critic, cost, Q, runs, plots."""
    s, sp = report["settings"], report["splits"]
    conf = f"{100 * s['confidence']:.0f}%"
    folds = sp.get("folds") or []
    if folds:
        groups = sum(len(f["groups"]) for f in folds)
        split = (
            f"{len(folds)} folds over the {groups} groups (libraries) of {len(sp['train'])} task(s) of "
            f"`{sp['train_dataset']}`: each fold's critic is trained on the other folds' M={s['m']} rollouts per "
            f"task at T={s['collect_temperature']} (collected once) and evaluated on its own tasks, "
            f"R={s['repeats']} runs per task and pool at T={s['temperature']}; every task is held out once. "
            f"Pass@1 in %, with {conf} bootstrap intervals over libraries, tasks and repeats"
        )
    else:
        split = (
            f"train: {len(sp['train'])} task(s) of `{sp['train_dataset']}` x M={s['m']} rollouts at "
            f"T={s['collect_temperature']}; held-out: {len(sp['heldout'])} task(s) of `{sp['eval_dataset']}`, "
            f"R={s['repeats']} runs per task and pool at T={s['temperature']}. Pass@1 in %, with {conf} "
            "bootstrap intervals over tasks and repeats"
        )
    lines = [
        "# swe-search experiment",
        "",
        f"Policy `{policy_label(report)}`; seeds {report['seeds']}; {split} "
        f"({s['bootstrap_samples']} resamples, seed {s['bootstrap_seed']}). Generated {report['generated_at']}.",
        "",
        "## Pass@1 on the held-out split" + (" (the folds pooled)" if folds else ""),
        "",
        *table(table_header(report), table_rows(report)),
        "",
        *_critic_table(report),
        "## Controls",
        "",
        "The constant critic (lookahead with Q = const, ties to the first sample) must equal base; select "
        "with the random rule shows what selection gets without a critic; oracle@N is the best it can get.",
        "",
    ]
    rows = [
        (key, *(fmt_cell(report["results"][key]["controls"][c]) for c in CONTROLS)) for key in _rows(report)
    ]
    lines += table(
        [
            "seed",
            f"lookahead, const:{s['constant']}",
            f"select random (N={s['n']})",
            f"oracle@{s['n']} (single runs)",
            f"oracle@{s['n']} (lookahead runs)",
        ],
        rows,
    )
    for seed in [k for k in _rows(report) if k != "pooled" and "folds" in report["results"][k]]:
        lines += [
            "",
            f"## Folds, seed {seed}",
            "",
            "Each fold's critic on its own held-out libraries; `worst` is the lowest fold of each column, "
            "the figure to read beside the pooled one.",
            "",
        ]
        lines += table(["fold", "libraries", "tasks", *FOLD_COLUMNS], fold_rows(report["results"][seed]))
        goals = report["results"][seed]["fold_goals"]
        lines += [
            "",
            *table(["goal (issue 29)", "met"], [(g["rule"], _yes(g["met"])) for g in goals.values()]),
        ]
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
    lines += table(
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
    lines += table(["goal", *[f"seed {k}" if k != "pooled" else "pooled" for k in _rows(report)]], rows)
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
        lines += table(["N", "critic", "random rule", "oracle", "mean single run", "both (critic)"], rows)
        crit = res["critic"]
        lines += ["", "### Critic", ""]
        rows = [
            ("train split, held-out instances (critic train)", *_metric_cells(crit["train"])),
            ("held-out split, base runs' final Q", *_metric_cells(crit["heldout"])),
        ]
        lines += table(["data", "n", "positives", "AUC", "Brier"], rows)
        cal = crit["heldout"].get("calibration") or []
        if cal:
            lines += ["", "Calibration of the final Q on the held-out split:", ""]
            lines += table(
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
        lines += cost_table(res["cost"])
        for critic, row in (res.get("critics") or {}).items():
            if len(res["critics"]) < 2:
                break
            lines += [
                "",
                f"Critic `{critic}`, per instance (its lookahead pool; select scores N base runs):",
                "",
            ]
            lines += table(
                ["strategy", "policy tokens", "policy cost", "critic calls", "critic tokens", "critic cost"],
                [
                    (
                        name,
                        f"{c['policy_tokens']:.0f}",
                        f"${c['cost_usd'] - c.get('critic_cost_usd', 0):.4f}",
                        f"{c['critic_calls']:.1f}",
                        f"{c.get('critic_tokens', 0):.0f}",
                        f"${c.get('critic_cost_usd', 0):.4f}",
                    )
                    for name, c in row["cost"].items()
                    if name in ("lookahead", "select", "both")
                ],
            )
        q = res["q_by_step"]
        lines += ["", "### Q along the steps (lookahead runs)", ""]
        if q:
            by = q["q_by_step"]
            steps = max((len(v) for v in by.values()), default=0)

            lines += table(
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
        lines += table(["folder", "instances", "errors", "runs", "resolved runs", "grades"], rows)
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
    from matplotlib.ticker import MaxNLocator

    plots = Plots(folder)

    keys = _rows(report)
    cols = [*TABLE, "lookahead_const", "select_random", "oracle_select"]
    fig, ax = plots.figure((8, 4))
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
    plots.save(fig, "pass_at_1.png")

    fig, ax = plots.figure((6, 4))
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
    plots.save(fig, "selection_curve.png")

    q_by_step(
        plots,
        [
            (
                data["q_series"] or {},
                (report["results"][seed]["q_by_step"] or {}).get("q_by_step") or {},
                f" (seed {seed})",
            )
            for seed, data in plot_data.items()
        ],
        alpha=0.2,
        title="Q along the steps of lookahead runs",
    )
    return plots.made


COST_NOTE = (
    "Tokens are counted per request, as billed: a step's K candidates come from one request, whose "
    "prompt counts once; N runs count their own prompts (docs/experiment.md, Cost)."
)


def cost_rows(cost: dict[str, Any]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Header and rows of the cost per instance of each strategy (eval.report.usage's columns)."""
    rows = [
        (
            name,
            f"{c['runs']:.0f}",
            f"{c['policy_calls']:.1f}",
            f"{c['policy_samples']:.1f}",
            *usage_cells(c),
            f"${c.get('critic_cost_usd', 0):.4f}",
            f"{c['critic_calls']:.1f}",
            f"{c['wall_time']:.1f}s",
        )
        for name, c in cost["per_instance"].items()
    ]
    header = ["strategy", "runs", "policy calls", "samples", *USAGE_HEADER, "of which critic"]
    return [*header, "critic calls", "wall time (runs in sequence)"], rows


def cost_table(cost: dict[str, Any]) -> list[str]:
    """The cost per instance of each strategy as markdown, with its notes."""
    lines = table(*cost_rows(cost)) + ["", COST_NOTE]
    return lines + [f"Note: {n}." for n in cost.get("notes") or []]
