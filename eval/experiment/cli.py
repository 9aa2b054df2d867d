"""The flags of `swe-search experiment` (registered in eval/cli.py) and what the command prints."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # the experiment imports the runner, swebench and docker: only when it runs
    from eval.experiment.config import ExperimentConfig
    from eval.experiment.phases import Experiment


FLAG_KEYS = {
    "out": "out",
    "model": "run.model",
    "base_url": "run.base_url",
    "workers": "run.workers",
    "seeds": "seeds",
}
"""flag dest -> ExperimentConfig key path."""

EXAMPLES = """\
examples:
  swe-search experiment                                         # configs/experiment.yaml
  swe-search experiment --out runs/exp seeds=[0,1,2] evaluate.repeats=8 collect.m=8
  swe-search experiment --model qwen72b --base-url http://gpu-box:8000/v1 \\
      train_dataset=path/to/task-repo eval_dataset=verified dataset=null split=null \\
      critic.model=Qwen/Qwen2.5-7B-Instruct critic.lr=2e-6 --workers 8

Folder: seed-<S>/{collect,train,evaluate/{base,lookahead,const}}/ (complete.json marks a finished
phase), experiment.json, experiment.md, plots/. Rerun the same command to continue after a kill.
Exit codes: 0 done, 2 bad usage / failed pre-flight check, 130 interrupted (rerun to continue).
"""


def _seeds(value: str) -> list[int]:
    try:
        return [int(v) for v in value.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes integers, e.g. 0,1,2 (got {value!r})") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EXAMPLES
    p.add_argument(
        "-c", "--config", type=Path, help="YAML experiment config (default: configs/experiment.yaml)"
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key.path=value",
        help="config overrides, e.g. collect.m=8 evaluate.k=4 critic.epochs=2 run.agent.step_limit=30",
    )
    p.add_argument("-o", "--out", type=Path, help="experiment folder (default: out in the config)")
    p.add_argument("--model", help="policy for every phase (run.model): an alias, scripted:NAME, ...")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint of the policy (run.base_url)")
    p.add_argument("-w", "--workers", type=int, help="instances at the same time (run.workers)")
    p.add_argument("--seeds", type=_seeds, help="replicates, e.g. 0,1,2 (seeds)")
    p.add_argument("--no-progress", action="store_true", help="no live progress display")


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The effective ExperimentConfig: file, then flags, then overrides."""
    from eval.experiment.config import ExperimentConfig

    return ExperimentConfig.from_args(args, FLAG_KEYS, list(args.overrides))


def prepare_experiment(args: argparse.Namespace) -> Experiment:
    from eval.experiment.phases import Experiment

    """Config, splits, policy and Docker checked; nothing started."""
    return Experiment(config_from_args(args), Console(stderr=True), progress=not args.no_progress)


def print_table(report_md: Path, console: Console) -> None:
    """The paper-shaped table of experiment.json in 80 columns (values, then their intervals on a
    row of their own), the gains the same way, and where the full report is."""
    from eval.experiment.render import (
        COST_NOTE,
        GAIN_COLUMNS,
        TABLE,
        compact_header,
        compact_rows,
        policy_label,
    )
    from eval.report.usage import usage_cells

    report = json.loads((report_md.parent / "experiment.json").read_text(encoding="utf-8"))
    confidence = f"{100 * report['settings']['confidence']:.0f}%"
    table = Table(
        title=f"swe-search experiment: held-out Pass@1 % [{confidence} interval]",
        caption=f"policy {escape(policy_label(report))}",
        box=box.SIMPLE_HEAD,
    )
    for name in compact_header(report):
        table.add_column(name, justify="right", no_wrap=True)
    for row in compact_rows(report, "table", TABLE):
        table.add_row(*row)
    console.print(table)
    gains = Table(title=f"gains, points [{confidence} interval]", box=box.SIMPLE_HEAD)
    for name in ("seed", *GAIN_COLUMNS.values()):
        gains.add_column(name, justify="right", no_wrap=True)
    for row in compact_rows(report, "gains", list(GAIN_COLUMNS), signed=True):
        gains.add_row(*row)
    console.print(gains)
    if len((report.get("config") or {}).get("critics") or []) > 1:  # one row per critic and seed
        from eval.experiment.render import critic_table_rows

        critics = Table(title="critics side by side (base and control pools shared)", box=box.SIMPLE_HEAD)
        for name in ("critic", "seed", *TABLE):
            critics.add_column(name, justify="right")
        for critic, seed, *cells in critic_table_rows(report, intervals=False):  # intervals: experiment.md
            critics.add_row(escape(critic), seed, *cells)
        console.print(critics)
    for key, res in report["results"].items():
        if not res.get("cost"):  # pooled results have none
            continue
        # the tokens part of experiment.md's cost table, narrow enough for a terminal
        costs = Table(
            title=f"seed {escape(key)}: cost per instance (tokens)", box=box.SIMPLE_HEAD, pad_edge=False
        )
        for name in (
            "strategy",
            "samples",
            "prompt\nbilled",
            "of those\ncached",
            "completion",
            "critic",
            "cost",
        ):
            costs.add_column(name, justify="right", no_wrap=True)
        for name, c in res["cost"]["per_instance"].items():
            costs.add_row(escape(name), f"{c['policy_samples']:.1f}", *usage_cells(c, share=False))
        console.print(costs)
        for line in [COST_NOTE, *(f"Note: {n}." for n in res["cost"].get("notes") or [])]:
            console.print(line, markup=False, highlight=False)
    console.print(f"report: {escape(str(report_md))}", soft_wrap=True)
    # print, not the console: the command stays one line that can be copied, however narrow the terminal
    print(f"see every decision: swe-search inspect {shlex.quote(str(report_md.parent))}")


def run_and_print(experiment: Experiment, console: Console, exit_interrupted: int) -> int:
    """Run the phases that are not complete; print the table. Exit code 0, 2 or `exit_interrupted`."""
    from eval.experiment.phases import ExperimentError

    try:
        finished = experiment.run()
    except ExperimentError as e:
        print(f"swe-search experiment: error: {e}", file=sys.stderr)
        return 2
    if not finished:
        experiment.console.print("interrupted: rerun the same command to continue where it stopped")
        return exit_interrupted
    print_table(experiment.out / "experiment.md", console)
    return 0
